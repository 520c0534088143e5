"""One line of a batch resolution file (JSON Lines) read into a record, or a precise reason it cannot be."""

import contextlib
import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from services.identity.domain.identifiers import Identifier, IdentifierPolicy, identifiers_of, without_blocked
from services.identity.domain.matching import blocking_keys
from services.identity.domain.normalise import normalise_record, shown_in_warning
from services.identity.domain.persons import matching_record
from services.identity.domain.records import NormalisedRecord, PersonRecord

TEXT_FIELDS = (
    "source",
    "external_id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "street",
    "address_2",
    "city",
    "region",
    "postal_code",
    "country",
    "birth_date",
)
KNOWN_FIELDS = frozenset(("record_id", *TEXT_FIELDS))
MAX_FIELD_LENGTH = 1000
NOT_UTF8_WARNING = "not valid UTF-8: read as Windows-1252"


def _windows_1252_over_latin_1() -> dict[int, str]:
    # Windows-1252 is Latin-1 but for 0x80-0x9F, where it puts typographic characters (’ “ ” – € …); the five
    # bytes it leaves undefined there keep their Latin-1 meaning, so that every byte reads as something.
    table: dict[int, str] = {}
    for byte in range(0x80, 0xA0):
        with contextlib.suppress(UnicodeDecodeError):
            table[byte] = bytes((byte,)).decode("cp1252")
    return table


_WINDOWS_1252 = str.maketrans(_windows_1252_over_latin_1())


@dataclass(frozen=True, slots=True)
class BatchRecord:
    record_id: str
    record: PersonRecord
    # Fields present but unknown, named once per line so a misspelt column is noticed.
    unknown_fields: tuple[str, ...] = ()
    # What was read otherwise than written, or left out, and should be said: the line's encoding, a field that is
    # no text (a float, a list) or too long for any real value.
    warnings: tuple[str, ...] = ()


class BatchLineError(ValueError):
    """A line that cannot be used at all: not JSON, not an object, no usable record_id."""


class RecordIdError(BatchLineError):
    """A JSON object without a usable record_id: a line of the right format, unlike the other line errors."""


def decode_line(raw: bytes) -> tuple[str, bool]:
    """`raw` as text, and whether it was not UTF-8 and was read as Windows-1252 instead.

    Box offices and spreadsheets often export Windows-1252 (or Latin-1, which it extends): read as UTF-8 with
    replacement characters, Hélène would become `h l ne` and no longer match her other records.
    """
    try:
        return raw.decode("utf-8"), False
    except UnicodeDecodeError:
        return raw.decode("latin-1").translate(_WINDOWS_1252), True


_UTF8_BYTE_ORDER_MARK = b"\xef\xbb\xbf"
_UTF16_BYTE_ORDER_MARKS = (b"\xff\xfe", b"\xfe\xff")


def is_utf16(start: bytes) -> bool:
    """Whether a file starting with `start` is UTF-16 (what Windows PowerShell 5 writes with `>`): by its byte-order
    mark, or by a NUL byte beside each ASCII character of a JSON line's opening."""
    if start.startswith(_UTF16_BYTE_ORDER_MARKS):
        return True
    if len(start) < 4:
        return False
    return b"\x00\x00" in (start[1:4:2], start[0:3:2])


def ends_lines_with_cr_alone(start: bytes) -> bool:
    """Whether a file starting with `start` ends its lines with a carriage return alone, as programs of the Mac before
    OS X (and some still, saving "for Macintosh") write: read at LF, the whole file would be one line. No line end of
    another kind is there, and the first carriage return ends a record (or a blank line): JSON allows one between
    the parts of an object, and such a record is not cut in two."""
    if b"\n" in start:
        return False
    end = start.find(b"\r")
    if end < 0:
        return False
    before = start[:end].removeprefix(_UTF8_BYTE_ORDER_MARK).strip()
    return not before or before.endswith(b"}")


# A JSON array written out (`[`, then an object per line with a comma after it, then `]`) is the usual slip.
_ARRAY_HINT = " (the file looks like a JSON array: write one object per line, with no brackets or commas between)"


def opens_an_array_over_lines(first_line: str) -> bool:
    """Whether a file's first line that is not blank opens a JSON array continued on the next lines: a file of JSON
    Lines never starts with `[`, and read line by line such a file would resolve the one element with no comma after
    it and skip all the others. An array on one line is left to the reading of the line, which says what it is."""
    text = first_line.lstrip("\ufeff").strip()
    if not text.startswith("["):
        return False
    try:
        json.loads(text)
    except ValueError:
        return True
    except RecursionError:
        # Too deep to read, whole or not: the reading of the line says so.
        pass
    return False


def _part_of_an_array(line: str) -> bool:
    """Whether a line that is no JSON reads as a line of a JSON array written one element per line."""
    text = line.strip()
    if text in {"[", "]", "],", "[]"}:
        return True
    if text.startswith("[{"):
        text = text[1:]
    if text.endswith(("},", "}]", "}],")):
        text = text.rstrip("],").rstrip(",")
        try:
            return isinstance(json.loads(text), dict)
        except ValueError:
            return False
    return False


