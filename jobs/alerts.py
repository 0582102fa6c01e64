"""Send an alert the way the pipelines do: to the SNS alert topic when the job has one (on AWS the
state machine passes `--alert_topic_arn`), otherwise to the lake's outbox `ops/alerts/` as a JSON
file shaped like the local engine's (subject, message, topic, execution, published_at) plus details.

(`jobs.bronze_accounting.alert_unreadable_files` writes the same shape; it predates this helper.)
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from jobs.storage import write_json

SNS_SUBJECT_LIMIT = 100


def send_alert(subject: str, message: str, *, topic_arn: str | None, alerts_folder: str, run_id: str, name: str,
               details: dict[str, Any] | None = None) -> str:
    """Publish or write the alert; returns where it went (the topic ARN or the outbox file)."""
    if topic_arn:
        import boto3

        boto3.client("sns").publish(TopicArn=topic_arn, Subject=subject[:SNS_SUBJECT_LIMIT], Message=message)
        return topic_arn
    now = datetime.now(UTC)
    path = f"{alerts_folder.rstrip('/')}/{now:%Y%m%dT%H%M%S%fZ}-{run_id}-{name}.json"
    write_json(path, {"subject": subject, "message": message, "topic": None, "execution": run_id,
                      "state_machine": None, "message_id": None, "published_at": now.isoformat(),
                      **({"details": details} if details else {})})
    return path
