"""OpenLineage namespaces and names for the lake's datasets.

Locally a dataset's namespace is `file://<lake root>`; on AWS it is `s3://<bucket>` of its layer. Tables
are named `layer.table` (e.g. `silver.transactions`), files by their path under the namespace, models
`models/<model name>`.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from jobs.lake import LAYERS, LakeLayout

S3_SCHEMES = ("s3://", "s3a://")


def namespace_of(root: str) -> str:
    """`s3://bucket` for a root in S3; `file://<parent folder>` for a local layer folder."""
    if root.startswith(S3_SCHEMES):
        return "s3://" + root.split("/")[2]
    return "file://" + str(PurePosixPath(root).parent)


def name_under(root: str, path: str) -> str:
    """`path` relative to the namespace `root` lives in (an S3 key, or a path under the lake root)."""
    if path.startswith(S3_SCHEMES):
        return path.split("/", 3)[3] if path.count("/") >= 3 else ""
    base = namespace_of(root).removeprefix("file://").rstrip("/") + "/"
    return path[len(base):] if path.startswith(base) else path


def table_address(layout: LakeLayout, display: str) -> tuple[str, str]:
    """(namespace, name) of a table named `layer.table`."""
    layer = display.split(".", 1)[0]
    if layer not in LAYERS:
        raise ValueError(f"table name {display!r} must start with a layer ({', '.join(LAYERS)})")
    return namespace_of(getattr(layout, layer)), display


def table_display(layout: LakeLayout, location: str) -> str:
    """`layer.table` for a table folder, from the layer root it sits under."""
    location = location.rstrip("/")
    for layer in LAYERS:
        root = getattr(layout, layer).rstrip("/")
        if location.startswith(root + "/"):  # the table's folder, even for a path inside it (a partition)
            return f"{layer}.{location[len(root) + 1:].split('/', 1)[0]}"
    raise ValueError(f"table location {location!r} is under none of the lake's layers")


def file_address(layout: LakeLayout, path: str) -> tuple[str, str]:
    """(namespace, name) of a bronze file."""
    return namespace_of(layout.bronze), name_under(layout.bronze, path)


def model_address(layout: LakeLayout, model_name: str) -> tuple[str, str]:
    return namespace_of(layout.ops), f"models/{model_name}"
