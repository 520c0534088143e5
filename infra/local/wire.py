"""Just enough of the Kafka and MongoDB wire protocols to tell whether a local server is really serving."""

import itertools
import socket
import struct
from dataclasses import dataclass
from typing import TypeAlias

BsonValue: TypeAlias = "float | str | bool | int | bytes | dict[str, BsonValue] | list[BsonValue] | None"
BsonDocument: TypeAlias = dict[str, BsonValue]

_CLIENT_ID = b"parterre-local-stack"
_KAFKA_API_VERSIONS = 18
_KAFKA_METADATA = 3
# The newest Metadata version with the classic (non-flexible) encoding; brokers 2.1 to 4.x all accept it.
_KAFKA_METADATA_VERSION = 4

_MONGO_OP_MSG = 2013
_MONGO_HEADER = struct.Struct("<iiii")
_MONGO_CHECKSUM_PRESENT = 1

# Correlation / request ids only have to be unique per connection; a process-wide counter is simplest.
_request_ids = itertools.count(1)


class ProtocolError(Exception):
    """The peer answered, but not with what the protocol promises."""


@dataclass(frozen=True)
class KafkaBroker:
    node_id: int
    host: str
    port: int


def kafka_broker_answers(host: str, port: int, *, node_id: int, timeout: float = 2.0) -> bool:
    """Whether the broker at host:port answers Metadata and lists itself as node_id at that address."""
    try:
        brokers = kafka_brokers(host, port, timeout=timeout)
    except (OSError, ProtocolError):
        return False
    return KafkaBroker(node_id, host, port) in brokers


