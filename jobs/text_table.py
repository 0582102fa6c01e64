"""Every text table the project prints (CLI reports, deploy plans, Glue job logs), rendered by `rich`.

One look everywhere: a header, a rule of `-`, two spaces between columns, numbers right-aligned
where the caller says so, no trailing blanks. The text is plain ASCII without colour or markup, so it
reads the same in a terminal, a CloudWatch/Glue log and a test's captured output; cells are taken
literally (a `[reason]` in a cell is text, not rich markup). Nothing is wrapped or cut: a long
cell widens its column.
"""

from __future__ import annotations

import io
from collections.abc import Collection, Iterable, Sequence

WIDE = 100_000  # characters: wide enough that rich never wraps or truncates a cell


def render_table(columns: Sequence[str], rows: Iterable[Sequence[object]], *, right: Collection[str] = (),
                 indent: int = 0) -> str:
    """`columns` as the header over `rows` (cells shown with `str`); the columns named in `right` are
    right-aligned; every line is prefixed by `indent` spaces. A row of the wrong length is an error."""
    from rich.box import Box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    unknown = set(right) - set(columns)
    if unknown:
        raise ValueError(f"right-aligned column(s) {sorted(unknown)} are not among the columns {list(columns)}")
    header_rule = Box("    \n    \n -- \n    \n    \n    \n    \n    \n", ascii=True)
    table = Table(box=header_rule, show_edge=False, pad_edge=False, padding=(0, 1), collapse_padding=True)
    for name in columns:
        table.add_column(name, justify="right" if name in right else "left", no_wrap=True)
    for number, row in enumerate(rows, start=1):
        if len(row) != len(columns):
            raise ValueError(f"table row {number} has {len(row)} cells for {len(columns)} columns "
                             f"({', '.join(columns)}): {list(row)!r}")
        table.add_row(*(Text(str(cell)) for cell in row))
    out = io.StringIO()
    Console(file=out, width=WIDE, color_system=None, force_terminal=False, highlight=False, markup=False,
            emoji=False, legacy_windows=False).print(table)
    return "\n".join(" " * indent + line.rstrip() for line in out.getvalue().splitlines())
