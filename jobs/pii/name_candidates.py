"""Which parts of a text could hold a person's name: the cheap pre-check before spaCy's NER.

The NER model's cost grows with the tokens it reads, and most of a support ticket is sentences
like "My card was declined twice at the checkout today." that cannot hold a name: the small
English model finds PERSON entities from capitalised words, and such a sentence has none but its
first word, which is a common function word. So a text is cut into sentences (and lines), and a
sentence goes to the NER only when it has a capitalised word that is not a stop word ("The app
crashed." does not go; "Alice called twice." does), a short one together with the sentence before
it. Everything else
(pattern recognizers, context words) still sees the whole text.

What this costs in recall is measured on the generator's labelled tickets (tests/test_pii_redaction.py,
docs/pii.md), and what it saves by `make bench` (redaction texts/s per core).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from functools import lru_cache

# A sentence ends at ., ! or ? followed by white space, or at a line break.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
# Words made of letters (apostrophes and hyphens inside: O'Brien, Anne-Marie).
_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")
# A candidate sentence of fewer words is read with the sentence before it (see name_candidate_ranges).
SHORT_SENTENCE_WORDS = 6


@lru_cache(maxsize=1)
def english_stop_words() -> frozenset[str]:
    """spaCy's English stop words (function words: "the", "my", "please", "could", ...)."""
    from spacy.lang.en.stop_words import STOP_WORDS

    return frozenset(STOP_WORDS)


def capitalised_words(sentence: str, stop_words: Collection[str]) -> list[int]:
    """Positions of the sentence's capitalised words that are not stop words ("I", "The" and
    "Please" are stop words; "Alice" and "Thanks" are not)."""
    return [i for i, word in enumerate(_WORD.findall(sentence)) if word[0].isupper() and word.lower() not in stop_words]


def may_hold_a_name(sentence: str, stop_words: Collection[str]) -> bool:
    return bool(capitalised_words(sentence, stop_words))


def sentence_ranges(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) character ranges of the text's sentences and lines, white space trimmed."""
    start = 0
    for boundary in _SENTENCE_END.finditer(text):
        if boundary.start() > start:
            yield start, boundary.start()
        start = boundary.end()
    if start < len(text):
        yield start, len(text)


def name_candidate_ranges(text: str, stop_words: Collection[str] | None = None) -> list[tuple[int, int]]:
    """The (start, end) ranges of `text` the NER must read; [] when no part of it could hold a name."""
    words = english_stop_words() if stop_words is None else stop_words
    sentences = list(sentence_ranges(text))
    ranges: list[tuple[int, int]] = []
    for index, (start, end) in enumerate(sentences):
        sentence = text[start:end]
        capitalised = capitalised_words(sentence, words)
        if not capitalised:
            continue
        if index and capitalised[-1] > 0 and len(_WORD.findall(sentence)) < SHORT_SENTENCE_WORDS:
            # Too short to read alone ("Elijah Schmidt, 555-0100"): the sentence before gives context.
            # Not for a capitalised first word alone ("Thanks.", "Regards"): that is orthography.
            start = sentences[index - 1][0]
        if ranges and start < ranges[-1][1]:
            ranges[-1] = (ranges[-1][0], end)
        else:
            ranges.append((start, end))
    return ranges
