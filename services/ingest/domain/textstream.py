"""Decoding an uploaded text file as it streams: UTF-8 (with or without BOM), UTF-16, or Windows-1252 bytes within."""

import codecs
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

SNIFF_BYTES = 64 * 1024
WINDOWS_1252_FALLBACK = "parterre-windows-1252-fallback"


def _windows_1252_table() -> tuple[str, ...]:
    table = []
    for byte in range(256):
        try:
            table.append(bytes([byte]).decode("cp1252"))
        except UnicodeDecodeError:
            # The five bytes Windows-1252 leaves undefined read as Latin-1 (C1 controls), as Windows itself does.
            table.append(chr(byte))
    return tuple(table)


_WINDOWS_1252 = _windows_1252_table()


def _decode_as_windows_1252(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeDecodeError):
        raise error
    undecodable = error.object[error.start : error.end]
    return "".join(_WINDOWS_1252[byte] for byte in undecodable), error.end


@dataclass(frozen=True)
class OpenedText:
    text: io.TextIOWrapper
    # What the file starts with; `utf-8` files may still carry Windows-1252 bytes further on.
    encoding: str


def open_text(stream: BinaryIO) -> OpenedText:
    """A text stream over `stream`, decoded incrementally: the file is never held in memory.

    A BOM decides (UTF-8 or UTF-16, as Excel writes "Unicode text"). Otherwise the file is read as UTF-8, and any
    byte sequence that is not UTF-8 is read as Windows-1252: exports from older Windows box offices are
    Windows-1252 throughout, and files assembled from several exports mix both. Deciding per sequence, not from a
    first sample, is what keeps an `é` at row 500 000 of an otherwise ASCII file from failing the whole import;
    Windows-1252 text in French practically never forms valid UTF-8 sequences by accident.
    """
    codecs.register_error(WINDOWS_1252_FALLBACK, _decode_as_windows_1252)
    head = stream.read(SNIFF_BYTES) or b""
    if head.startswith(codecs.BOM_UTF8):
        encoding, errors = "utf-8-sig", WINDOWS_1252_FALLBACK
    elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding, errors = "utf-16", "replace"
    else:
        encoding, errors = "utf-8", WINDOWS_1252_FALLBACK
    raw = io.BufferedReader(_Replayed(head, stream), buffer_size=SNIFF_BYTES)
    return OpenedText(io.TextIOWrapper(raw, encoding=encoding, errors=errors, newline=""), encoding)


class _Replayed(io.RawIOBase):
    """`stream` with the bytes already read from it put back in front; closing it leaves `stream` open."""

    def __init__(self, head: bytes, stream: BinaryIO) -> None:
        super().__init__()
        self._head = memoryview(head)
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        target = memoryview(buffer).cast("B")
        if self._head.nbytes:
            count = min(target.nbytes, self._head.nbytes)
            target[:count] = self._head[:count]
            self._head = self._head[count:]
            return count
        chunk = self._stream.read(target.nbytes)
        if not chunk:
            return 0
        target[: len(chunk)] = chunk
        return len(chunk)


class BoundedLines:
    """The lines of `text`, each at most `max_chars` long, so that one corrupt line cannot exhaust memory.

    The rest of a longer line is skipped and the line read as empty; `overlong` counts them, so the caller can
    reject the record that held one.
    """

    def __init__(self, text: io.TextIOWrapper, max_chars: int) -> None:
        self._text = text
        self._max_chars = max_chars
        self.overlong = 0

    def __iter__(self) -> Iterator[str]:
        while line := self._text.readline(self._max_chars):
            if len(line) == self._max_chars and not line.endswith(("\n", "\r")):
                while (rest := self._text.readline(self._max_chars)) and not rest.endswith(("\n", "\r")):
                    pass
                self.overlong += 1
                yield "\n"
            else:
                yield line
