"""jobs/text_table.render_table: the one table layout every report prints."""

from __future__ import annotations

import pytest

from jobs.text_table import render_table


def test_header_rule_aligned_columns_and_no_trailing_blanks() -> None:
    text = render_table(("table", "rows", "run"), [("silver.orders", "1,234", "day-1"), ("gold.x", 5, "")],
                        right=("rows",), indent=2)
    assert text.splitlines() == [
        "  table           rows  run",
        "  " + "-" * 27,
        "  silver.orders  1,234  day-1",
        "  gold.x             5",
    ]


def test_cells_are_literal_and_never_wrapped_or_cut() -> None:
    reason = "[bad_amount 3] " + "x" * 300  # rich markup syntax and a cell far wider than any terminal
    [_, _, row] = render_table(("dataset", "reason"), [("orders", reason)]).splitlines()
    assert row == "orders   " + reason
    assert "\x1b" not in render_table(("a",), [("b",)])  # no colour codes, whatever the terminal


def test_bad_rows_and_columns_are_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"table row 2 has 1 cells for 2 columns \(date, status\)"):
        render_table(("date", "status"), [("2024-01-01", "SUCCEEDED"), ("2024-01-02",)])
    with pytest.raises(ValueError, match=r"right-aligned column\(s\) \['second'\] are not among the columns"):
        render_table(("date", "status"), [], right=("second",))
