"""Each fact stated once: silver suites take key, required and patterns from their contract, and a
suite file that restates or contradicts its contract (either side changed alone) does not load."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from jobs.contracts import list_datasets, load_contract
from jobs.ml.feature_spec import MERCHANT_CATEGORIES
from jobs.quality.suite_sources import contract_expectations, disagreements
from jobs.quality.suites import SuiteError, load_suite, parse_suite, suite_path
from pipelines.registry import REPO_ROOT


@pytest.fixture
def copies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Editable copies of the shipped contracts and suites, used by the loaders."""
    for folder in ("contracts", "expectations"):
        shutil.copytree(REPO_ROOT / folder, tmp_path / folder)
    monkeypatch.setenv("LAKEHOUSE_CONTRACTS_DIR", str(tmp_path / "contracts"))
    monkeypatch.setenv("LAKEHOUSE_EXPECTATIONS_DIR", str(tmp_path / "expectations"))
    return tmp_path


def _edit_contract(root: Path, dataset: str, column: str, **changes: object) -> None:
    path = root / "contracts" / f"{dataset}.yaml"
    document = yaml.safe_load(path.read_text())
    spec = next(c for c in document["columns"] if c["name"] == column)
    for field, value in changes.items():
        if value is None:
            spec.pop(field, None)
        else:
            spec[field] = value
    path.write_text(yaml.safe_dump(document))


def _expectation(type_name: str, severity: str, **kwargs: object) -> dict:
    return {"type": type_name, "kwargs": kwargs, "meta": {"severity": severity}}


def _add_to_suite(root: Path, dataset: str, expectation: dict) -> None:
    path = suite_path("silver", dataset, root / "expectations")
    document = json.loads(path.read_text())
    document["expectations"].append(expectation)
    path.write_text(json.dumps(document))


@pytest.mark.parametrize("dataset", list_datasets())
def test_each_contracts_suite_derives_from_it_and_agrees(dataset: str) -> None:
    contract = load_contract(dataset)
    suite = load_suite("silver", contract.quality_suite or dataset)
    document = json.loads(Path(suite.source).read_text())
    assert document["meta"]["contract"] == dataset  # the link itself cannot be dropped silently
    assert disagreements(document["expectations"], contract) == []
    derived = {(e["type"], json.dumps(e["kwargs"], sort_keys=True), e["meta"]["severity"])
               for e in contract_expectations(contract)}
    loaded = {(e.config.type, json.dumps(e.config.kwargs, sort_keys=True), e.severity) for e in suite.expectations}
    assert derived <= loaded
    key_checks = {(t, s) for t, kwargs, s in derived if json.loads(kwargs).get("column") in contract.key}
    assert {("expect_column_values_to_not_be_null", "fail"),
            ("expect_column_values_to_be_unique", "fail")} <= key_checks
    required = {c for c in contract.required_columns if c not in contract.key}
    assert {json.loads(k)["column"] for t, k, _ in derived if t.endswith("not_be_null")} - set(contract.key) == required


@pytest.mark.parametrize(("edit", "message"), [
    (lambda root: _edit_contract(root, "transactions", "merchant_id", pattern="^M[0-9]{6}$"),
     r"match_regex\(merchant_id\): restates the contract's pattern"),
    (lambda root: _edit_contract(root, "transactions", "merchant_id", pattern="^M[0-9]{8}$"),
     r"match_regex\(merchant_id\): contradicts the contract's pattern"),
    (lambda root: (root / "contracts" / "transactions.yaml").write_text(
        (root / "contracts" / "transactions.yaml").read_text().replace("name: channel,", "name: sales_channel,")),
     r"column\(s\) \['channel'\] not declared in contract 'transactions'"),
], ids=["contract-adds-a-pattern-the-suite-has", "contract-pattern-differs", "contract-renames-a-column"])
def test_a_contract_changed_alone_makes_its_suite_fail_to_load(copies: Path, edit, message: str) -> None:
    edit(copies)
    with pytest.raises(SuiteError, match=message):
        load_suite("silver", "transactions")


@pytest.mark.parametrize(("expectation", "message"), [
    (_expectation("expect_column_values_to_not_be_null", "quarantine", column="amount"),
     r"not_be_null\(amount\): not-null comes from the contract, which says required"),
    (_expectation("expect_column_values_to_not_be_null", "warn", column="ip_address"),
     r"the column is optional: declare required: true there instead"),
    (_expectation("expect_column_values_to_match_regex", "quarantine", column="transaction_id", regex="^T[0-9]+$"),
     r"contradicts the contract's pattern"),
    (_expectation("expect_column_values_to_be_unique", "fail", column="transaction_id"),
     r"uniqueness of the key \['transaction_id'\] comes from the contract"),
], ids=["restates-required", "requires-an-optional-column", "other-pattern", "restates-key"])
def test_a_suite_changed_alone_fails_to_load(copies: Path, expectation: dict, message: str) -> None:
    _add_to_suite(copies, "transactions", expectation)
    with pytest.raises(SuiteError, match=message):
        load_suite("silver", "transactions")


def test_a_contract_change_reaches_the_suite_without_editing_it(copies: Path) -> None:
    _edit_contract(copies, "transactions", "ip_address", required=True)
    labels = {e.label: e.severity for e in load_suite("silver", "transactions").expectations}
    assert labels["expect_column_values_to_not_be_null(ip_address)"] == "quarantine"


def test_a_multi_column_key_is_unique_as_a_whole() -> None:
    contract = load_contract("transactions")
    compound = contract.__class__(**{**contract.__dict__, "key": ("customer_id", "transaction_id")})
    types = [(e["type"], e["meta"]["severity"]) for e in contract_expectations(compound)]
    assert ("expect_compound_columns_to_be_unique", "fail") in types
    assert ("expect_column_values_to_be_unique", "fail") not in types


def test_vocabularies_come_by_name_and_an_unknown_name_is_refused() -> None:
    for layer, dataset in (("silver", "transactions"), ("gold", "daily_merchant_metrics")):
        in_set = load_suite(layer, dataset).expectations
        value_sets = [e.config.kwargs["value_set"] for e in in_set
                      if e.label == "expect_column_values_to_be_in_set(merchant_category)"]
        assert value_sets == [list(MERCHANT_CATEGORIES)]
    document = {"name": "silver.demo", "expectations": [{"type": "expect_column_values_to_be_in_set", "kwargs": {
        "column": "a", "value_set": {"$CONSTANT": "colours"}}, "meta": {"severity": "warn"}}]}
    with pytest.raises(SuiteError, match=r"demo.json: unknown \$CONSTANT 'colours' \(known: merchant_categories\)"):
        parse_suite(document, "silver", "demo", "demo.json")
