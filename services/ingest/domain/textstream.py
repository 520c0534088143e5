"""Decoding an uploaded text file as it streams: UTF-8 (with or without BOM), UTF-16 (with or without BOM), or
Windows-1252 bytes within, or Mac Roman."""

import codecs
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

SNIFF_BYTES = 64 * 1024
# Code units of a file's start that tell UTF-16 without a BOM from the 8-bit encodings.
_UTF16_SAMPLE_UNITS = 512
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
    # Its first bytes as sent, which tell a workbook or a document from text.
    first_bytes: bytes


def open_text(stream: BinaryIO) -> OpenedText:
    """A text stream over `stream`, decoded incrementally: the file is never held in memory.

    A BOM decides (UTF-8, or UTF-16 as Excel writes "Unicode text"). UTF-16 without a BOM, as some Windows tools
    write it, shows by its first bytes (see `_utf16_without_bom`). Otherwise the first 64 KiB decide: if they are
    not UTF-8, the file is Windows-1252 throughout, as older Windows box offices export. If they are, the file is
    read as UTF-8, and any later byte sequence that is not UTF-8 is read as Windows-1252: files assembled from
    several exports mix both, and an `é` at row 500 000 of an otherwise ASCII file must not fail the import.
    French text in Windows-1252 practically never forms valid UTF-8 by accident, so the per-sequence fallback
    does not misread it. (A file whose first 64 KiB are Windows-1252 and whose later rows are UTF-8 would show
    those rows' accents garbled; no exporter writes that.)
    """
    codecs.register_error(WINDOWS_1252_FALLBACK, _decode_as_windows_1252)
    head = stream.read(SNIFF_BYTES) or b""
    if head.startswith(codecs.BOM_UTF8):
        encoding, errors = "utf-8-sig", WINDOWS_1252_FALLBACK
    elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding, errors = "utf-16", "replace"
    elif (byte_order := _utf16_without_bom(head)) is not None:
        encoding, errors = byte_order, "replace"
    elif _is_utf8(head):
        encoding, errors = "utf-8", WINDOWS_1252_FALLBACK
    elif _looks_mac_roman(head):
        encoding, errors = "mac_roman", "strict"
    else:
        # The fallback only ever sees the five bytes Windows-1252 leaves undefined.
        encoding, errors = "cp1252", WINDOWS_1252_FALLBACK
    raw = io.BufferedReader(_Replayed(head, stream), buffer_size=SNIFF_BYTES)
    return OpenedText(io.TextIOWrapper(raw, encoding=encoding, errors=errors, newline=""), encoding, head[:16])


def _utf16_without_bom(head: bytes) -> str | None:
    """`utf-16-le` or `utf-16-be` when the file's first code units are mostly a NUL byte beside a character, on the
    same side each time, else None.

    Text in the languages of Québec's exports is mostly ASCII and Latin-1 (`é`, `à`, no-break spaces), whose
    characters UTF-16 writes with a NUL high byte; a few others (`œ`, `’`, `€`) have none. A CSV in UTF-8 or
    Windows-1252 holds no NUL byte, so it is never taken for UTF-16.
    """
    sample = head[: 2 * _UTF16_SAMPLE_UNITS]
    units = len(sample) // 2
    if units == 0:
        return None
    even_nuls, odd_nuls = sample[0 : 2 * units : 2].count(0), sample[1 : 2 * units : 2].count(0)
    # Three quarters on one side, under a quarter on the other: binary data has NULs on both.
    if 4 * odd_nuls >= 3 * units and 4 * even_nuls < units:
        return "utf-16-le"
    if 4 * even_nuls >= 3 * units and 4 * odd_nuls < units:
        return "utf-16-be"
    return None


# French letters as each encoding writes them, bytes the other gives to a rare sign or leaves undefined: in Mac Roman
# `é è à ç ê É â û ù` (0x8E…), which Windows-1252 reads `Ž`, `ˆ`, `ƒ`, `‰`, `ž` or cannot read; in Windows-1252
# `é è à ç ê ô î â û ù É` (0xE9…), which Mac Roman reads as rare capitals and signs. Typographic quotes and dashes
# (`’ – “`), which English exports hold too, are left out: each encoding puts them where the other has a letter.
_FRENCH_IN_MAC_ROMAN = tuple(bytes([byte]) for byte in b"\x8e\x8f\x88\x8d\x90\x83\x89\x9e\x9d")
_FRENCH_IN_WINDOWS_1252 = tuple(bytes([byte]) for byte in b"\xe9\xe8\xe0\xe7\xea\xf4\xee\xe2\xfb\xf9\xc9")


def _looks_mac_roman(head: bytes) -> bool:
    """Whether 8-bit text is Mac Roman, as Excel for Mac saves a plain CSV, rather than Windows-1252: its French
    letters are more often Mac Roman's than Windows-1252's."""
    mac = sum(head.count(letter) for letter in _FRENCH_IN_MAC_ROMAN)
    return mac > sum(head.count(letter) for letter in _FRENCH_IN_WINDOWS_1252)


def _is_utf8(head: bytes) -> bool:
    try:
        # Not final: the sample may end in the middle of a character.
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return True


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
