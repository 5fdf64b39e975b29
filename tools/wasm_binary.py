"""The WebAssembly binary format, as far as the footprint tools need it: sections of a component
and of its core modules, the names the component gives its core modules, exported globals'
initial values, data segments (read, and written again from a memory image), and rewriting a
component module by module and section by section.

Only the framing is parsed (section ids and sizes, a few vectors); everything else is copied
byte for byte, so a rewritten component differs from the input only in the sections replaced.
Spec: the core binary format (section ids 0-13) and the component model's Binary.md (a component
section holding a core module is id 1, a nested component id 4; the `component-name` custom
section maps core modules to names).
"""

from dataclasses import dataclass

import numpy as np

MAGIC = b"\0asm"
CORE_VERSION = b"\x01\x00\x00\x00"
COMPONENT_VERSION = b"\x0d\x00\x01\x00"

COMPONENT_CORE_MODULE = 1
COMPONENT_NESTED = 4
SORT_CORE = 0x00
SORT_CORE_MODULE = 0x11
WASM_PAGE = 65536


def read_leb(buf, pos, signed=False):
    """A LEB128 number at `pos`: (value, position after it)."""
    value = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return (value - (1 << shift) if signed and byte & 0x40 else value), pos


def read_u32(buf, pos):
    return read_leb(buf, pos)


def read_s32(buf, pos):
    return read_leb(buf, pos, signed=True)


def write_u32(value):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def read_name(buf, pos):
    size, pos = read_u32(buf, pos)
    return bytes(buf[pos : pos + size]).decode("utf-8"), pos + size


@dataclass
class Section:
    id: int
    start: int  # of its contents, in the buffer it was read from
    end: int
    name: str = ""  # a custom section's name

    @property
    def size(self):
        return self.end - self.start


def sections(buf, version):
    """The sections of one module or component binary (buf starts at its magic)."""
    if bytes(buf[:4]) != MAGIC or bytes(buf[4:8]) != version:
        raise ValueError(f"not a wasm binary of version {version.hex()}: {bytes(buf[:8]).hex()}")
    pos, found = 8, []
    while pos < len(buf):
        sid = buf[pos]
        size, start = read_u32(buf, pos + 1)
        section = Section(sid, start, start + size)
        if sid == 0:
            section.name, _ = read_name(buf, start)
        found.append(section)
        pos = start + size
    return found


CONST_OPS_WITH_LEB = {0x41, 0x42, 0x23}  # i32.const, i64.const, global.get
CONST_OPS_PLAIN = {0x6A, 0x6B, 0x6C, 0x7C, 0x7D, 0x7E}  # extended-const add/sub/mul (i32, i64)
I32_CONST, END = 0x41, 0x0B


def write_s32(value):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if (value == 0 and not byte & 0x40) or (value == -1 and byte & 0x40):
            out.append(byte)
            return bytes(out)
        out.append(byte | 0x80)


def skip_const_expr(buf, pos):
    """The position after a constant expression ending in `end`."""
    while True:
        op = buf[pos]
        pos += 1
        if op == END:
            return pos
        if op in CONST_OPS_WITH_LEB:
            _, pos = read_u32(buf, pos)  # only the LEB's length matters here
        elif op not in CONST_OPS_PLAIN:
            raise ValueError(f"unexpected opcode {op:#x} in a constant expression")


@dataclass
class DataSegment:
    offset: int  # in memory; None unless a plain `i32.const` (what a snapshot writes)
    start: int  # of its bytes in the module
    size: int


def data_segments(buf, section):
    """The segments of a core module's data section."""
    count, pos = read_u32(buf, section.start)
    found = []
    for _ in range(count):
        kind, pos = read_u32(buf, pos)
        offset = None
        if kind == 2:  # active, explicit memory index
            _, pos = read_u32(buf, pos)
        if kind in (0, 2):
            expr_end = skip_const_expr(buf, pos)
            if buf[pos] == I32_CONST:
                value, after = read_s32(buf, pos + 1)
                if after + 1 == expr_end:
                    offset = value
            pos = expr_end
        size, pos = read_u32(buf, pos)
        found.append(DataSegment(offset, pos, size))
        pos += size
    return found


