"""A moto server over HTTP for tests that deploy or call AWS APIs (infra.emulator's, with its fixes)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import requests

from infra.emulator import moto_server


@contextmanager
def empty_moto_server(region: str) -> Iterator[str]:
    """The server's URL, with test credentials for `region` in the environment. moto's state is
    process-wide, so it is reset before (start empty) and after (leave nothing to the next module)."""
    with pytest.MonkeyPatch.context() as env:
        for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                            "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": region}.items():
            env.setenv(name, value)
        env.delenv("AWS_PROFILE", raising=False)
        with moto_server() as url:
            requests.post(f"{url}/moto-api/reset", timeout=30)
            yield url
            requests.post(f"{url}/moto-api/reset", timeout=30)
