"""A minimal reader of the protobuf wire format: just what ONNX's ModelProto needs.

A message is a sequence of (key, value) pairs; the key is a varint holding
`field_number << 3 | wire_type`. Wire types: 0 varint, 1 fixed 64-bit, 2 length-delimited
(strings, bytes, sub-messages, packed repeated scalars), 5 fixed 32-bit. Types 3 and 4 (groups)
are long deprecated and never appear in ONNX files, so they are treated as corruption.

Nothing is decoded until asked for: `Message` only splits its bytes into fields, and the caller,
who knows the schema, says how to read each one. Length-delimited values stay memoryviews of the
original buffer, so the megabytes of weights are never copied while parsing.

A message can also be read from an open file (`Message.from_file`): then a length-delimited
value longer than EAGER_BYTES (a weight, the graph itself) stays in the file until it is read,
so a model's weights need not all be in memory at once (a wasm instance's memory is capped,
and never shrinks). Only the fields the schema reads are ever split, so nesting depth is
bounded by the schema, whatever the file nests.
"""

import os

import numpy as np

VARINT, FIXED64, LEN, FIXED32 = 0, 1, 2, 5
_FIXED_SIZE = {FIXED64: 8, FIXED32: 4}
EAGER_BYTES = 1 << 16  # longer values of a file-backed message are read when asked for
_WINDOW = 1 << 16  # how much of the file a split reads at once (at most)
_HEAD = 21  # a key and a varint (length or value) take at most 20 bytes


class DecodeError(ValueError):
    """The bytes are not a well-formed protobuf message."""


