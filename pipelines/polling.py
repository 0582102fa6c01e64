"""Waiting for something another process does: one loop with a timeout, an interval that may back
off, and an error that names what was waited for and how it last looked.

Where AWS publishes a waiter for the call (CloudFormation change sets and stacks), prefer botocore's
(`client.get_waiter(...)`, see `infra/changeset.py`); Step Functions has none, and the local engine
waits for moto's interpreter thread, so those use `wait_until`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class WaitTimeout(TimeoutError):
    """`what` was not done after `seconds`; `last` is the last value the probe returned."""

    def __init__(self, what: str, seconds: float, last: object, last_text: str):
        super().__init__(f"{what}: still {last_text} after {seconds:g} s")
        self.what = what
        self.seconds = seconds
        self.last = last


def wait_until(probe: Callable[[], T], done: Callable[[T], bool], *, what: str,
               timeout_seconds: float | None, interval_seconds: float, backoff: float = 1.0,
               max_interval_seconds: float | None = None, describe: Callable[[T], str] = repr,
               sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic) -> T:
    """Call `probe` until `done(value)`; return that value.

    The first call is immediate; after each miss it sleeps `interval_seconds`, multiplied by `backoff`
    after every sleep up to `max_interval_seconds`. With `timeout_seconds=None` it waits for as long as
    it takes; otherwise it raises `WaitTimeout` (naming `what` and `describe(last value)`) once the
    timeout has passed. Errors from `probe` propagate unchanged.
    """
    if interval_seconds <= 0 or backoff < 1:
        raise ValueError(f"waiting for {what}: interval_seconds must be > 0 and backoff >= 1 "
                         f"(got {interval_seconds}, {backoff})")
    started = clock()
    interval = interval_seconds
    while True:
        value = probe()
        if done(value):
            return value
        if timeout_seconds is not None and clock() - started > timeout_seconds:
            raise WaitTimeout(what, timeout_seconds, value, describe(value))
        sleep(interval)
        interval = interval * backoff
        if max_interval_seconds is not None:
            interval = min(interval, max_interval_seconds)
