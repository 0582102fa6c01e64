"""Presidio recognizers tuned for the formats this lake actually receives.

Presidio's defaults miss real data (measured on Faker, see docs/pii.md):
- its credit-card regex only knows prefixes 1/3/4/5[0-5]/6 and at most 16-ish digits, so it misses
  19-digit Visa/Maestro and 2-series Mastercard (2221-2720);
- its phone recognizer scores 0.4 without a context word ("phone", "call"...), below any useful
  threshold, and python-phonenumbers rejects numbers with unassigned area codes;
- its SSN patterns give 0.5 to `123-45-6789` and 0.05 to a bare 9-digit run;
- its e-mail validation asks tldextract, which tries to download the public-suffix list first.
The recognizers below replace those four; PERSON comes from spaCy NER, IP_ADDRESS from Presidio.
"""

from __future__ import annotations

import re
from functools import lru_cache

import regex
from presidio_analyzer import EntityRecognizer, LocalRecognizer, Pattern, PatternRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts
from presidio_analyzer.predefined_recognizers import EmailRecognizer, SpacyRecognizer

# --------------------------------------------------------------------------------------------- cards
_CARD_PATTERNS = [
    # contiguous digits: 12 (Maestro) to 19 (Visa/Maestro/UnionPay)
    Pattern("card contiguous", r"(?<![\d.,])\d{12,19}(?![\d.,]\d)", 0.5),
    # groups of four separated by one space or dash: 4-4-4 (12), 4-4-4-1..4 and 4-4-4-4-1..3 (19)
    Pattern("card 4-4-4-4", r"(?<![\d.,])\d{4}([ \-])\d{4}\1\d{4}(?:\1\d{1,4}(?:\1\d{1,3})?)?(?![\d.,]\d)",
            0.5),
    # Amex 4-6-5 and Diners 4-6-4
    Pattern("card 4-6-4/5", r"(?<![\d.,])\d{4}([ \-])\d{6}\1\d{4,5}(?![\d.,]\d)", 0.5),
]

# Issuer prefixes (IIN ranges) accepted with their card lengths.
_ISSUER_RANGES: list[tuple[str, str, tuple[int, int]]] = [
    # (name, regex on the digits, (min length, max length))
    ("visa", r"4", (13, 19)),
    ("mastercard", r"5[1-5]|222[1-9]|22[3-9]\d|2[3-6]\d\d|27[01]\d|2720", (16, 16)),
    ("amex", r"3[47]", (15, 15)),
    ("diners", r"30[0-5]|3095|36|3[89]", (14, 19)),
    # JCB is 3528-3589, but test generators (and typos) use all of 35xx: over-redacting is cheaper
    ("jcb", r"35|2131|1800", (15, 19)),
    ("discover", r"6011|64[4-9]|65|622", (16, 19)),
    ("unionpay", r"62", (16, 19)),
    ("maestro", r"5[06-9]|6\d", (12, 19)),
]
_ISSUER_REGEX = [(re.compile(f"^(?:{prefix})"), lengths) for _, prefix, lengths in _ISSUER_RANGES]


def luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def looks_like_card(digits: str) -> bool:
    """A known issuer prefix with a length that issuer uses, and a valid Luhn check digit."""
    if not digits.isdigit():
        return False
    issuer_ok = any(regex.match(digits) and low <= len(digits) <= high
                    for regex, (low, high) in _ISSUER_REGEX)
    return issuer_ok and luhn_valid(digits)


class TunedCardRecognizer(PatternRecognizer):
    """12-19 digit card numbers, contiguous or grouped with spaces/dashes, issuer + Luhn checked."""

    def __init__(self) -> None:
        super().__init__(supported_entity="CREDIT_CARD", patterns=_CARD_PATTERNS, name="TunedCardRecognizer",
                         context=["card", "credit", "debit", "visa", "mastercard", "amex"])

    def validate_result(self, pattern_text: str) -> bool:
        return looks_like_card(re.sub(r"[ \-]", "", pattern_text))


# -------------------------------------------------------------------------------------------- phones
_NANP_PREFIX = r"(?:(?:\+|00)?1[ .\-]?|001[ .\-]?)?"
_EXTENSION = r"(?:[ ]?(?:x|ext\.?|extension)[ ]?\d{1,6})?"
_NANP_BODY = r"(?:\(\d{3}\)[ ]?\d{3}[ .\-]?|\d{3}([ .\-])\d{3}\1)\d{4}"
_PHONE_PATTERNS = [
    # (555) 123-4567, (555)123-4567, 555-123-4567, 555.123.4567, 555 123 4567, with +1/1/001 and x123
    Pattern("NANP formatted",
            rf"(?<![\w+]){_NANP_PREFIX}{_NANP_BODY}{_EXTENSION}(?!\w)",
            0.7),
    # +1-555-123-4567 / +1 555 123 4567 where the separator after +1 differs from the inner ones
    Pattern("NANP +1", rf"(?<![\w+])\+1[ .\-]?\d{{3}}[ .\-]?\d{{3}}[ .\-]?\d{{4}}{_EXTENSION}(?!\w)", 0.7),
    # a bare 10-digit run only when area code and exchange both start with 2-9 (NANP rules)
    Pattern("NANP bare", rf"(?<![\w+.,])[2-9]\d\d[2-9]\d{{6}}{_EXTENSION}(?![\w]|[.,]\d)", 0.5),
]


class NanpPhoneRecognizer(PatternRecognizer):
    """North-American numbers in the shapes people type, without needing a context word."""

    def __init__(self) -> None:
        super().__init__(supported_entity="PHONE_NUMBER", patterns=_PHONE_PATTERNS, name="NanpPhoneRecognizer",
                         context=["phone", "call", "mobile", "cell", "tel", "number", "reach"])