def _json_noting_repeats(line: str) -> tuple[Any, frozenset[str]]:
    """`line`'s JSON value, and the names its object gives more than one value: JSON allows a name twice, and `json`
    would keep the last value without a word, so a record could silently lose an email or take another's id."""
    repeated: frozenset[str] = frozenset()

    def as_dict(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal repeated
        # Inner objects are read first: the last one read is the line's own.
        repeated = frozenset()
        first: dict[str, Any] = {}
        for name, value in pairs:
            if name in first and first[name] != value:
                repeated |= {name}
            first.setdefault(name, value)
        return first

    return json.loads(line, object_pairs_hook=as_dict, parse_constant=_nan_as_null), repeated


def _nan_as_null(constant: str) -> float | None:
    # A pandas table written out by Python's `json` gives each empty cell as NaN: a blank, as null is, and no more
    # worth a warning (a column of numbers it stands in still has a warning for each number). Infinity is no blank:
    # it stays a float, refused as any float is.
    return None if constant == "NaN" else float(constant)


def read_batch_line(line: str | bytes) -> BatchRecord | None:
    """The record on `line`; None for a blank line; raises `BatchLineError` saying what is wrong.

    A line given as bytes is decoded by `decode_line`; when it is not UTF-8, the record says so in its warnings.
    """
    warnings: list[str] = []
    if isinstance(line, bytes):
        # Windows tools often start a UTF-8 file with a byte-order mark, even before text that is not UTF-8 after
        # all: read as Windows-1252, the mark would become `ï»¿` before the record.
        line, fell_back = decode_line(line.removeprefix(_UTF8_BYTE_ORDER_MARK))
        if fell_back:
            warnings.append(NOT_UTF8_WARNING)
    # Windows tools often start a UTF-8 file with a byte-order mark; it is no part of the first record. Without
    # its line break, an error at the end of the line is reported at the end's column, not at column 1 of a next line.
    line = line.removeprefix("\ufeff").rstrip("\r\n")
    if not line.strip():
        return None
    try:
        value, repeated = _json_noting_repeats(line)
    except json.JSONDecodeError as exc:
        hint = _ARRAY_HINT if _part_of_an_array(line) else ""
        raise BatchLineError(f"not valid JSON: {exc.msg} at column {exc.colno}{hint}") from None
    except ValueError:
        # Python refuses to read integers of thousands of digits; no id or postal code is one.
        raise BatchLineError("not valid JSON: a number has too many digits") from None
    except RecursionError:
        # Arrays or objects inside each other a thousand deep: no record is, and Python cannot read them.
        raise BatchLineError("not valid JSON: it is nested too deeply") from None
    if not isinstance(value, dict):
        hint = _ARRAY_HINT if isinstance(value, list) and any(isinstance(item, dict) for item in value) else ""
        raise BatchLineError(f"a line must be a JSON object, not {type(value).__name__}{hint}")
    if "record_id" in repeated:
        raise RecordIdError("`record_id` is given twice, with different values")
    try:
        record_id = _record_id(value.get("record_id"))
    except _UnusableFieldError as exc:
        raise RecordIdError(f"`record_id` {exc}") from None
    if record_id is None:
        raise RecordIdError("`record_id` is required")
    # Any other field that cannot be read is left out, as a field that does not parse is: the rest of the record
    # still says who it is.
    fields: dict[str, str | None] = {}
    for name in TEXT_FIELDS:
        if name in repeated:
            # Neither value is more likely the person's than the other.
            warnings.append(f"ignored {name}: it is given twice, with different values")
            fields[name] = None
            continue
        try:
            fields[name] = _text(value.get(name))
        except _UnusableFieldError as exc:
            warnings.append(f"ignored {name}: it {exc}")
    if fields.get("external_id") is not None and fields.get("source") is None:
        # An id means something only in the system that gave it: without that, it links no record to another.
        warnings.append("ignored external_id: it needs the `source` whose id it is")
        fields["external_id"] = None
    unknown = tuple(sorted(name for name in value if name not in KNOWN_FIELDS))
    return BatchRecord(
        record_id=record_id, record=PersonRecord(**fields), unknown_fields=unknown, warnings=tuple(warnings)
    )


_NO_RECORD = NormalisedRecord()


@dataclass(frozen=True, slots=True)
class PreparedLine:
    """A line with everything that does not depend on the records before it worked out: what resolving it needs,
    or why it cannot be used."""

    line_number: int
    # Why the line cannot be used at all (`read_batch_line`'s error); then nothing else is set.
    problem: str | None = None
    # Whether that is because the line is no JSON object: the sign of a file in another format.
    unreadable: bool = False
    # Empty for a blank line, which is passed over.
    record_id: str = ""
    unknown_fields: tuple[str, ...] = ()
    # `BatchRecord.warnings`, worded for the report.
    warnings: tuple[str, ...] = ()
    record: NormalisedRecord = _NO_RECORD
    identifiers: tuple[Identifier, ...] = ()
    # `blocking_keys` of the record as persons keep it.
    keys: tuple[str, ...] = ()
    # (field, value as the line gives it) of each identifier the policy blocks: left out of `record` and
    # `identifiers`, and said, since a line with a phone that links nobody reads as a mistake otherwise.
    blocked_values: tuple[tuple[str, str], ...] = ()


def prepare_line(
    line_number: int,
    line: str | bytes,
    *,
    today: date,
    default_region: str,
    policy: IdentifierPolicy,
    organisation_id: str,
) -> PreparedLine:
    """`line` read, normalised, its identifiers and blocking keys found; never raises."""
    try:
        batch_record = read_batch_line(line)
    except BatchLineError as exc:
        return PreparedLine(line_number, problem=str(exc), unreadable=not isinstance(exc, RecordIdError))
    if batch_record is None:
        return PreparedLine(line_number)
    record = normalise_record(batch_record.record, today=today, default_region=default_region)
    identifiers, blocked = identifiers_of(record, policy, organisation_id)
    blocked_values: tuple[tuple[str, str], ...] = ()
    if blocked:
        record = without_blocked(record, blocked)
        blocked_values = values_as_given(batch_record.record, blocked)
    return PreparedLine(
        line_number,
        record_id=batch_record.record_id,
        unknown_fields=batch_record.unknown_fields,
        warnings=batch_record.warnings,
        record=record,
        identifiers=tuple(identifiers),
        keys=blocking_keys(matching_record(record)),
        blocked_values=blocked_values,
    )


def values_as_given(given: PersonRecord, identifiers: list[Identifier]) -> tuple[tuple[str, str], ...]:
    """(field, value as the line wrote it) of each of `identifiers`, which were found in `given`, normalised."""
    return tuple(
        (identifier.type.value, getattr(given, identifier.type.value) or identifier.value) for identifier in identifiers
    )


_NEEDS = "it needs an external_id, an email, a phone, or first and last names"


def names_nobody(blocked_values: tuple[tuple[str, str], ...]) -> str:
    """Why a line that names nobody is skipped, with the blocked values it gives, which look like identifiers."""
    if not blocked_values:
        return f"names nobody: {_NEEDS}"
    if len(blocked_values) == 1:
        shared = "is a shared or placeholder value the identifier policy blocks, which links nobody"
    else:
        shared = "are shared or placeholder values the identifier policy blocks, which link nobody"
    return f"names nobody: {_listed(blocked_values)} {shared}; {_NEEDS}"


def ignored_blocked_values(blocked_values: tuple[tuple[str, str], ...]) -> str:
    """The warning for the blocked values of a line resolved on its other fields: one for the line."""
    if len(blocked_values) == 1:
        shared = "a shared or placeholder value the identifier policy blocks links nobody"
    else:
        shared = "shared or placeholder values the identifier policy blocks link nobody"
    return f"ignored {_listed(blocked_values)}: {shared}"


def _listed(blocked_values: tuple[tuple[str, str], ...]) -> str:
    # The values are the user's own file's, which the report echoes as it does a value that does not parse (cut short
    # alike: `info@*` blocks an address of any length); which entry of the policy blocks them is not said, since an
    # organisation's list is its own.
    named = [f"{field} {shown_in_warning(value)!r}" for field, value in blocked_values]
    return named[0] if len(named) == 1 else f"{', '.join(named[:-1])} and {named[-1]}"


class _UnusableFieldError(ValueError):
    """A field's value that is no text this record could hold; the message says why, after the field's name."""


def _record_id(raw: Any) -> str | None:
    """The id as given, surrounding spaces and all: the output row must join back to its line on it, and ids that
    differ by their spaces are not one. Spaces alone are no id."""
    if _text(raw) is None:
        return None
    record_id = str(raw)
    if len(record_id) > MAX_FIELD_LENGTH:
        raise _UnusableFieldError(f"is longer than {MAX_FIELD_LENGTH} characters")
    return record_id


def _text(raw: Any) -> str | None:
    if raw is None:
        return None
    # Exports write ids and postal codes as numbers as often as text; both mean the same. A float is not taken:
    # 5145550199.0 or 1.2e3 is not how the number was written.
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        raise _UnusableFieldError(f"must be text, not {type(raw).__name__}")
    text = str(raw).strip()
    if len(text) > MAX_FIELD_LENGTH:
        raise _UnusableFieldError(f"is longer than {MAX_FIELD_LENGTH} characters")
    # JSON may escape half of a character pair (`\ud800`): such text cannot be hashed, stored or written out.
    if not text.isascii() and any("\ud800" <= char <= "\udfff" for char in text):
        raise _UnusableFieldError("holds an unpaired surrogate escape, which is not a character")
    return text or None
