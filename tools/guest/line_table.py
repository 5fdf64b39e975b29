"""Code objects whose location table keeps line numbers and drops columns, as `python -X
no_debug_ranges` writes them: the build-time snapshot then holds about half the table.

Each code object carries a table mapping its bytecode to source positions (CPython's
InternalDocs/code_objects.md, "Format of the locations table"); columns only serve the ^^^
markers under a traceback's source line. Tracebacks keep their files, lines and source text.
Entries become the "no columns" form, and consecutive ones on the same line are merged (up to
8 code units an entry), which maps every instruction to the same line as before.
"""

from types import CodeType

NO_COLUMNS, LONG, NO_LOCATION, ONE_LINE = 13, 14, 15, 10
MAX_LENGTH = 8  # code units one entry covers


def _varint(table, pos):
    byte = table[pos]
    value, shift, pos = byte & 63, 6, pos + 1
    while byte & 64:
        byte = table[pos]
        value |= (byte & 63) << shift
        shift, pos = shift + 6, pos + 1
    return value, pos


def _signed_varint(table, pos):
    value, pos = _varint(table, pos)
    return (-(value >> 1) if value & 1 else value >> 1), pos


def _write_varint(out, value):
    while value >= 64:
        out.append(64 | (value & 63))
        value >>= 6
    out.append(value)


def entries(table):
    """(code units, line delta or None) of each entry."""
    pos = 0
    while pos < len(table):
        first = table[pos]
        kind, length, pos = (first >> 3) & 15, (first & 7) + 1, pos + 1
        if kind == NO_LOCATION:
            delta = None
        elif kind in (LONG, NO_COLUMNS):
            delta, pos = _signed_varint(table, pos)
            if kind == LONG:  # end line delta, column, end column
                for _ in range(3):
                    _, pos = _varint(table, pos)
        elif kind >= ONE_LINE:
            delta, pos = kind - ONE_LINE, pos + 2
        else:  # the short form: same line, one byte of columns
            delta, pos = 0, pos + 1
        yield length, delta


def without_columns(table):
    """The location table `table` with line numbers only."""
    out = bytearray()
    pending = None  # [line delta, code units] of the entry being merged

    def flush():
        if pending:
            delta, length = pending
            out.append(128 | NO_COLUMNS << 3 | (length - 1))
            _write_varint(out, -delta << 1 | 1 if delta < 0 else delta << 1)

    for length, delta in entries(table):
        if delta is None:
            flush()
            pending = None
            out.append(128 | NO_LOCATION << 3 | (length - 1))
        elif pending and delta == 0 and pending[1] + length <= MAX_LENGTH:
            pending[1] += length
        else:
            flush()
            pending = [delta, length]
    flush()
    return bytes(out)


def lines_only(code):
    """`code` and the code objects among its constants, with line-only location tables."""
    consts = tuple(lines_only(c) if isinstance(c, CodeType) else c for c in code.co_consts)
    return code.replace(co_linetable=without_columns(code.co_linetable), co_consts=consts)