def memory_image(module, section):
    """The memory a data section initialises, as one bytearray from address 0; None when a
    segment is not at a constant address."""
    segments = data_segments(module, section)
    if any(s.offset is None for s in segments):
        return None
    image = bytearray(max((s.offset + s.size for s in segments), default=0))
    for s in segments:
        image[s.offset : s.offset + s.size] = module[s.start : s.start + s.size]
    return image


MAX_SEGMENTS = 95_000  # wasmparser and V8 refuse modules with more than 100,000 data segments
MIN_ZERO_RUN = 10  # a segment's header (flags, i32.const offset, end, size) costs 7-10 bytes
# wasmtime maps a module's memory image copy-on-write (an instance costs ~2 ms) only if the
# image's page-aligned span is under twice the bytes its data segments hold; past 16 MiB a
# sparser one is copied segment by segment at every instantiation instead (17 ms for the int8
# component's 95,000). DENSE_MARGIN keeps the data that far above half the span, for the
# alignment of the span's ends (to 64 KiB, the largest page a host aligns to).
DENSE_MARGIN = 2 * WASM_PAGE
DENSE_FROM = 2**20  # bytes of span under which density is left alone (wasmtime maps up to 16 MiB of any)


def encode_data_section(image, max_segments=MAX_SEGMENTS):
    """(section body, segment count): the non-zero bytes of `image` as active segments of
    memory 0. A run of at least MIN_ZERO_RUN zeros ends a segment, the longest runs first when
    there are more than `max_segments` - 1; shorter runs stay inside a segment, and so do the
    shortest others if the segments would otherwise hold under half the span they cover (+
    DENSE_MARGIN): wasmtime's copy-on-write condition. (Measured on the int8 component's
    snapshot: 95,000 segments store it in 170 KB less than 58,000 did.)"""
    nonzero = np.flatnonzero(np.frombuffer(image, np.uint8))
    if nonzero.size == 0:
        return write_u32(0), 0
    runs = np.diff(nonzero) - 1  # zeros between consecutive non-zero bytes
    breaks = np.flatnonzero(runs >= MIN_ZERO_RUN)
    if len(breaks) >= max_segments:
        shortest = len(breaks) - (max_segments - 1)  # that many runs stay inside segments
        breaks = np.sort(breaks[np.argpartition(runs[breaks], shortest)[shortest:]])
    breaks = _dense(breaks, runs, span=int(nonzero[-1] - nonzero[0] + 1))
    starts = np.concatenate([nonzero[:1], nonzero[breaks + 1]])
    ends = np.concatenate([nonzero[breaks] + 1, nonzero[-1:] + 1])
    body = bytearray(write_u32(len(starts)))
    for start, end in zip(starts.tolist(), ends.tolist()):
        body += b"\0" + bytes([I32_CONST]) + write_s32(start) + bytes([END])
        body += write_u32(end - start) + image[start:end]
    return bytes(body), len(starts)


def _dense(breaks, runs, span):
    """`breaks` less its shortest zero runs, as few as make the segments hold more than half of
    `span` + DENSE_MARGIN bytes (of a span from DENSE_FROM up)."""
    if span < DENSE_FROM:
        return breaks
    stored = span - int(runs[breaks].sum())
    lacking = (span + DENSE_MARGIN) // 2 + 1 - stored
    if lacking <= 0:
        return breaks
    by_length = breaks[np.argsort(runs[breaks], kind="stable")]
    kept_in = int(np.searchsorted(np.cumsum(runs[by_length]), lacking)) + 1  # runs joined into segments
    return np.sort(by_length[kept_in:])


@dataclass
class CoreModule:
    index: int
    name: str
    body: memoryview  # the module's binary

    @property
    def size(self):
        return len(self.body)

    def sections(self):
        return sections(self.body, CORE_VERSION)

    def section(self, sid):
        return next((s for s in self.sections() if s.id == sid), None)


