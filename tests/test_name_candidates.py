"""The NER pre-check: which sentences of a text could hold a name (jobs/pii/name_candidates.py)."""

from __future__ import annotations

from jobs.pii.name_candidates import name_candidate_ranges, sentence_ranges


def pieces(text: str) -> list[str]:
    return [text[start:end] for start, end in name_candidate_ranges(text)]


def test_sentences_without_a_capitalised_content_word_are_skipped() -> None:
    text = ("The mobile app keeps logging me out. I was charged twice for the same order last week. "
            "Please explain why my payment is still pending.")
    assert pieces(text) == []


def test_a_name_anywhere_in_a_sentence_sends_that_sentence_only() -> None:
    text = "My card was declined twice. I already spoke with your agent Laura Clark, who promised a callback."
    assert pieces(text) == ["I already spoke with your agent Laura Clark, who promised a callback."]


def test_a_name_as_first_word_counts_unless_it_is_a_stop_word() -> None:
    assert pieces("Alice called twice.") == ["Alice called twice."]
    assert pieces("Could you raise my limit?") == []


def test_a_short_sentence_with_a_name_is_read_with_the_sentence_before() -> None:
    text = "The card ends with 9255. Elijah Schmidt, 1-322-522-2278"
    assert pieces(text) == [text]


def test_a_capitalised_first_word_alone_does_not_pull_in_context() -> None:
    text = "The refund has not arrived. Thanks."
    assert pieces(text) == ["Thanks."]


def test_lines_are_sentences_and_offsets_are_the_texts() -> None:
    text = "Hi,\nMy partner Ann Lee uses this account.\n\nRegards"
    ranges = list(sentence_ranges(text))
    assert [text[s:e] for s, e in ranges] == ["Hi,", "My partner Ann Lee uses this account.", "Regards"]
    assert pieces(text) == ["Hi,", "My partner Ann Lee uses this account.", "Regards"]


def test_empty_and_blank_texts_have_no_candidates() -> None:
    assert pieces("") == []
    assert pieces("  \n ") == []
