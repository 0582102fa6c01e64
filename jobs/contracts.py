"""Dataset contracts: one declarative YAML file per dataset (schema, key, event time, drift, PII).

The parser is strict: a contract with a typo fails at load time with the file and field named,
not halfway through a nightly run.
"""

from __future__ import annotations

import codecs
import os
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pyspark.sql import types as T

SIMPLE_TYPES: dict[str, T.DataType] = {
    "string": T.StringType(),
    "int": T.IntegerType(),
    "long": T.LongType(),
    "double": T.DoubleType(),
    "boolean": T.BooleanType(),
    "date": T.DateType(),
    "timestamp": T.TimestampType(),
}
DECIMAL_TYPE = re.compile(r"^decimal\((\d+),\s*(\d+)\)$")
STANDARDIZERS = {"lower", "upper"}
FORMATS = {"jsonl", "csv"}
NEW_COLUMN_POLICIES = {"keep", "quarantine", "fail"}
PII_ACTIONS = {"tokenize", "mask", "generalize", "drop", "redact"}
DISCOVERY_POLICIES = {"fail", "quarantine_column", "mask_and_alert"}
UNREADABLE_FILE_POLICIES = {"quarantine", "fail"}


class ContractError(ValueError):
    """A contract file is invalid; the message names the file and the field."""


@dataclass(frozen=True)
class PiiPolicy:
    action: str
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    type_name: str
    required: bool = False
    standardize: tuple[str, ...] = ()
    pattern: str | None = None
    pii: PiiPolicy | None = None
    # `dataset.column`: the value is another dataset's key, checked against that contract's pattern.
    references: str | None = None

    @property
    def spark_type(self) -> T.DataType:
        return parse_type(self.type_name)


@dataclass(frozen=True)
class DiscoveryPolicy:
    policy: str = "mask_and_alert"
    sample_rows: int = 500
    min_score: float = 0.6
    min_fraction: float = 0.05


@dataclass(frozen=True)
class Contract:
    name: str
    format: str
    key: tuple[str, ...]
    event_time: str
    columns: tuple[ColumnSpec, ...]
    new_columns: str = "quarantine"
    description: str = ""
    discovery: DiscoveryPolicy = DiscoveryPolicy()
    quality_suite: str | None = None
    source: str = ""
    # Deduplication against silver looks for earlier versions of a key only in the partitions within
    # this many days of the incoming rows' event dates; None: in all of silver (exact, but every
    # run then reads a key column that grows with the table).
    match_window_days: int | None = None
    # Bronze reading: the text encoding of the files (a byte-order mark overrides it), and what a file
    # that cannot be read at all does to the run (quarantine: recorded and alerted, the rest promoted).
    encoding: str = "utf-8"
    on_unreadable_file: str = "quarantine"

    @property
    def identifier_columns(self) -> list[str]:
        """Keys and identifiers (the key, references to other keys, `*_id`): no control characters."""
        return [c.name for c in self.columns
                if c.name in self.key or c.references is not None or c.name.endswith("_id")]

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> ColumnSpec:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"contract {self.name!r} has no column {name!r}")

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    @property
    def typed_schema(self) -> T.StructType:
        return T.StructType([T.StructField(c.name, c.spark_type, True) for c in self.columns])


def parse_type(type_name: str) -> T.DataType:
    if type_name in SIMPLE_TYPES:
        return SIMPLE_TYPES[type_name]
    match = DECIMAL_TYPE.match(type_name)
    if match:
        return T.DecimalType(int(match.group(1)), int(match.group(2)))
    raise ValueError(f"unknown type {type_name!r} (use {', '.join(SIMPLE_TYPES)} or decimal(p,s))")


def _pii_policy(raw: Any, where: str) -> PiiPolicy | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        raw = {"action": raw}
    if not isinstance(raw, dict) or raw.get("action") not in PII_ACTIONS:
        raise ContractError(f"{where}: pii must be one of {sorted(PII_ACTIONS)} or {{action: ...}}")
    options = {k: v for k, v in raw.items() if k != "action"}
    return PiiPolicy(action=raw["action"], options=options)


def _column(raw: Any, where: str) -> ColumnSpec:
    if not isinstance(raw, dict) or "name" not in raw or "type" not in raw:
        raise ContractError(f"{where}: each column needs at least name and type")
    unknown = set(raw) - {"name", "type", "required", "standardize", "pattern", "pii", "references"}
    if unknown:
        raise ContractError(f"{where}: unknown column field(s) {sorted(unknown)}")
    try:
        parse_type(str(raw["type"]))
    except ValueError as exc:
        raise ContractError(f"{where}: {exc}") from None
    standardize = tuple(raw.get("standardize") or ())
    bad = set(standardize) - STANDARDIZERS
    if bad:
        raise ContractError(f"{where}: unknown standardize step(s) {sorted(bad)}")
    return ColumnSpec(
        name=str(raw["name"]),
        type_name=str(raw["type"]),
        required=bool(raw.get("required", False)),
        standardize=standardize,
        pattern=raw.get("pattern"),
        pii=_pii_policy(raw.get("pii"), f"{where}.pii"),
        references=_references(raw.get("references"), where),
    )


def _references(raw: Any, where: str) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, str) or not re.match(r"^[A-Za-z0-9_]+\.[A-Za-z0-9_]+$", raw):
        raise ContractError(f"{where}: references must be 'dataset.column' (got {raw!r})")
    return raw


