"""What the engine makes of the zoo (build/zoo, `make zoo`): per exported file its ops, the ones
the engine's op registry lacks, and whether engine.load_model (numpy kernels) takes it.

    .venv/bin/python tools/zoo_table.py            # the table, as docs/models.md holds it
    .venv/bin/python tools/zoo_table.py --write    # replaces the generated part of docs/models.md
    .venv/bin/python tools/zoo_table.py --xfail    # tests/test_zoo.py's EXPECTED_FAILURES for this branch

Only exported files are listed (`make zoo ZOO_SET=all` for the bench's too).
"""

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "component")]

import engine  # noqa: E402
from engine.ops import LOWERINGS  # noqa: E402
from models.zoo import ZOO, folder  # noqa: E402

DOC = ROOT / "docs" / "models.md"
BEGIN, END = "<!-- zoo-table: begin (tools/zoo_table.py --write) -->", "<!-- zoo-table: end -->"


def status(spec):
    """(meta, None) when the engine loads the file, (meta, the error without its node name) when
    not; None when the file is not exported."""
    path = folder(spec)
    if not (path / "meta.json").exists():
        return None
    meta = json.loads((path / "meta.json").read_text())
    try:
        engine.load_model((path / "model.onnx").read_bytes(), kernels="numpy")
        return meta, None
    except engine.ModelError as e:
        return meta, re.sub(r" in node '.*'$", "", str(e))


def rows():
    for spec in ZOO:
        found = status(spec)
        if found:
            yield spec, *found


def family_table(results):
    """One row per family: the op types of all its files, those the registry lacks, what loads."""
    families = {}
    for spec, meta, error in results:
        ops, loads, files = families.setdefault(spec.family, (set(), [], []))
        ops.update(meta["op_counts"])
        files.append(spec.name)
        loads.extend([spec.name] if error is None else [])
    lines = ["| family | files | op types | not in the op registry | load |", "|---|---|---|---|---|"]
    for family, (ops, loads, files) in families.items():
        missing = ", ".join(sorted(op for op in ops if op not in LOWERINGS)) or "-"
        lines.append(
            f"| {family} | {len(files)} | {', '.join(sorted(ops))} | {missing} | {len(loads)} of {len(files)} |"
        )
    return "\n".join(lines)


def table(results):
    lines = [
        "| file | family | set | MB | ops (count) | not in the op registry | engine.load_model |",
        "|---|---|---|---|---|---|---|",
    ]
    for spec, meta, error in results:
        ops = ", ".join(f"{op} {n}" for op, n in meta["op_counts"].items())
        missing = ", ".join(op for op in meta["op_counts"] if op not in LOWERINGS) or "-"
        lines.append(
            f"| {spec.name} | {spec.family} | {'bench' if spec.bench else 'ci'} | {meta['bytes'] / 1e6:.0f} "
            f"| {ops} | {missing} | {'loads' if error is None else error} |"
        )
    loads = sum(error is None for _, _, error in results)
    return "\n".join(lines + ["", f"{loads} of {len(results)} files load on this branch."])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help=f"update {DOC.relative_to(ROOT)}")
    parser.add_argument("--xfail", action="store_true", help="print EXPECTED_FAILURES")
    args = parser.parse_args()
    results = list(rows())
    if args.xfail:
        print("EXPECTED_FAILURES = {")
        for spec, _, error in results:
            if error is not None and not spec.bench:
                print(f"    {spec.name!r}: {error!r},")
        print("}")
        return
    text = family_table(results) + "\n\nPer file, with each op's count:\n\n" + table(results)
    if not args.write:
        print(text)
        return
    doc = DOC.read_text()
    start, end = doc.index(BEGIN) + len(BEGIN), doc.index(END)
    DOC.write_text(doc[:start] + "\n" + text + "\n" + doc[end:])
    print(f"wrote {DOC.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
