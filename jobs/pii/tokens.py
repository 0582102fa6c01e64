"""Deterministic keyed tokens (HMAC-SHA256) as native Spark expressions, plus a Python twin.

Spark has no HMAC function, but HMAC is only two SHA-256 calls over byte strings:
    HMAC(K, m) = SHA256((K' xor opad) || SHA256((K' xor ipad) || m))
where K' is the key zero-padded to the 64-byte block (or hashed first when longer). The two padded
keys are computed here in Python and enter the plan as binary literals; `sha2`, `unhex`, `concat`
and `encode` do the rest inside the JVM, so tokenization needs no Python UDF.

The padded keys reveal the key, so `protect_plan_literals` makes Spark print them as
`*********(redacted)` in EXPLAIN output, the UI and event logs.

Values are normalised before hashing so that the same person gets the same token in every dataset
and every day (`normalize_expr` / `normalize_value` must stay twins: tests check that they agree).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable

from pyspark.sql import Column, SparkSession
from pyspark.sql import functions as F

TOKEN_PREFIX = "tok_"
TOKEN_HEX_CHARS = 32  # 128 bits of the HMAC: see docs/pii.md for the collision estimate
SHA256_BLOCK_BYTES = 64
# Each padded key is one 64-byte literal, i.e. exactly 128 hex digits in a printed plan.
PLAN_KEY_LITERAL_REGEX = "[0-9a-fA-F]{128}"
PLAN_REDACTION_CONF = "spark.sql.redaction.string.regex"

NORMALIZATIONS = ("text", "email", "phone", "digits", "exact")

# Java's \s is ASCII-only while Python's is Unicode-aware: spell the class out so both agree.
_WHITESPACE = r"[ \t\n\x0B\f\r]+"
# Phone extensions ("x123", "ext. 12") are not part of who the number identifies.
_PHONE_EXTENSION = r"[ \t]*(?:x|ext\.?|extension|#)[ \t]*[0-9]+[ \t]*$"


def padded_keys(key: bytes) -> tuple[bytes, bytes]:
    """(K' xor ipad, K' xor opad) as in RFC 2104."""
    if len(key) > SHA256_BLOCK_BYTES:
        key = hashlib.sha256(key).digest()
    block = key.ljust(SHA256_BLOCK_BYTES, b"\x00")
    inner = bytes(b ^ 0x36 for b in block)
    outer = bytes(b ^ 0x5C for b in block)
    return inner, outer


def hmac_sha256_hex(message: Column, key: bytes) -> Column:
    """HMAC-SHA256(key, UTF-8 bytes of `message`) as 64 lower-case hex chars; null stays null."""
    inner_pad, outer_pad = padded_keys(key)
    inner = F.sha2(F.concat(F.lit(inner_pad), F.encode(message, "UTF-8")), 256)
    return F.sha2(F.concat(F.lit(outer_pad), F.unhex(inner)), 256)


def normalize_expr(column: Column, normalization: str) -> Column:
    """Spark form of `normalize_value`; an empty result becomes null (no token for blank input)."""
    if normalization not in NORMALIZATIONS:
        raise ValueError(f"unknown normalization {normalization!r} (use one of {NORMALIZATIONS})")
    value = column.cast("string")
    if normalization in ("text", "email"):
        value = F.lower(F.trim(collapse_whitespace(value)))
    elif normalization == "digits":
        value = F.regexp_replace(value, r"[^0-9]", "")
    elif normalization == "phone":
        lowered = F.lower(value)
        # the extension pattern is costly; every spelling of it (x, ext, extension, #) has an x or a #
        has_extension = (F.instr(lowered, "x") > 0) | (F.instr(lowered, "#") > 0)
        without_extension = F.when(has_extension, F.regexp_replace(lowered, _PHONE_EXTENSION, "")).otherwise(lowered)
        digits = F.regexp_replace(without_extension, r"[^0-9]", "")
        value = (
            F.when((F.length(digits) == 13) & digits.startswith("001"), F.substring(digits, 4, 10))
            .when((F.length(digits) == 11) & digits.startswith("1"), F.substring(digits, 2, 10))
            .otherwise(digits)
        )
    else:  # exact
        value = F.trim(value)
    return blank_to_null(value)


def replace_characters(value: Column, characters: str, replacement: str) -> Column:
    """Each of `characters` in `value` replaced by `replacement`, with no regex: `replace` returns its
    input untouched when the character is absent, so a clean value costs one scan per character."""
    for character in characters:
        value = F.replace(value, F.lit(character), F.lit(replacement))
    return value


def collapse_whitespace(value: Column) -> Column:
    """Runs of ASCII whitespace → one space (as `_WHITESPACE` does), with a regex only where a run exists.

    Every other whitespace character is first replaced by a space (`replace` returns a value without
    it untouched, cheaply); only a value that then holds two spaces in a row needs the regex.
    """
    spaced = replace_characters(value, "\t\n\x0b\f\r", " ")
    return F.when(F.instr(spaced, "  ") > 0, F.regexp_replace(spaced, " {2,}", " ")).otherwise(spaced)


def blank_to_null(value: Column) -> Column:
    """"" -> null without CASE WHEN, in which Spark would evaluate `value` (regexes...) twice."""
    return F.get(F.array_remove(F.array(value), ""), 0)


def token_expr(column: Column, key: bytes, normalization: str = "text") -> Column:
    """`tok_` + the first 32 hex chars of HMAC-SHA256(key, normalised value); null stays null."""
    digest = hmac_sha256_hex(normalize_expr(column, normalization), key)  # null in, null out
    return F.concat(F.lit(TOKEN_PREFIX), F.substring(digest, 1, TOKEN_HEX_CHARS))


def _normalize_phone(value: str) -> str:
    digits = re.sub(r"[^0-9]", "", re.sub(_PHONE_EXTENSION, "", value.lower()))
    if len(digits) == 13 and digits.startswith("001"):
        return digits[3:]
    if len(digits) == 11 and digits.startswith("1"):
        return digits[1:]
    return digits


_PY_NORMALIZERS: dict[str, Callable[[str], str]] = {
    "text": lambda v: re.sub(_WHITESPACE, " ", v).strip(" ").lower(),
    "email": lambda v: re.sub(_WHITESPACE, " ", v).strip(" ").lower(),
    "digits": lambda v: re.sub(r"[^0-9]", "", v),
    "phone": _normalize_phone,
    "exact": lambda v: v.strip(" "),
}


def normalize_value(value: str | None, normalization: str) -> str | None:
    """Python twin of `normalize_expr` (reference for tests and for driver-side checks)."""
    if normalization not in _PY_NORMALIZERS:
        raise ValueError(f"unknown normalization {normalization!r} (use one of {NORMALIZATIONS})")
    if value is None:
        return None
    normalized = _PY_NORMALIZERS[normalization](value)
    return normalized or None


def token_value(value: str | None, key: bytes, normalization: str = "text") -> str | None:
    """Python twin of `token_expr`, built on the standard library's `hmac`."""
    normalized = normalize_value(value, normalization)
    if normalized is None:
        return None
    digest = hmac.new(key, normalized.encode("utf-8"), hashlib.sha256).hexdigest()
    return TOKEN_PREFIX + digest[:TOKEN_HEX_CHARS]


def default_normalization(column_name: str) -> str:
    """Guess the normalisation from a column name when the contract does not say `normalize:`."""
    name = column_name.lower()
    if "email" in name:
        return "email"
    if any(part in name for part in ("phone", "mobile", "fax")):
        return "phone"
    if any(part in name for part in ("ssn", "card", "iban", "account_number")):
        return "digits"
    return "text"


# Presidio entity type -> normalisation, so a value found in free text tokenizes like the
# structured column holding the same kind of value.
ENTITY_NORMALIZATION = {
    "EMAIL_ADDRESS": "email",
    "PHONE_NUMBER": "phone",
    "US_SSN": "digits",
    "CREDIT_CARD": "digits",
}


def protect_plan_literals(spark: SparkSession) -> None:
    """Make Spark redact the padded-key literals wherever it prints plans (idempotent)."""
    current = spark.conf.get(PLAN_REDACTION_CONF, None)
    if current and PLAN_KEY_LITERAL_REGEX in current:
        return
    pattern = PLAN_KEY_LITERAL_REGEX if not current else f"(?:{current})|(?:{PLAN_KEY_LITERAL_REGEX})"
    spark.conf.set(PLAN_REDACTION_CONF, pattern)