def core_module_names(buf, section):
    """index -> name of the core modules, from a component's `component-name` section."""
    _, pos = read_name(buf, section.start)
    names = {}
    while pos < section.end:
        sub_id = buf[pos]
        size, pos = read_u32(buf, pos + 1)
        sub_end = pos + size
        if sub_id == 1 and buf[pos] == SORT_CORE and buf[pos + 1] == SORT_CORE_MODULE:
            count, p = read_u32(buf, pos + 2)
            for _ in range(count):
                idx, p = read_u32(buf, p)
                names[idx], p = read_name(buf, p)
        pos = sub_end
    return names


def core_modules(buf):
    """The core modules of a component, in order (those of nested components too, unnamed)."""
    buf = memoryview(buf)
    top = sections(buf, COMPONENT_VERSION)
    names = next((core_module_names(buf, s) for s in top if s.id == 0 and s.name == "component-name"), {})
    modules = []
    for s in top:
        if s.id == COMPONENT_CORE_MODULE:
            modules.append(CoreModule(len(modules), names.get(len(modules), ""), buf[s.start : s.end]))
        elif s.id == COMPONENT_NESTED:
            for m in core_modules(buf[s.start : s.end]):
                modules.append(CoreModule(len(modules), "", m.body))
    return modules


def exported_globals(module):
    """name -> initial value of the module's exported globals initialised by `i32.const`."""
    secs = sections(module, CORE_VERSION)
    imported = 0
    for s in secs:
        if s.id == 2:  # imported globals come first in the index space
            count, pos = read_u32(module, s.start)
            for _ in range(count):
                _, pos = read_name(module, pos)
                _, pos = read_name(module, pos)
                kind = module[pos]
                pos += 1
                if kind == 0:  # func: type index
                    _, pos = read_u32(module, pos)
                elif kind == 1:  # table: reftype, limits
                    pos = _skip_limits(module, pos + 1)
                elif kind == 2:  # memory: limits
                    pos = _skip_limits(module, pos)
                elif kind == 3:  # global: valtype, mutability
                    imported += 1
                    pos += 2
                else:  # tag: attribute, type index
                    _, pos = read_u32(module, pos + 1)
    values = []
    for s in secs:
        if s.id == 6:
            count, pos = read_u32(module, s.start)
            for _ in range(count):
                pos += 2  # valtype, mutability
                end = skip_const_expr(module, pos)
                value = read_s32(module, pos + 1)[0] if module[pos] == I32_CONST else None
                values.append(value)
                pos = end
    found = {}
    for s in secs:
        if s.id == 7:
            count, pos = read_u32(module, s.start)
            for _ in range(count):
                name, pos = read_name(module, pos)
                kind = module[pos]
                index, pos = read_u32(module, pos + 1)
                if kind == 3 and index >= imported and values[index - imported] is not None:
                    found[name] = values[index - imported]
    return found


def _skip_limits(buf, pos):
    flags = buf[pos]
    _, pos = read_u32(buf, pos + 1)
    if flags & 1:
        _, pos = read_u32(buf, pos)
    return pos


def frame(sid, body):
    return bytes([sid]) + write_u32(len(body)) + bytes(body)


def rebuild_module(module, replace):
    """The module with each section replaced by replace(section) (bytes of a new body, or None
    to drop it); `replace` returning the section itself keeps it as it is."""
    out = bytearray(module[:8])
    for s in sections(module, CORE_VERSION):
        new = replace(s)
        if new is s:
            out += frame(s.id, module[s.start : s.end])
        elif new is not None:
            out += frame(s.id, new)
    return bytes(out)


def without_custom_sections(module):
    """Names, debug info, producers, dylink: wasmtime needs none of them to run the module."""
    return rebuild_module(module, lambda s: None if s.id == 0 else s)


def map_core_modules(buf, change, _counter=None):
    """The component with each core module replaced by change(index, module binary), indices
    as `core_modules` gives them; its own sections (types, instances, exports, the
    component-type and component-name sections) are kept."""
    counter = [0] if _counter is None else _counter
    buf = memoryview(buf)
    out = bytearray(buf[:8])
    for s in sections(buf, COMPONENT_VERSION):
        body = buf[s.start : s.end]
        if s.id == COMPONENT_CORE_MODULE:
            body = change(counter[0], body)
            counter[0] += 1
        elif s.id == COMPONENT_NESTED:
            body = map_core_modules(body, change, counter)
        out += frame(s.id, body)
    return bytes(out)
