"""The table of supported operators in docs/operators.md, made from the engine's op registry:
one row per lowering, its ops, its module and its docstring (else its module's first sentence).

    python tools/ops_table.py          # print the table
    python tools/ops_table.py --write  # put it into docs/operators.md, between the markers
tests/test_ops.py checks that the file holds what this prints.
"""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "operators.md"
BEGIN, END = "<!-- ops_table.py: begin -->", "<!-- ops_table.py: end -->"


def table():
    sys.path.insert(0, str(ROOT / "component"))
    from engine.ops import LOWERINGS

    rows = {}
    for op, lower in LOWERINGS.items():
        rows.setdefault(lower, []).append(op)
    lines = ["| Operators | Module | Attribute forms and notes |", "|---|---|---|"]
    for lower, ops in sorted(rows.items(), key=lambda row: (row[0].__module__, sorted(row[1]))):
        module = sys.modules[lower.__module__]
        notes = lower.__doc__ or re.split(r"[.:]\s", module.__doc__.strip())[0].rstrip(".") + " (see below)."
        lines.append(
            f"| {', '.join(f'`{op}`' for op in sorted(ops))} | {module.__name__.split('.')[-1]} "
            f"| {' '.join(notes.split())} |"
        )
    return "\n".join(lines) + "\n"


def write():
    text = DOC.read_text()
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    DOC.write_text(f"{head}{BEGIN}\n{table()}{END}{tail}")


if __name__ == "__main__":
    write() if "--write" in sys.argv[1:] else print(table(), end="")
