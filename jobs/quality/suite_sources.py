"""What a suite file takes from elsewhere instead of restating it.

- Its dataset contract (`"meta": {"contract": "<dataset>"}`): the key's not-null and uniqueness
  (severity fail), every other required column's not-null and every declared pattern (quarantine)
  are derived from the contract and put first in the suite. The file keeps only what the contract does
  not say (value sets, ranges, row counts, references). A file expectation that restates or
  contradicts its contract, or names a column the contract does not declare, is a `SuiteError`.
- Named vocabularies (`{"$CONSTANT": "merchant_categories"}`), taken from the module that owns them.
"""

from __future__ import annotations

from typing import Any

from jobs.contracts import Contract, load_contract
from jobs.ml.feature_spec import MERCHANT_CATEGORIES

NOT_NULL = "expect_column_values_to_not_be_null"
UNIQUE = "expect_column_values_to_be_unique"
COMPOUND_UNIQUE = "expect_compound_columns_to_be_unique"
MATCHES = "expect_column_values_to_match_regex"
# Vocabularies a suite may name; each is defined once, in the module it is imported from.
CONSTANTS: dict[str, list[str]] = {"merchant_categories": list(MERCHANT_CATEGORIES)}


def _expectation(type_name: str, kwargs: dict[str, Any], severity: str, why: str) -> dict[str, Any]:
    return {"type": type_name, "kwargs": kwargs, "meta": {"severity": severity, "why": why, "from_contract": True}}


def contract_expectations(contract: Contract) -> list[dict[str, Any]]:
    """The expectations a contract implies, in its column order (suite-file format)."""
    derived: list[dict[str, Any]] = []
    key = set(contract.key)
    for column in contract.columns:
        if column.name in key:
            derived.append(_expectation(NOT_NULL, {"column": column.name}, "fail",
                                        "the contract's key: the bronze parser quarantines null keys"))
            if len(contract.key) == 1:
                derived.append(_expectation(UNIQUE, {"column": column.name}, "fail",
                                            "silver is deduplicated on the contract's key"))
        elif column.required:
            derived.append(_expectation(NOT_NULL, {"column": column.name}, "quarantine",
                                        "required in the contract; PII steps keep nulls null"))
        if column.pattern:
            derived.append(_expectation(MATCHES, {"column": column.name, "regex": column.pattern}, "quarantine",
                                        "the contract's pattern"))
    if len(contract.key) > 1:
        derived.append(_expectation(COMPOUND_UNIQUE, {"column_list": list(contract.key)}, "fail",
                                    "silver is deduplicated on the contract's key"))
    return derived


def _columns(kwargs: dict[str, Any]) -> list[str]:
    if "column" in kwargs:
        return [kwargs["column"]]
    if "column_A" in kwargs:
        return [kwargs["column_A"], kwargs["column_B"]]
    return list(kwargs.get("column_list") or [])


def disagreements(expectations: list[Any], contract: Contract) -> list[str]:
    """Where a suite file's own expectations restate or contradict its contract (empty: they agree)."""
    found: list[str] = []
    declared = set(contract.column_names)
    for index, raw in enumerate(expectations):
        if not isinstance(raw, dict) or not isinstance(raw.get("kwargs"), dict):
            continue  # the suite parser reports a malformed expectation
        type_name, kwargs = raw.get("type"), raw["kwargs"]
        at = f"expectations[{index}] {type_name}"
        unknown = [c for c in _columns(kwargs) if c not in declared]
        if unknown:
            found.append(f"{at}: column(s) {unknown} not declared in contract {contract.name!r}")
            continue
        column = contract.column(kwargs["column"]) if "column" in kwargs else None
        if type_name == NOT_NULL and column is not None:
            said = "required: true (or is the key)" if column.required or column.name in contract.key else \
                "the column is optional: declare required: true there instead"
            found.append(f"{at}({column.name}): not-null comes from the contract, which says {said}")
        elif type_name in (UNIQUE, COMPOUND_UNIQUE) and sorted(_columns(kwargs)) == sorted(contract.key):
            found.append(f"{at}: uniqueness of the key {list(contract.key)} comes from the contract")
        elif type_name == MATCHES and column is not None and column.pattern:
            relation = "restates" if kwargs.get("regex") == column.pattern else "contradicts"
            found.append(f"{at}({column.name}): {relation} the contract's pattern {column.pattern!r}; "
                         "patterns are stated in the contract only")
    return found


def resolve_constants(value: Any, where: str) -> Any:
    """Replace every `{"$CONSTANT": name}` with the named vocabulary; an unknown name is a ValueError."""
    if isinstance(value, dict):
        if set(value) == {"$CONSTANT"}:
            name = value["$CONSTANT"]
            if name not in CONSTANTS:
                raise ValueError(f"{where}: unknown $CONSTANT {name!r} (known: {', '.join(sorted(CONSTANTS))})")
            return list(CONSTANTS[name])
        return {key: resolve_constants(item, where) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve_constants(item, where) for item in value]
    return value


def with_contract(expectations: list[Any], contract_name: str, where: str) -> list[Any]:
    """The contract's expectations followed by the file's; ValueError naming each disagreement."""
    contract = load_contract(contract_name)
    problems = disagreements(expectations, contract)
    if problems:
        raise ValueError(f"{where}: the suite disagrees with contract {contract.source}:\n  " + "\n  ".join(problems))
    return [*contract_expectations(contract), *expectations]