def referenced_pattern(column: ColumnSpec, directory: Path | None = None) -> str | None:
    """The pattern of the key a column references (`references: customers.customer_id`)."""
    if column.references is None:
        return None
    dataset, name = column.references.split(".", 1)
    try:
        return load_contract(dataset, directory).column(name).pattern
    except KeyError:
        raise ContractError(f"column {column.name}: references {column.references}, which has no such column") \
            from None


def _match_window_days(raw: Any, source: str) -> int | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or set(raw) - {"match_window_days"}:
        raise ContractError(f"{source}: dedupe takes only match_window_days (a whole number of days, or null)")
    days = raw.get("match_window_days")
    if days is not None and (isinstance(days, bool) or not isinstance(days, int) or days < 0):
        raise ContractError(f"{source}: dedupe.match_window_days must be a whole number of days >= 0, or null "
                            f"for all of silver (got {days!r})")
    return days


def parse_contract(document: dict[str, Any], source: str) -> Contract:
    """Validate a parsed YAML document and build a Contract; errors name `source` and the field."""
    if not isinstance(document, dict):
        raise ContractError(f"{source}: a contract is a mapping")
    for required in ("name", "format", "key", "event_time", "columns"):
        if required not in document:
            raise ContractError(f"{source}: missing required field {required!r}")
    if document["format"] not in FORMATS:
        raise ContractError(f"{source}: format must be one of {sorted(FORMATS)}")
    columns = tuple(_column(c, f"{source}: columns[{i}]") for i, c in enumerate(document["columns"]))
    names = [c.name for c in columns]
    if len(set(names)) != len(names):
        raise ContractError(f"{source}: duplicate column names")
    key = tuple(document["key"]) if isinstance(document["key"], list) else (document["key"],)
    for name in (*key, document["event_time"]):
        if name not in names:
            raise ContractError(f"{source}: key/event_time column {name!r} is not declared in columns")
    event_type = columns[names.index(document["event_time"])].type_name
    if event_type not in ("timestamp", "date"):
        raise ContractError(f"{source}: event_time {document['event_time']!r} must be timestamp or date")
    drift = document.get("drift") or {}
    new_columns = drift.get("new_columns", "quarantine")
    if new_columns not in NEW_COLUMN_POLICIES:
        raise ContractError(f"{source}: drift.new_columns must be one of {sorted(NEW_COLUMN_POLICIES)}")
    if drift.get("type_change", "quarantine") != "quarantine":
        raise ContractError(f"{source}: drift.type_change can only be 'quarantine' (never cast to null)")
    discovery_raw = document.get("pii_discovery") or {}
    if discovery_raw.get("policy", "mask_and_alert") not in DISCOVERY_POLICIES:
        raise ContractError(f"{source}: pii_discovery.policy must be one of {sorted(DISCOVERY_POLICIES)}")
    encoding = str(document.get("encoding", "utf-8")).lower()
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise ContractError(f"{source}: unknown encoding {encoding!r}") from None
    on_unreadable = document.get("on_unreadable_file", "quarantine")
    if on_unreadable not in UNREADABLE_FILE_POLICIES:
        raise ContractError(f"{source}: on_unreadable_file must be one of {sorted(UNREADABLE_FILE_POLICIES)}")
    return Contract(
        encoding=encoding,
        on_unreadable_file=on_unreadable,
        match_window_days=_match_window_days(document.get("dedupe"), source),
        name=str(document["name"]),
        format=document["format"],
        key=key,
        event_time=document["event_time"],
        columns=columns,
        new_columns=new_columns,
        description=str(document.get("description", "")),
        discovery=DiscoveryPolicy(**discovery_raw),
        quality_suite=document.get("quality_suite"),
        source=source,
    )


def contracts_dir() -> Path:
    """Contracts ship inside the package (so the Glue wheel carries them); override for tests."""
    override = os.environ.get("LAKEHOUSE_CONTRACTS_DIR")
    if override:
        return Path(override)
    return Path(str(resources.files("contracts")))


def load_contract(name: str, directory: Path | None = None) -> Contract:
    path = (directory or contracts_dir()) / f"{name}.yaml"
    if not path.exists():
        known = ", ".join(list_datasets(directory)) or "none"
        raise ContractError(f"no contract for dataset {name!r} at {path} (known datasets: {known})")
    with path.open() as handle:
        document = yaml.safe_load(handle)
    contract = parse_contract(document, str(path))
    if contract.name != name:
        raise ContractError(f"{path}: name {contract.name!r} does not match the file name")
    return contract


def list_datasets(directory: Path | None = None) -> list[str]:
    return sorted(p.stem for p in (directory or contracts_dir()).glob("*.yaml"))


def promotion_waves(datasets: list[str], directory: Path | None = None) -> list[list[str]]:
    """The datasets in waves: each after the datasets its columns reference (`references:
    customers.customer_id`), so a referential check sees the referenced rows of the same day; the
    datasets of one wave are independent and may be promoted at once. References to datasets not
    in `datasets` are ignored; a cycle is an error naming its datasets."""
    wanted = set(datasets)
    needs = {name: {c.references.split(".", 1)[0] for c in load_contract(name, directory).columns
                    if c.references is not None} & wanted - {name} for name in datasets}
    waves: list[list[str]] = []
    done: set[str] = set()
    while len(done) < len(wanted):
        ready = sorted(name for name in wanted - done if needs[name] <= done)
        if not ready:
            stuck = ", ".join(sorted(wanted - done))
            raise ContractError(f"contracts reference each other in a cycle: {stuck} (see their `references:`)")
        waves.append(ready)
        done.update(ready)
    return waves
