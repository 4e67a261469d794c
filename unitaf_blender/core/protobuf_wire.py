"""The protobuf wire format, read and written by hand for the few fields we need from model
files (a SentencePiece tokenizer, an ONNX graph) without the protobuf or onnx packages."""

VARINT, FIXED64, LENGTH, FIXED32 = 0, 1, 2, 5


class WireError(ValueError):
    """The bytes are not a well-formed protobuf message."""


def read_varint(buf, pos: int) -> tuple:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise WireError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise WireError("varint too long")


def fields(buf):
    """Yield (field_number, wire_type, value) for one message; value is an int or a slice of
    `buf` (pass a memoryview to read a large message without copying)."""
    pos = 0
    while pos < len(buf):
        key, pos = read_varint(buf, pos)
        field, wire = key >> 3, key & 7
        if wire == VARINT:
            value, pos = read_varint(buf, pos)
        elif wire == FIXED64:
            value, pos = buf[pos:pos + 8], pos + 8
        elif wire == LENGTH:
            n, pos = read_varint(buf, pos)
            value, pos = buf[pos:pos + n], pos + n
        elif wire == FIXED32:
            value, pos = buf[pos:pos + 4], pos + 4
        else:
            raise WireError(f"unsupported protobuf wire type {wire}")
        if pos > len(buf):
            raise WireError("truncated protobuf message")
        yield field, wire, value


def encode_varint(n: int) -> bytes:
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        if n:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def length_field(number: int, payload: bytes) -> bytes:
    """One length-delimited field (a string, bytes or an embedded message)."""
    return encode_varint(number << 3 | LENGTH) + encode_varint(len(payload)) + payload