def kafka_brokers(host: str, port: int, *, timeout: float = 2.0) -> list[KafkaBroker]:
    """The brokers a Kafka cluster reports in a Metadata response (no topics requested)."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        supported = _kafka_api_versions(sock)
        lowest, highest = supported.get(_KAFKA_METADATA, (0, -1))
        if not lowest <= _KAFKA_METADATA_VERSION <= highest:
            raise ProtocolError(f"broker does not accept Metadata v{_KAFKA_METADATA_VERSION} ({lowest}-{highest})")
        # An empty topic array (not null) asks for brokers only; no topic gets auto-created.
        body = struct.pack(">ib", 0, 0)
        reader = _KafkaReader(_kafka_call(sock, _KAFKA_METADATA, _KAFKA_METADATA_VERSION, body))
        reader.int32()  # throttle_time_ms
        brokers = []
        for _ in range(reader.int32()):
            broker_id = reader.int32()
            broker_host = reader.string()
            broker_port = reader.int32()
            reader.nullable_string()  # rack
            brokers.append(KafkaBroker(broker_id, broker_host, broker_port))
        return brokers


def _kafka_api_versions(sock: socket.socket) -> dict[int, tuple[int, int]]:
    reader = _KafkaReader(_kafka_call(sock, _KAFKA_API_VERSIONS, 0, b""))
    error_code = reader.int16()
    if error_code != 0:
        raise ProtocolError(f"ApiVersions failed with error code {error_code}")
    supported = {}
    for _ in range(reader.int32()):
        api_key, lowest, highest = reader.int16(), reader.int16(), reader.int16()
        supported[api_key] = (lowest, highest)
    return supported


def _kafka_call(sock: socket.socket, api_key: int, api_version: int, body: bytes) -> bytes:
    correlation_id = next(_request_ids) & 0x7FFFFFFF
    header = struct.pack(">hhih", api_key, api_version, correlation_id, len(_CLIENT_ID)) + _CLIENT_ID
    request = header + body
    sock.sendall(struct.pack(">i", len(request)) + request)
    (size,) = struct.unpack(">i", _receive_exactly(sock, 4))
    response = _receive_exactly(sock, size)
    (answered_id,) = struct.unpack_from(">i", response)
    if answered_id != correlation_id:
        raise ProtocolError(f"Kafka answered correlation id {answered_id}, expected {correlation_id}")
    return response[4:]


class _KafkaReader:
    def __init__(self, data: bytes) -> None:
        self._data = data
        self._offset = 0

    def _unpack(self, fmt: str) -> int:
        try:
            (value,) = struct.unpack_from(fmt, self._data, self._offset)
        except struct.error as exc:
            raise ProtocolError(f"truncated Kafka response: {exc}") from exc
        self._offset += struct.calcsize(fmt)
        return int(value)

    def int16(self) -> int:
        return self._unpack(">h")

    def int32(self) -> int:
        return self._unpack(">i")

    def nullable_string(self) -> str | None:
        length = self.int16()
        if length < 0:
            return None
        raw = self._data[self._offset : self._offset + length]
        if len(raw) != length:
            raise ProtocolError("truncated Kafka response string")
        self._offset += length
        return raw.decode()

    def string(self) -> str:
        value = self.nullable_string()
        if value is None:
            raise ProtocolError("null where Kafka promises a string")
        return value


def mongo_ping_answers(host: str, port: int, *, timeout: float = 2.0) -> bool:
    """Whether the server at host:port answers `ping` on the admin database with ok: 1."""
    try:
        reply = mongo_command(host, port, {"ping": 1, "$db": "admin"}, timeout=timeout)
    except (OSError, ProtocolError):
        return False
    ok = reply.get("ok")
    return not isinstance(ok, bool) and isinstance(ok, int | float) and ok == 1


def mongo_command(host: str, port: int, command: BsonDocument, *, timeout: float = 2.0) -> BsonDocument:
    """Send one command as an OP_MSG and return the reply document."""
    request_id = next(_request_ids) & 0x7FFFFFFF
    # flagBits 0, then a single kind-0 section holding the command body.
    message = struct.pack("<I", 0) + b"\x00" + encode_bson(command)
    header = _MONGO_HEADER.pack(_MONGO_HEADER.size + len(message), request_id, 0, _MONGO_OP_MSG)
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(header + message)
        length, _, response_to, op_code = _MONGO_HEADER.unpack(_receive_exactly(sock, _MONGO_HEADER.size))
        payload = _receive_exactly(sock, length - _MONGO_HEADER.size)
    if op_code != _MONGO_OP_MSG or response_to != request_id:
        raise ProtocolError(f"unexpected reply (opCode {op_code}, responseTo {response_to})")
    (flags,) = struct.unpack_from("<I", payload)
    sections = payload[4:-4] if flags & _MONGO_CHECKSUM_PRESENT else payload[4:]
    if not sections or sections[0] != 0:
        raise ProtocolError("OP_MSG reply does not start with a body section")
    document, _ = _decode_document(sections, 1)
    return document


def encode_bson(document: BsonDocument) -> bytes:
    """Encode a document of strings, numbers, booleans, None, bytes, nested documents and lists."""
    elements = b"".join(_encode_element(key, value) for key, value in document.items())
    return struct.pack("<i", len(elements) + 5) + elements + b"\x00"


def _encode_element(key: str, value: BsonValue) -> bytes:
    name = _cstring(key)
    # bool before int: bool is a subclass of int.
    if isinstance(value, bool):
        return b"\x08" + name + (b"\x01" if value else b"\x00")
    if isinstance(value, int):
        if -(2**31) <= value < 2**31:
            return b"\x10" + name + struct.pack("<i", value)
        return b"\x12" + name + struct.pack("<q", value)
    if isinstance(value, float):
        return b"\x01" + name + struct.pack("<d", value)
    if isinstance(value, str):
        raw = value.encode()
        return b"\x02" + name + struct.pack("<i", len(raw) + 1) + raw + b"\x00"
    if isinstance(value, bytes):
        return b"\x05" + name + struct.pack("<ib", len(value), 0) + value
    if value is None:
        return b"\x0a" + name
    if isinstance(value, dict):
        return b"\x03" + name + encode_bson(value)
    return b"\x04" + name + encode_bson({str(index): item for index, item in enumerate(value)})


def _cstring(text: str) -> bytes:
    raw = text.encode()
    if b"\x00" in raw:
        raise ValueError(f"BSON keys cannot contain NUL: {text!r}")
    return raw + b"\x00"


def decode_bson(data: bytes) -> BsonDocument:
    """Decode one BSON document; ObjectId, Decimal128 and binary values come back as raw bytes."""
    document, _ = _decode_document(data, 0)
    return document


def _decode_document(data: bytes, offset: int) -> tuple[BsonDocument, int]:
    try:
        return _decode_document_unchecked(data, offset)
    except (struct.error, IndexError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"malformed BSON: {exc}") from exc


def _decode_document_unchecked(data: bytes, offset: int) -> tuple[BsonDocument, int]:
    (size,) = struct.unpack_from("<i", data, offset)
    end = offset + size
    if size < 5 or end > len(data) or data[end - 1] != 0:
        raise ProtocolError("BSON document length does not fit the data")
    position = offset + 4
    document: BsonDocument = {}
    while position < end - 1:
        element_type = data[position]
        name_end = data.index(b"\x00", position + 1)
        name = data[position + 1 : name_end].decode()
        document[name], position = _decode_value(data, element_type, name_end + 1)
    return document, end


def _decode_value(data: bytes, element_type: int, offset: int) -> tuple[BsonValue, int]:
    fixed_width = {0x07: 12, 0x13: 16}  # ObjectId, Decimal128
    if element_type == 0x01:
        return struct.unpack_from("<d", data, offset)[0], offset + 8
    if element_type == 0x02:
        (length,) = struct.unpack_from("<i", data, offset)
        return data[offset + 4 : offset + 4 + length - 1].decode(), offset + 4 + length
    if element_type in (0x03, 0x04):
        nested, end = _decode_document_unchecked(data, offset)
        return (nested if element_type == 0x03 else list(nested.values())), end
    if element_type == 0x05:
        (length,) = struct.unpack_from("<i", data, offset)
        return data[offset + 5 : offset + 5 + length], offset + 5 + length
    if element_type in fixed_width:
        width = fixed_width[element_type]
        return data[offset : offset + width], offset + width
    if element_type == 0x08:
        return data[offset] != 0, offset + 1
    if element_type == 0x0A:
        return None, offset
    if element_type == 0x10:
        return struct.unpack_from("<i", data, offset)[0], offset + 4
    if element_type in (0x09, 0x12):  # UTC datetime (ms) and int64
        return struct.unpack_from("<q", data, offset)[0], offset + 8
    if element_type == 0x11:  # timestamp
        return struct.unpack_from("<Q", data, offset)[0], offset + 8
    raise ProtocolError(f"BSON type 0x{element_type:02x} is not supported by this minimal decoder")


def _receive_exactly(sock: socket.socket, size: int) -> bytes:
    if size < 0:
        raise ProtocolError(f"negative frame size {size}")
    chunks = []
    remaining = size
    while remaining:
        chunk = sock.recv(min(remaining, 65536))
        if not chunk:
            raise ProtocolError(f"connection closed with {remaining} of {size} bytes unread")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)
