"""Where lineage events go, chosen once per job run from its configuration.

- default: one JSON file per event under the lake's `ops/lineage/events/` (local folder or S3, through
  `jobs.storage`, so it works on Glue as locally);
- `--lineage_url URL` (or `LAKEHOUSE_LINEAGE_URL`): the OpenLineage HTTP API at URL (e.g. Marquez,
  `http://marquez:5000`), with `LAKEHOUSE_LINEAGE_API_KEY` as a bearer token when set;
- `--lineage off` (or `LAKEHOUSE_LINEAGE=off`): no events.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

from openlineage.client import OpenLineageClient
from openlineage.client.serde import Serde
from openlineage.client.transport import Transport
from openlineage.client.transport.http import HttpConfig, HttpTransport

from jobs import storage
from jobs.lake import LakeLayout


class LakeFileTransport(Transport):
    """Writes each event as `<folder>/<eventTime>-<job>-<EVENTTYPE>-<runId>.json`."""

    kind = "lakehouse_file"

    def __init__(self, folder: str) -> None:
        self.folder = folder.rstrip("/")

    def emit(self, event: Any) -> None:
        stamp = re.sub(r"[^0-9]", "", event.eventTime)[:20]
        job = re.sub(r"[^A-Za-z0-9_.-]", "_", event.job.name)
        name = f"{stamp}-{job}-{event.eventType.value}-{event.run.runId}.json"
        storage.write_text(f"{self.folder}/{name}", Serde.to_json(event))


@dataclass(frozen=True)
class LineageSettings:
    enabled: bool
    url: str | None  # None: the file transport under the lake
    api_key: str | None = None

    @classmethod
    def from_args(cls, args: dict[str, Any]) -> LineageSettings:
        switch = str(args.get("lineage") or os.environ.get("LAKEHOUSE_LINEAGE") or "on").strip().lower()
        if switch not in ("on", "off"):
            raise ValueError(f"--lineage must be on or off, got {switch!r}")
        url = args.get("lineage_url") or os.environ.get("LAKEHOUSE_LINEAGE_URL") or None
        return cls(switch == "on", url, os.environ.get("LAKEHOUSE_LINEAGE_API_KEY") or None)


def events_folder(layout: LakeLayout, pipeline: str, run_date: str, run_id: str) -> str:
    return layout.lineage_events(pipeline, run_date, run_id)


def build_client(settings: LineageSettings, folder: str) -> OpenLineageClient:
    if settings.url:
        config: dict[str, Any] = {"url": settings.url, "timeout": 5}
        if settings.api_key:
            config["auth"] = {"type": "api_key", "apiKey": settings.api_key}
        return OpenLineageClient(transport=HttpTransport(HttpConfig.from_dict(config)))
    return OpenLineageClient(transport=LakeFileTransport(folder))
