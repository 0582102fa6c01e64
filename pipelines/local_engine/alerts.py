"""The local alert outbox: every SNS message published to the alert topic becomes a JSON file.

The engine subscribes an SQS queue to the topic inside moto (real SNS → SQS fan-out, no patch) and
drains it after each execution into `<alert_dir>/<UTC timestamp>-<execution name>.json`.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any


def alert_record(envelope: dict[str, Any], execution_name: str, state_machine_name: str) -> dict[str, Any]:
    """The outbox record for one SNS envelope (the JSON body SNS delivers to an SQS subscriber)."""
    return {
        "subject": envelope.get("Subject"),
        "message": envelope.get("Message"),
        "topic": envelope.get("TopicArn"),
        "execution": execution_name,
        "state_machine": state_machine_name,
        "message_id": envelope.get("MessageId"),
        "published_at": envelope.get("Timestamp"),
    }


def write_alert(alert_dir: Path, record: dict[str, Any], now: dt.datetime | None = None) -> Path:
    """Write one alert file; never overwrites (a numeric suffix separates same-instant alerts)."""
    alert_dir.mkdir(parents=True, exist_ok=True)
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%dT%H%M%S%fZ")
    stem = f"{stamp}-{record['execution']}"
    path = alert_dir / f"{stem}.json"
    suffix = 1
    while path.exists():
        path = alert_dir / f"{stem}-{suffix}.json"
        suffix += 1
    path.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path
