"""Execution history: JSON-safe events and a compact, human-readable rendering for failures."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

_SHOWN_SUFFIXES = ("StateEntered", "StateExited", "Failed", "TimedOut", "Aborted", "Started", "Succeeded")
_HIDDEN_TYPES = {"TaskStarted", "TaskSucceeded", "MapIterationStarted", "MapIterationSucceeded"}


def json_safe_event(event: dict[str, Any]) -> dict[str, Any]:
    """A history event with datetimes as ISO-8601 strings."""
    return {key: _iso(value) for key, value in event.items()}


def _iso(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: _iso(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_iso(item) for item in value]
    return value


def _details(event: dict[str, Any]) -> dict[str, Any]:
    return next((value for key, value in event.items() if key.endswith("EventDetails")), {})


def render_history(events: Iterable[dict[str, Any]], max_cause_chars: int = 300) -> str:
    """One line per state entered/exited, failure and execution start/end, e.g.

    `#7 TaskFailed States.TaskFailed: {"JobName": ..., "ErrorMessage": ...}`
    """
    lines = []
    for event in events:
        event_type = event.get("type", "?")
        if event_type in _HIDDEN_TYPES or not event_type.endswith(_SHOWN_SUFFIXES):
            continue
        details = _details(event)
        line = f"#{event.get('id', '?')} {event_type}"
        if "name" in details:
            line += f" {details['name']}"
        if "error" in details or "cause" in details:
            cause = str(details.get("cause", ""))
            if len(cause) > max_cause_chars:
                cause = cause[:max_cause_chars] + "…"
            line += f" {details.get('error', '')}: {cause}"
        lines.append(line)
    return "\n".join(lines)
