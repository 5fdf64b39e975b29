"""A minimal reader of the protobuf wire format: just what ONNX's ModelProto needs.

A message is a sequence of (key, value) pairs; the key is a varint holding
`field_number << 3 | wire_type`. Wire types: 0 varint, 1 fixed 64-bit, 2 length-delimited
(strings, bytes, sub-messages, packed repeated scalars), 5 fixed 32-bit. Types 3 and 4 (groups)
are long deprecated and never appear in ONNX files, so they are treated as corruption.

Nothing is decoded until asked for: `Message` only splits its bytes into fields, and the caller,
who knows the schema, says how to read each one. Length-delimited values stay memoryviews of the
original buffer, so the megabytes of weights are never copied while parsing.
"""
import numpy as np

VARINT, FIXED64, LEN, FIXED32 = 0, 1, 2, 5
_FIXED_SIZE = {FIXED64: 8, FIXED32: 4}


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
                value, pos = buf[pos:pos + size], pos + size
            elif wire == VARINT:
                value = buf[pos]
                value, pos = (value, pos + 1) if value < 0x80 else read_varint(buf, pos)
            elif wire in _FIXED_SIZE:
                size = _FIXED_SIZE[wire]
                if pos + size > end:
                    raise DecodeError(f"field {number}: truncated fixed-size value")
                value, pos = buf[pos:pos + size], pos + size
            else:
                raise DecodeError(f"field {number}: invalid wire type {wire}")
            if number in fields:
                fields[number].append((wire, value))
            else:
                fields[number] = [(wire, value)]
    except IndexError:
        raise DecodeError("truncated varint") from None
    return fields


class Message:
    """The fields of one message, grouped by field number, read on demand by type."""

    def __init__(self, data):
        self._fields = _split(memoryview(data))  # number -> [(wire_type, raw value), ...]

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
        return default if value is None else bytes(value)

    def view(self, number):
        """A length-delimited field as a memoryview (no copy), or None when absent."""
        return self._last(number, LEN)

    def string(self, number, default=""):
        value = self._last(number, LEN)
        return default if value is None else _utf8(number, value)

    def message(self, number):
        view = self.view(number)
        return None if view is None else Message(view)

    # Repeated fields.
    def messages(self, number):
        return [Message(value) for value in self._values(number, LEN)]

    def strings(self, number):
        return [_utf8(number, value) for value in self._values(number, LEN)]

    def ints(self, number):
        """A repeated int32/int64/uint64 field, packed (one LEN blob) or not (many varints)."""
        result = []
        for wire, value in self._fields.get(number, ()):
            if wire == VARINT:
                result.append(_signed64(value))
            elif wire == LEN:
                pos = 0
                while pos < len(value):
                    item, pos = read_varint(value, pos)
                    result.append(_signed64(item))
            else:
                raise DecodeError(f"field {number}: wire type {wire} for a repeated integer")
        return result

    def fixed(self, number, dtype):
        """A repeated float ('<f4', wire 5) or double ('<f8', wire 1) field, packed or not."""
        dtype = np.dtype(dtype)
        wire_single = FIXED32 if dtype.itemsize == 4 else FIXED64
        chunks = []
        for wire, value in self._fields.get(number, ()):
            if wire not in (wire_single, LEN) or len(value) % dtype.itemsize:
                raise DecodeError(f"field {number}: bad encoding for repeated {dtype}")
            chunks.append(np.frombuffer(value, dtype))
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype)
