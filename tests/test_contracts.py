from pathlib import Path

import pytest
from pyspark.sql import types as T

from jobs.contracts import ContractError, list_datasets, load_contract, parse_contract

ISSUE_FIELDS = {
    "customers": "customer_id, first_name, last_name, email, phone, ssn, date_of_birth, street, city, state, "
                 "postal_code, country, segment, created_at, updated_at",
    "transactions": "transaction_id, customer_id, card_number, amount, currency, merchant_id, merchant_category, "
                    "event_time, channel, ip_address, is_fraud",
    "support_tickets": "ticket_id, customer_id, created_at, channel, subject, body",
}


def minimal(**overrides):
    doc = {"name": "d", "format": "jsonl", "key": ["id"], "event_time": "ts",
           "columns": [{"name": "id", "type": "string"}, {"name": "ts", "type": "timestamp"}]}
    doc.update(overrides)
    return doc


@pytest.mark.parametrize("dataset", sorted(ISSUE_FIELDS))
def test_shipped_contracts_keep_the_agreed_field_names(dataset):
    contract = load_contract(dataset)
    assert contract.column_names == [f.strip() for f in ISSUE_FIELDS[dataset].split(",")]
    assert set(contract.key) <= set(contract.column_names)


def test_shipped_contracts_are_discovered():
    assert list_datasets() == sorted(ISSUE_FIELDS)


def test_types_are_parsed_to_spark_types():
    contract = load_contract("transactions")
    schema = {f.name: f.dataType for f in contract.typed_schema.fields}
    assert schema["amount"] == T.DecimalType(12, 2)
    assert schema["event_time"] == T.TimestampType()
    assert schema["is_fraud"] == T.BooleanType()


@pytest.mark.parametrize(("change", "message"), [
    ({"format": "xml"}, "format must be one of"),
    ({"key": ["nope"]}, "'nope' is not declared"),
    ({"event_time": "id"}, "must be timestamp or date"),
    ({"columns": [{"name": "id", "type": "strng"}, {"name": "ts", "type": "timestamp"}]}, "unknown type 'strng'"),
    ({"columns": [{"name": "id", "type": "string", "requird": True},
                  {"name": "ts", "type": "timestamp"}]}, "unknown column field(s) ['requird']"),
    ({"drift": {"new_columns": "maybe"}}, "drift.new_columns"),
    ({"drift": {"type_change": "cast_to_null"}}, "never cast to null"),
    ({"columns": [{"name": "id", "type": "string", "pii": "encrypt"},
                  {"name": "ts", "type": "timestamp"}]}, "pii must be one of"),
    ({"dedupe": {"match_window_days": -1}}, "dedupe.match_window_days must be a whole number"),
    ({"dedupe": {"match_window_days": True}}, "dedupe.match_window_days must be a whole number"),
    ({"dedupe": {"match_window_days": "7"}}, "dedupe.match_window_days must be a whole number"),
    ({"dedupe": {"window": 7}}, "dedupe takes only match_window_days"),
])
def test_invalid_contracts_fail_naming_file_and_field(change, message):
    with pytest.raises(ContractError) as error:
        parse_contract(minimal(**change), "contracts/d.yaml")
    assert "contracts/d.yaml" in str(error.value)
    assert message in str(error.value)


def test_missing_contract_names_the_known_datasets(tmp_path: Path):
    (tmp_path / "a.yaml").write_text("name: a\n")
    with pytest.raises(ContractError, match="known datasets: a"):
        load_contract("b", tmp_path)


def test_the_dedupe_match_window_defaults_to_all_of_silver():
    assert parse_contract(minimal(), "d.yaml").match_window_days is None
    assert parse_contract(minimal(dedupe={"match_window_days": 0}), "d.yaml").match_window_days == 0
    assert load_contract("customers").match_window_days is None  # updated_at moves: any partition
    assert load_contract("transactions").match_window_days == 3


def test_promotion_waves_put_referenced_datasets_first() -> None:
    from jobs.contracts import promotion_waves

    assert promotion_waves(list_datasets()) == [["customers"], ["support_tickets", "transactions"]]
    # a referenced dataset outside the run does not hold the others back
    assert promotion_waves(["transactions", "support_tickets"]) == [["support_tickets", "transactions"]]


def test_promotion_waves_refuse_a_reference_cycle(tmp_path: Path) -> None:
    import shutil

    from jobs.contracts import contracts_dir, promotion_waves

    for name in ("customers", "transactions"):
        shutil.copy(contracts_dir() / f"{name}.yaml", tmp_path / f"{name}.yaml")
    customers = (tmp_path / "customers.yaml").read_text()
    assert "{name: customer_id,   type: string," in customers
    cyclic = "{name: customer_id, references: transactions.customer_id, type: string,"
    (tmp_path / "customers.yaml").write_text(customers.replace("{name: customer_id,   type: string,", cyclic, 1))
    with pytest.raises(ContractError, match="cycle: customers, transactions"):
        promotion_waves(["customers", "transactions"], tmp_path)