class IntlPhoneRecognizer(LocalRecognizer):
    """Numbers written in international form (`+44 20 7946 0958`), validated by python-phonenumbers.

    Only runs when the text contains a '+', which keeps the (slow) matcher off most texts; national
    formats of non-NANP countries (`020 7946 0958`) are not detected without a context word.
    """

    SCORE = 0.6

    def __init__(self) -> None:
        super().__init__(supported_entities=["PHONE_NUMBER"], name="IntlPhoneRecognizer")

    def load(self) -> None:
        return None

    def analyze(self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
                ) -> list[RecognizerResult]:
        if "+" not in text:
            return []
        import phonenumbers

        results = []
        for match in phonenumbers.PhoneNumberMatcher(text, "US", leniency=phonenumbers.Leniency.VALID):
            if match.raw_string.startswith("+"):
                results.append(RecognizerResult("PHONE_NUMBER", match.start, match.end, self.SCORE))
        return results


# ---------------------------------------------------------------------------------------------- SSNs
_SSN_PATTERNS = [
    Pattern("SSN separated", r"(?<![\w\-])\d{3}([ \-.])\d{2}\1\d{4}(?![\w]|-\d)", 0.6),
    # a bare 9-digit run is only an SSN next to a context word ("ssn", "social security")
    Pattern("SSN bare", r"(?<![\w\-])\d{9}(?![\w]|-\d)", 0.2),
]


class TunedSsnRecognizer(PatternRecognizer):
    """US SSNs (and ITINs) with dashes, spaces or dots; a bare 9-digit run needs context."""

    def __init__(self) -> None:
        super().__init__(supported_entity="US_SSN", patterns=_SSN_PATTERNS, name="TunedSsnRecognizer",
                         context=["ssn", "social", "security", "taxpayer", "itin"])

    def invalidate_result(self, pattern_text: str) -> bool:
        digits = re.sub(r"\D", "", pattern_text)
        return (len(set(digits)) == 1 or digits[:3] in ("000", "666")
                or digits[3:5] == "00" or digits[5:] == "0000")


# -------------------------------------------------------------------------------------------- emails
@lru_cache(maxsize=1)
def _offline_tld_extractor():  # type: ignore[no-untyped-def]
    import tldextract

    # The snapshot bundled with tldextract; no download, no disk cache.
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True)


class OfflineEmailRecognizer(EmailRecognizer):
    """Presidio's e-mail regex, validated against the bundled public-suffix snapshot (no network)."""

    def __init__(self) -> None:
        super().__init__(name="OfflineEmailRecognizer")

    def validate_result(self, pattern_text: str) -> bool:
        return _offline_tld_extractor()(pattern_text).fqdn != ""


def pattern_recognizers() -> list[EntityRecognizer]:
    """Every recognizer that needs no NLP model (what discovery uses)."""
    from presidio_analyzer.predefined_recognizers import IpRecognizer

    return [TunedCardRecognizer(), NanpPhoneRecognizer(), IntlPhoneRecognizer(), TunedSsnRecognizer(),
            OfflineEmailRecognizer(), IpRecognizer()]


# -------------------------------------------------------------------------------------------- people
class NerPersonRecognizer(SpacyRecognizer):
    """spaCy PERSON entities, minus spans holding digits: the small model calls ids such as
    `M283583` or `Order 44859920` names, and real names never contain digits."""

    def __init__(self) -> None:
        super().__init__(supported_entities=["PERSON"], name="NerPersonRecognizer")

    def analyze(self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
                ) -> list[RecognizerResult]:
        found = super().analyze(text, entities, nlp_artifacts)
        return [r for r in found if not any(char.isdigit() for char in text[r.start:r.end])]


# A capitalised name word: Smith, McDonald, O'Neil, Smith-Jones, Zoë.
_NAME_WORD = "\\p{Lu}[\\p{L}'\u2019\\-]*\\p{Ll}"
_FULL_NAME = rf"{_NAME_WORD}(?:[ ](?:\p{{Lu}}\.|{_NAME_WORD})){{1,2}}"
# Words that introduce or sign with a person's name in support messages (case-insensitive).
_NAME_CUES = (r"my name is|name is|this is|i am|i'm|thanks|thank you|regards|best regards|kind regards|"
              r"cheers|sincerely|dear|hi|hello|mr|mrs|ms|miss|dr|husband|wife|son|daughter|partner|"
              r"spoke to|spoke with|talked to|agent|signed|name|customer|from:|to:|cc:")
# ("from" alone is not a cue: "calling from New York" would lose its city)
_CUED_NAME_PATTERNS = [
    # `(?=\p{Lu})` first: the (variable-length) look-behind only runs where a capital letter is.
    Pattern("name after a cue", rf"(?=\p{{Lu}})(?<=(?i:\b(?:{_NAME_CUES}))[.,:]?[ ]+){_FULL_NAME}\b", 0.6),
    Pattern("name signing off", rf"(?=\p{{Lu}})(?<=(?:^|[.!?\n])[ ]*(?:-{{1,2}}|—)[ ]*){_FULL_NAME}\b", 0.6),
    Pattern("name here", rf"{_FULL_NAME}(?=[ ]+(?i:here)\b)", 0.6),
]


class CuedNameRecognizer(PatternRecognizer):
    """Full names right after an introduction, greeting, sign-off or honorific ("Thanks, Jodi Hicks").

    Backs up the small spaCy model, which misses names at the end of a message; case matters here,
    so the pattern is compiled without Presidio's default IGNORECASE.
    """

    def __init__(self) -> None:
        super().__init__(supported_entity="PERSON", patterns=_CUED_NAME_PATTERNS, name="CuedNameRecognizer",
                         global_regex_flags=regex.DOTALL | regex.MULTILINE)