def read_varint(buf, pos):
    """Decode the varint at buf[pos:]; return (value, position after it)."""
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise DecodeError("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            if result >> 64:
                raise DecodeError("varint larger than 64 bits")
            return result, pos
        shift += 7
        if shift >= 70:  # a 64-bit value takes at most 10 bytes
            raise DecodeError("varint longer than 10 bytes")


def _signed64(value):
    # int32 and int64 fields store negatives as 64-bit two's complement.
    return value - (1 << 64) if value >= 1 << 63 else value


def _utf8(number, view):
    try:
        return bytes(view).decode("utf-8")
    except UnicodeDecodeError as err:
        raise DecodeError(f"field {number}: invalid UTF-8") from err


def _split(buf):
    """{field_number: [(wire_type, raw value), ...]} of one message, in the order they appear."""
    fields = {}
    pos, end = 0, len(buf)
    try:
        while pos < end:
            # Keys, lengths and small integers are nearly all one-byte varints: those are decoded
            # inline, as this loop runs for every field of every node and tensor and a call is
            # what costs most in CPython. buf[pos] past the end raises IndexError: truncation.
            key = buf[pos]
            key, pos = (key, pos + 1) if key < 0x80 else read_varint(buf, pos)
            number, wire = key >> 3, key & 7
            if number == 0:
                raise DecodeError("field number 0")
            if wire == LEN:
                size = buf[pos]
                size, pos = (size, pos + 1) if size < 0x80 else read_varint(buf, pos)
                if pos + size > end:
                    raise DecodeError(f"field {number}: length {size} runs past the end")
                value, pos = buf[pos : pos + size], pos + size
            elif wire == VARINT:
                value = buf[pos]
                value, pos = (value, pos + 1) if value < 0x80 else read_varint(buf, pos)
            elif wire in _FIXED_SIZE:
                size = _FIXED_SIZE[wire]
                if pos + size > end:
                    raise DecodeError(f"field {number}: truncated fixed-size value")
                value, pos = buf[pos : pos + size], pos + size
            else:
                raise DecodeError(f"field {number}: invalid wire type {wire}")
            if number in fields:
                fields[number].append((wire, value))
            else:
                fields[number] = [(wire, value)]
    except IndexError:
        raise DecodeError("truncated varint") from None
    return fields


class _InFile:
    """A length-delimited value still in the file: `read()` gives its bytes, a fresh uint8
    array (memory the caller owns, which a plan may keep without copying)."""

    __slots__ = ("file", "offset", "size")

    def __init__(self, file, offset, size):
        self.file, self.offset, self.size = file, offset, size

    def __len__(self):
        return self.size

    def read(self):
        data = np.empty(self.size, np.uint8)
        self.file.seek(self.offset)
        if self.file.readinto(memoryview(data)) != self.size:
            raise DecodeError("the file changed while it was read")
        return data


def _split_file(file, pos, end):
    """_split of the message at file[pos:end]: values up to EAGER_BYTES are read, longer ones
    stay _InFile. Read in windows of _WINDOW bytes."""
    fields = {}
    window, start = b"", 0

    def read(at, size):  # memoryview of file[at:at+size], within the current window if it fits
        nonlocal window, start
        if not (start <= at and at + size <= start + len(window)):
            file.seek(at)
            window, start = file.read(max(size, min(_WINDOW, end - at))), at
            if len(window) < size:
                raise DecodeError("the file ends early")
        return memoryview(window)[at - start : at - start + size]

    def copy(at, size):  # a value of its own: the window is reused
        return memoryview(bytes(read(at, size)))

    while pos < end:
        head = read(pos, min(_HEAD, end - pos))
        key, at = read_varint(head, 0)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise DecodeError("field number 0")
        if wire == LEN:
            size, at = read_varint(head, at)
            pos += at
            if pos + size > end:
                raise DecodeError(f"field {number}: length {size} runs past the end")
            value = copy(pos, size) if size <= EAGER_BYTES else _InFile(file, pos, size)
            pos += size
        elif wire == VARINT:
            value, at = read_varint(head, at)
            pos += at
        elif wire in _FIXED_SIZE:
            pos += at
            size = _FIXED_SIZE[wire]
            if pos + size > end:
                raise DecodeError(f"field {number}: truncated fixed-size value")
            value, pos = copy(pos, size), pos + size
        else:
            raise DecodeError(f"field {number}: invalid wire type {wire}")
        fields.setdefault(number, []).append((wire, value))
    return fields


def _in_memory(value):
    """A length-delimited value as a memoryview, read from the file if it is still there."""
    return memoryview(value.read()) if isinstance(value, _InFile) else value


class Message:
    """The fields of one message, grouped by field number, read on demand by type."""

    def __init__(self, data=None, fields=None):
        # number -> [(wire_type, raw value), ...]; a LEN value is a memoryview or an _InFile.
        self._fields = _split(memoryview(data)) if fields is None else fields

    @classmethod
    def from_file(cls, file):
        """The message that an open binary file holds, its long values left in the file."""
        return cls(fields=_split_file(file, 0, os.fstat(file.fileno()).st_size))

    @classmethod
    def _of(cls, value):
        if isinstance(value, _InFile):
            return cls(fields=_split_file(value.file, value.offset, value.offset + value.size))
        return cls(value)

    def has(self, number):
        return number in self._fields

    def _values(self, number, wire):
        values = []
        for got, value in self._fields.get(number, ()):
            if got != wire:
                raise DecodeError(f"field {number}: wire type {got}, expected {wire}")
            values.append(value)
        return values

    def _last(self, number, wire):
        """A singular field's raw value, None when absent: protobuf says the last occurrence wins."""
        values = self._fields.get(number)
        if values is None:
            return None
        got, value = values[-1]
        if got != wire:
            raise DecodeError(f"field {number}: wire type {got}, expected {wire}")
        return value

    def int(self, number, default=0):
        value = self._last(number, VARINT)
        return default if value is None else _signed64(value)

    def float(self, number, default=0.0):
        value = self._last(number, FIXED32)
        return default if value is None else float(np.frombuffer(value, "<f4")[0])

    def bytes(self, number, default=b""):
        value = self._last(number, LEN)
        return default if value is None else bytes(_in_memory(value))

    def size(self, number):
        """The byte length of a length-delimited field (without reading it), None when absent."""
        value = self._last(number, LEN)
        return None if value is None else len(value)

    def data(self, number):
        """A length-delimited field as a uint8 array, or None when absent: a view of the
        message's buffer, or a fresh array when the field was still in the file."""
        value = self._last(number, LEN)
        if value is None:
            return None
        return value.read() if isinstance(value, _InFile) else np.frombuffer(value, np.uint8)

    def string(self, number, default=""):
        value = self._last(number, LEN)
        return default if value is None else _utf8(number, _in_memory(value))

    def message(self, number):
        value = self._last(number, LEN)
        return None if value is None else Message._of(value)

    # Repeated fields.
    def messages(self, number):
        return [Message._of(value) for value in self._values(number, LEN)]

    def strings(self, number):
        return [_utf8(number, _in_memory(value)) for value in self._values(number, LEN)]

    def ints(self, number):
        """A repeated int32/int64/uint64 field, packed (one LEN blob) or not (many varints)."""
        return self.int_array(number).tolist()

    def int_array(self, number):
        """The same as an int64 array (uint64 values wrap to negative ones)."""
        chunks = []
        for wire, value in self._fields.get(number, ()):
            if wire == VARINT:
                chunks.append(np.array([_signed64(value)], np.int64))
            elif wire == LEN:
                chunks.append(_packed_varints(_in_memory(value)))
            else:
                raise DecodeError(f"field {number}: wire type {wire} for a repeated integer")
        return np.concatenate(chunks) if chunks else np.zeros(0, np.int64)

    def fixed(self, number, dtype):
        """A repeated float ('<f4', wire 5) or double ('<f8', wire 1) field, packed or not."""
        dtype = np.dtype(dtype)
        wire_single = FIXED32 if dtype.itemsize == 4 else FIXED64
        chunks = []
        for wire, value in self._fields.get(number, ()):
            if wire not in (wire_single, LEN) or len(value) % dtype.itemsize:
                raise DecodeError(f"field {number}: bad encoding for repeated {dtype}")
            chunks.append(np.frombuffer(_in_memory(value), dtype))
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype)


def _packed_varints(view):
    """The signed 64-bit values of a packed repeated varint field, decoded with numpy (a Python
    loop per value would take seconds on a large hostile field)."""
    data = np.frombuffer(view, np.uint8)
    if not len(data):
        return np.zeros(0, np.int64)
    ends = np.flatnonzero(data < 0x80)  # the last byte of each varint
    if not len(ends) or ends[-1] != len(data) - 1:
        raise DecodeError("truncated varint")
    starts = np.concatenate(([0], ends[:-1] + 1))
    lengths = ends - starts + 1
    if lengths.max() > 10:
        raise DecodeError("varint longer than 10 bytes")
    if np.any((lengths == 10) & (data[ends] > 1)):
        raise DecodeError("varint larger than 64 bits")
    shifts = (np.arange(len(data)) - np.repeat(starts, lengths)).astype(np.uint64) * np.uint64(7)
    parts = (data & 0x7F).astype(np.uint64) << shifts
    return np.add.reduceat(parts, starts).view(np.int64)  # two's complement, as _signed64 reads it
