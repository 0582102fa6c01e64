"""Tokenization key sources: env, key file (created on first local run), Secrets Manager (moto)."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import stat
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from jobs.pii.keys import KEY_ENV, KEY_FILE_ENV, PiiKey, PiiKeyError, key_fingerprint, load_pii_key

KEY = bytes(range(7, 39))
REPO = Path(__file__).resolve().parents[1]


def _forms(key: bytes) -> list[str]:
    """Every way the key could show up in text."""
    return [key.hex(), key.hex().upper(), base64.b64encode(key).decode(), repr(key)]


def _assert_no_key_in(text: str, key: bytes = KEY) -> None:
    for form in _forms(key):
        assert form not in text


@pytest.fixture(autouse=True)
def _capture_everything(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)


def test_env_key_in_hex_or_base64(caplog: pytest.LogCaptureFixture) -> None:
    from_hex = load_pii_key(env={KEY_ENV: KEY.hex()})
    from_b64 = load_pii_key(env={KEY_ENV: base64.b64encode(KEY).decode()})
    from_prefixed = load_pii_key(env={KEY_ENV: "base64:" + base64.b64encode(KEY).decode()})
    assert from_hex.material == from_b64.material == from_prefixed.material == KEY
    assert from_hex.key_id == hashlib.sha256(KEY).hexdigest()[:8] == key_fingerprint(KEY)
    assert from_hex.source == f"env:{KEY_ENV}"
    _assert_no_key_in(repr(from_hex) + str(from_hex) + caplog.text)


@pytest.mark.parametrize("value", ["00" * 16, "not a key!", base64.b64encode(b"x" * 31).decode()])
def test_bad_env_keys_fail_without_echoing_the_value(value: str) -> None:
    with pytest.raises(PiiKeyError) as error:
        load_pii_key(env={KEY_ENV: value})
    assert value not in str(error.value) and KEY_ENV in str(error.value)


def test_key_file_from_env_path(tmp_path: Path) -> None:
    path = tmp_path / "team.key"
    path.write_text(KEY.hex() + "\n")
    path.chmod(0o600)
    key = load_pii_key(env={KEY_FILE_ENV: str(path)})
    assert key.material == KEY and key.source == f"file:{path}"


def test_first_local_run_creates_a_private_key_file_outside_the_repo(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    created = load_pii_key(env={})
    path = tmp_path / ".config" / "lakehouse" / "pii.key"
    assert path.exists() and REPO not in path.resolve().parents
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(created.material) == 32 and created.source.endswith("(created)")
    assert str(path) in caplog.text and created.key_id in caplog.text  # said once, where it is
    again = load_pii_key(env={})
    assert again.material == created.material and again.source == f"file:{path}"
    assert caplog.text.count("created a new local PII") == 1
    _assert_no_key_in(caplog.text, created.material)


def test_never_creates_a_key_file_inside_a_git_work_tree(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    inside = tmp_path / "conf" / "pii.key"
    with pytest.raises(PiiKeyError, match="git work tree"):
        load_pii_key(env={KEY_FILE_ENV: str(inside)})
    assert not inside.exists()


def test_missing_key_on_aws_is_an_error_not_a_new_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(PiiKeyError, match="pii_key_secret_arn"):
        load_pii_key(on_aws=True, env={})
    assert not (tmp_path / ".config").exists()


@pytest.fixture
def secrets_client(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    for name, value in {"AWS_DEFAULT_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "testing",
                        "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield boto3.client("secretsmanager")


@pytest.mark.integration
@pytest.mark.parametrize("secret", [
    {"SecretString": KEY.hex()},
    {"SecretString": base64.b64encode(KEY).decode()},
    {"SecretString": json.dumps({"pii_key": KEY.hex(), "note": "rotated 2024-01"})},
    {"SecretBinary": KEY},
], ids=["hex", "base64", "json", "binary"])
def test_secrets_manager_key(secrets_client, secret: dict, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    arn = secrets_client.create_secret(Name="lakehouse/pii-key", **secret)["ARN"]
    caplog.clear()  # the test's own CreateSecret call is logged by botocore at DEBUG; reading must not be
    key = load_pii_key(arn, on_aws=True, env={KEY_ENV: "ff" * 32})  # the secret wins over env
    assert key.material == KEY and key.source == f"secretsmanager:{arn}"
    _assert_no_key_in(caplog.text + repr(key) + str(key))


@pytest.mark.integration
def test_secrets_manager_errors_name_the_secret_not_the_value(secrets_client) -> None:  # type: ignore[no-untyped-def]
    missing = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:nope-AbCdEf"
    with pytest.raises(PiiKeyError, match="nope"):
        load_pii_key(missing, on_aws=True, env={})
    short = secrets_client.create_secret(Name="short", SecretString=KEY[:16].hex())["ARN"]
    with pytest.raises(PiiKeyError, match="at least 32") as error:
        load_pii_key(short, on_aws=True, env={})
    _assert_no_key_in(str(error.value), KEY[:16])


def test_pii_key_repr_hides_material() -> None:
    key = PiiKey(KEY, source="test")
    _assert_no_key_in(repr(key) + str(key) + f"{key}")
    assert key.key_id in str(key)
