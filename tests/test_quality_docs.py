"""Results are kept and shown: Data Docs index (parsed as HTML) and the run's quality table."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from jobs.quality import build_data_docs, quality_table, run_quality_gate

SUITES = {
    "orders": [{"type": "expect_column_values_to_be_in_set",
                "kwargs": {"column": "status", "value_set": ["new", "paid"]}, "meta": {"severity": "quarantine"}},
               {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "id"},
                "meta": {"severity": "fail"}}],
    "refunds": [{"type": "expect_column_values_to_be_between", "kwargs": {"column": "amount", "min_value": 0},
                 "meta": {"severity": "warn"}}],
}


class IndexTable(HTMLParser):
    """Rows of the index's results table: suite cell text, its link, and the status cell."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict[str, str]] = []
        self._cell: str | None = None
        self._cells: list[str] = []
        self._href: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "tr" and "result" in (attributes.get("class") or ""):
            self._cells, self._href = [], None
            self.rows.append({"class": attributes.get("class") or "", "data-suite": attributes.get("data-suite") or ""})
        elif tag == "td" and self.rows:
            self._cell = ""
        elif tag == "a" and self._cell is not None:
            self._href = attributes.get("href")

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell is not None:
            self._cells.append(self._cell.strip())
            self._cell = None
        elif tag == "tr" and self.rows and "cells" not in self.rows[-1]:
            self.rows[-1].update(cells=self._cells, href=self._href or "")  # type: ignore[arg-type]


def parse_index(path: Path) -> dict[str, dict]:
    parser = IndexTable()
    parser.feed(path.read_text())
    return {row["cells"][1]: row for row in parser.rows}


@pytest.fixture(scope="module")
def lake(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Two suites validated on 2024-03-01; `orders` validated again later that day and failing."""
    root = tmp_path_factory.mktemp("lake")
    suites = root / "expectations" / "silver"
    suites.mkdir(parents=True)
    for name, expectations in SUITES.items():
        (suites / f"{name}.json").write_text(json.dumps({"name": f"silver.{name}", "expectations": expectations}))
    ops = str(root / "ops")

    def gate(dataset: str, rows: list[tuple], schema: str, run_id: str, hour: int) -> None:
        run_quality_gate(spark, spark.createDataFrame(rows, schema), suite=dataset, layer="silver", contract=None,
                         run_date="2024-03-01", run_id=run_id, ops_root=ops, suites_directory=root / "expectations",
                         now=datetime(2024, 3, 2, hour, tzinfo=UTC))

    gate("orders", [("o1", "new"), ("o2", "lost")], "id string, status string", "run-a", 1)
    gate("refunds", [("r1", -5.0), ("r2", 3.0)], "id string, amount double", "run-a", 2)
    gate("orders", [(None, "new"), ("o3", "paid")], "id string, status string", "run-b", 3)
    yield root


def test_index_shows_each_suites_latest_result_with_a_link_to_its_page(lake: Path) -> None:
    index = lake / "ops" / "data_docs" / "index.html"
    table = parse_index(index)
    assert set(table) == {"silver.orders", "silver.refunds"}
    orders, refunds = table["silver.orders"], table["silver.refunds"]
    # orders: the later run (run-b) failed on the null id; refunds only warned.
    assert orders["cells"][2] == "failed" and "failed" in orders["class"]
    assert orders["cells"][4] == "run-b"
    assert orders["cells"][9] == "expect_column_values_to_not_be_null(id)"
    assert refunds["cells"][2] == "passed" and refunds["cells"][7] == "1"
    for row in (orders, refunds):
        page = index.parent / row["href"]
        assert page.is_file(), row["href"]
        text = page.read_text()
        assert row["data-suite"].split(".")[1] in text  # GE's page is about that suite...
        assert row["cells"][4] in text  # ...and that run
    assert "run-b" in orders["href"]


def test_docs_can_be_rebuilt_from_stored_results_into_another_site(lake: Path, tmp_path: Path) -> None:
    index = Path(build_data_docs(str(lake / "ops"), site_root=str(tmp_path / "site")))
    assert index == tmp_path / "site" / "index.html"
    table = parse_index(index)
    assert {s: row["cells"][2] for s, row in table.items()} == {"silver.orders": "failed", "silver.refunds": "passed"}
    assert all((index.parent / row["href"]).is_file() for row in table.values())


def test_quality_table_renders_the_stored_results_of_a_run(lake: Path) -> None:
    text = quality_table(lake, "2024-03-01", ops_root=str(lake / "ops"))
    lines = text.splitlines()
    assert lines[0] == "quality results for run date 2024-03-01 (3 validation(s))"
    assert lines[1].split()[:4] == ["layer", "suite", "run", "id"]
    body = [line.split() for line in lines[3:]]
    assert [(r[1], r[2], r[3]) for r in body] == [
        ("orders", "run-a", "passed"), ("orders", "run-b", "failed"), ("refunds", "run-a", "passed")]
    orders_a = lines[3]
    assert "expect_column_values_to_be_in_set(status)" in orders_a and body[0][8] == "1"  # 1 quarantined row
    assert "expect_column_values_to_not_be_null(id)" in lines[4]
    assert "expect_column_values_to_be_between(amount)" in lines[5]


def test_quality_table_for_a_date_without_results(tmp_path: Path) -> None:
    assert quality_table(tmp_path, "2024-01-01").startswith("no quality results stored for run date 2024-01-01")
