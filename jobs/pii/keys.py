"""The tokenization key: loaded from configuration, never from code, never logged.

Sources, first match wins:
1. AWS Secrets Manager, when a secret ARN is given (`--pii_key_secret_arn`): SecretBinary holds the
   raw key; SecretString holds it as hex or base64, or a JSON object with a `pii_key` field.
2. Environment variable `LAKEHOUSE_PII_KEY` (hex or base64).
3. Key file `LAKEHOUSE_PII_KEY_FILE` (default `~/.config/lakehouse/pii.key`, outside any repo).
4. Locally only: create that key file (mode 0600) with 32 random bytes and say once where it is.
   On AWS (`on_aws=True`) nothing is generated: a missing key is an error, because a fresh random
   key would silently give every customer new tokens.

Only `key_id` (first 8 hex chars of SHA-256 of the key) is safe to log or write to a manifest.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import os
import re
import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LOGGER = logging.getLogger(__name__)

MIN_KEY_BYTES = 32
GENERATED_KEY_BYTES = 32
KEY_ENV = "LAKEHOUSE_PII_KEY"
KEY_FILE_ENV = "LAKEHOUSE_PII_KEY_FILE"
DEFAULT_KEY_FILE = "~/.config/lakehouse/pii.key"
SECRET_JSON_FIELD = "pii_key"
_HEX = re.compile(r"^[0-9a-fA-F]+$")


class PiiKeyError(RuntimeError):
    """No usable key; the message says where to put one and never contains key material."""


@dataclass(frozen=True)
class PiiKey:
    """Key material plus where it came from; `repr` and `str` never show the material."""

    material: bytes = field(repr=False)
    source: str

    @property
    def key_id(self) -> str:
        return key_fingerprint(self.material)

    def __str__(self) -> str:
        return f"PiiKey(key_id={self.key_id}, source={self.source})"


def key_fingerprint(key: bytes) -> str:
    """First 8 hex chars of SHA-256(key): identifies the key in manifests without revealing it."""
    return hashlib.sha256(key).hexdigest()[:8]


def decode_key_text(text: str, where: str) -> bytes:
    """Hex first (an even-length all-hex string), then base64; errors name `where`, not the value."""
    cleaned = "".join(text.split())
    if cleaned.lower().startswith("hex:"):
        cleaned, forced = cleaned[4:], "hex"
    elif cleaned.lower().startswith("base64:"):
        cleaned, forced = cleaned[7:], "base64"
    else:
        forced = ""
    key: bytes | None = None
    if forced != "base64" and _HEX.match(cleaned) and len(cleaned) % 2 == 0:
        key = bytes.fromhex(cleaned)
    elif forced != "hex":
        try:
            key = base64.b64decode(cleaned, validate=True)
        except (binascii.Error, ValueError):
            key = None
    if key is None:
        raise PiiKeyError(f"the PII key in {where} is neither hex nor base64")
    return _checked(key, where)


def _checked(key: bytes, where: str) -> bytes:
    if len(key) < MIN_KEY_BYTES:
        raise PiiKeyError(
            f"the PII key in {where} has {len(key)} bytes; at least {MIN_KEY_BYTES} are required "
            f"(make one with: python -c 'import secrets; print(secrets.token_hex(32))')")
    return key


# botocore logs whole response bodies at DEBUG ("Response body: {... SecretString ...}").
_WIRE_LOGGERS = ("botocore", "botocore.parsers", "botocore.endpoint", "urllib3", "urllib3.connectionpool")


@contextmanager
def _wire_logs_silenced() -> Iterator[None]:
    """Keep AWS SDK wire logging (which would print the secret) off while the secret is read."""
    loggers = [logging.getLogger(name) for name in _WIRE_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(max(logger.getEffectiveLevel(), logging.INFO))
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def key_from_secret(secret_arn: str, client: Any | None = None) -> bytes:
    """Read the key from Secrets Manager (`GetSecretValue`)."""
    if client is None:
        import boto3

        client = boto3.client("secretsmanager")
    where = f"secret {secret_arn}"
    try:
        with _wire_logs_silenced():
            response = client.get_secret_value(SecretId=secret_arn)
    except Exception as exc:  # botocore's ClientError and friends; their text holds no key
        raise PiiKeyError(f"cannot read the PII key from {where}: {exc}") from None
    if response.get("SecretBinary") is not None:
        return _checked(bytes(response["SecretBinary"]), where)
    text = response.get("SecretString") or ""
    if text.lstrip().startswith("{"):
        try:
            document = json.loads(text)
        except json.JSONDecodeError:
            raise PiiKeyError(f"{where} looks like JSON but does not parse") from None
        if not isinstance(document, dict) or not isinstance(document.get(SECRET_JSON_FIELD), str):
            raise PiiKeyError(f"{where} is a JSON secret without a string field {SECRET_JSON_FIELD!r}")
        text = document[SECRET_JSON_FIELD]
    return decode_key_text(text, where)


def key_file_path(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    return Path(env.get(KEY_FILE_ENV) or DEFAULT_KEY_FILE).expanduser()


def _inside_git_work_tree(path: Path) -> Path | None:
    for parent in path.resolve().parents:
        if (parent / ".git").exists():
            return parent
    return None


def _read_key_file(path: Path) -> bytes:
    if path.stat().st_mode & 0o077:
        LOGGER.warning("PII key file %s is readable by group/others; chmod 600 it", path)
    return decode_key_text(path.read_text(), f"key file {path}")


def _create_key_file(path: Path) -> bytes:
    repo = _inside_git_work_tree(path)
    if repo is not None:
        raise PiiKeyError(
            f"refusing to create the PII key file {path} inside the git work tree {repo}; "
            f"point {KEY_FILE_ENV} outside the repository")
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = secrets.token_bytes(GENERATED_KEY_BYTES)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first: use theirs
        return _read_key_file(path)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(key.hex() + "\n")
    LOGGER.warning(
        "created a new local PII tokenization key at %s (key id %s); keep it: tokens change with it",
        path, key_fingerprint(key))
    return key


def load_pii_key(secret_arn: str | None = None, *, on_aws: bool = False,
                 env: Mapping[str, str] | None = None, secrets_client: Any | None = None) -> PiiKey:
    """Find the tokenization key (see the module docstring for the order)."""
    env = os.environ if env is None else env
    if secret_arn:
        return PiiKey(key_from_secret(secret_arn, secrets_client), source=f"secretsmanager:{secret_arn}")
    if env.get(KEY_ENV):
        return PiiKey(decode_key_text(env[KEY_ENV], f"${KEY_ENV}"), source=f"env:{KEY_ENV}")
    path = key_file_path(env)
    if path.exists():
        return PiiKey(_read_key_file(path), source=f"file:{path}")
    if on_aws:
        raise PiiKeyError(
            "no PII tokenization key on AWS: pass --pii_key_secret_arn (a Secrets Manager secret "
            f"holding at least {MIN_KEY_BYTES} bytes, hex or base64) or set {KEY_ENV}; "
            "a key is never generated on AWS")
    return PiiKey(_create_key_file(path), source=f"file:{path} (created)")
