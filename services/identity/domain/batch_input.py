"""One line of a batch resolution file (JSON Lines) read into a record, or a precise reason it cannot be."""

import contextlib
import json
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from services.identity.domain.identifiers import Identifier, IdentifierPolicy, identifiers_of, without_blocked
from services.identity.domain.matching import blocking_keys
from services.identity.domain.normalise import normalise_record, shown_in_warning
from services.identity.domain.persons import matching_record
from services.identity.domain.records import NormalisedRecord, PersonRecord
from shared.bilingual import format_count, in_language, json_message_fr, quoted
from shared.events import Language
from shared.records import quick_init

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
NOT_UTF8_WARNING_FR = "pas en UTF-8 valide ; lue en Windows-1252"


def _windows_1252_over_latin_1() -> dict[int, str]:
    # Windows-1252 is Latin-1 but for 0x80-0x9F, where it puts typographic characters (’ “ ” – € …); the five
    # bytes it leaves undefined there keep their Latin-1 meaning, so that every byte reads as something.
    table: dict[int, str] = {}
    for byte in range(0x80, 0xA0):
        with contextlib.suppress(UnicodeDecodeError):
            table[byte] = bytes((byte,)).decode("cp1252")
    return table


_WINDOWS_1252 = str.maketrans(_windows_1252_over_latin_1())


@quick_init
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
# Looked for first: the little-endian one starts with UTF-16's.
_UTF32_BYTE_ORDER_MARKS = (b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")


def wide_encoding(start: bytes) -> Literal["UTF-16", "UTF-32"] | None:
    """Which of UTF-16 (what Windows PowerShell 5 writes with `>`) and UTF-32 a file starting with `start` is in, if
    either: by its byte-order mark, or by the NUL bytes beside each ASCII character of a JSON line's opening, three
    of four in UTF-32 and one of two in UTF-16 (no JSON line holds a NUL character)."""
    if start.startswith(_UTF32_BYTE_ORDER_MARKS):
        return "UTF-32"
    if start.startswith(_UTF16_BYTE_ORDER_MARKS):
        return "UTF-16"
    if len(start) < 4:
        return None
    if b"\x00\x00\x00" in (start[1:4], start[0:3]):
        return "UTF-32"
    if b"\x00\x00" in (start[1:4:2], start[0:3:2]):
        return "UTF-16"
    return None


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
_ARRAY_HINT_FR = (
    " (le fichier ressemble à un tableau JSON : écrivez un objet par ligne, sans crochets ni virgules entre eux)"
)
# A JSON value's kind, in French, by the name of the Python type it is read as (the English names that type).
# What a JSON value is called, by the Python type it is read as: staff read JSON's words, not Python's.
_JSON_KINDS = {
    "list": "an array",
    "dict": "an object",
    "str": "text",
    "int": "a whole number",
    "float": "a decimal number",
    "bool": "a boolean",
    "NoneType": "null",
}
_JSON_KINDS_FR = {
    "list": "un tableau",
    "dict": "un objet",
    "str": "du texte",
    "int": "un nombre entier",
    "float": "un nombre décimal",
    "bool": "un booléen",
    "NoneType": "null",
}


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
    # Every name of every object is followed by a colon of its own, so an object with as many distinct names as the
    # line has colons can have no name twice, nor an inner object with a name: read without noting repeats, it is
    # what noting them would give. Anything else (a colon inside a value, a repeat, a line that is no JSON) is read
    # again noting them, which also says what is wrong as `json.loads` words it.
    try:
        value = _JSON.decode(line)
    except (ValueError, RecursionError):
        value = None
    if type(value) is dict and len(value) == line.count(":"):
        return value, frozenset()
    return _json_with_repeats(line)


def _json_with_repeats(line: str) -> tuple[Any, frozenset[str]]:
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


_JSON = json.JSONDecoder(parse_constant=_nan_as_null)


def read_batch_line(line: str | bytes, language: Language = "en") -> BatchRecord | None:
    """The record on `line`; None for a blank line; raises `BatchLineError` saying what is wrong.

    A line given as bytes is decoded by `decode_line`; when it is not UTF-8, the record says so in its warnings.
    The error and the warnings are worded in `language`.
    """

    def said(en: str, fr: str) -> str:
        return in_language(language, en=en, fr=fr)

    warnings: list[str] = []
    if isinstance(line, bytes):
        # Windows tools often start a UTF-8 file with a byte-order mark, even before text that is not UTF-8 after
        # all: read as Windows-1252, the mark would become `ï»¿` before the record.
        line, fell_back = decode_line(line.removeprefix(_UTF8_BYTE_ORDER_MARK))
        if fell_back:
            warnings.append(said(NOT_UTF8_WARNING, NOT_UTF8_WARNING_FR))
    # Windows tools often start a UTF-8 file with a byte-order mark; it is no part of the first record. Without
    # its line break, an error at the end of the line is reported at the end's column, not at column 1 of a next line.
    line = line.removeprefix("\ufeff").rstrip("\r\n")
    if not line.strip():
        return None
    try:
        value, repeated = _json_noting_repeats(line)
    except json.JSONDecodeError as exc:
        hint = said(_ARRAY_HINT, _ARRAY_HINT_FR) if _part_of_an_array(line) else ""
        raise BatchLineError(
            said(
                f"not valid JSON: {exc.msg} at column {exc.colno}{hint}",
                f"JSON non valide : {json_message_fr(exc.msg)} à la colonne {exc.colno}{hint}",
            )
        ) from None
    except ValueError:
        # Python refuses to read integers of thousands of digits; no id or postal code is one.
        raise BatchLineError(
            said("not valid JSON: a number has too many digits", "JSON non valide : un nombre a trop de chiffres")
        ) from None
    except RecursionError:
        # Arrays or objects inside each other a thousand deep: no record is, and Python cannot read them.
        raise BatchLineError(
            said("not valid JSON: it is nested too deeply", "JSON non valide : ses imbrications sont trop profondes")
        ) from None
    if not isinstance(value, dict):
        has_objects = isinstance(value, list) and any(isinstance(item, dict) for item in value)
        hint = said(_ARRAY_HINT, _ARRAY_HINT_FR) if has_objects else ""
        raise BatchLineError(
            said(
                f"a line must be a JSON object, not {_kind(value)}{hint}",
                f"une ligne doit être un objet JSON, pas {_kind_fr(value)}{hint}",
            )
        )
    if "record_id" in repeated:
        raise RecordIdError(
            said(
                "`record_id` is given twice, with different values",
                "`record_id` est donné deux fois, avec des valeurs différentes",
            )
        )
    try:
        record_id = _record_id(value.get("record_id"))
    except _UnusableFieldError as exc:
        raise RecordIdError(said(f"`record_id` {exc}", f"`record_id` {exc.fr}")) from None
    if record_id is None:
        raise RecordIdError(said("`record_id` is required", "`record_id` est obligatoire"))
    # Any other field that cannot be read is left out, as a field that does not parse is: the rest of the record
    # still says who it is.
    fields: dict[str, str | None] = {}
    for name in TEXT_FIELDS:
        if name in repeated:
            # Neither value is more likely the person's than the other.
            warnings.append(
                said(
                    f"ignored {name}: it is given twice, with different values",
                    f"champ {name} ignoré : il est donné deux fois, avec des valeurs différentes",
                )
            )
            fields[name] = None
            continue
        raw = value.get(name)
        if raw is None:
            # Not given, or null: the record's field stays None.
            continue
        try:
            fields[name] = _text(raw)
        except _UnusableFieldError as exc:
            warnings.append(said(f"ignored {name}: it {exc}", f"champ {name} ignoré : il {exc.fr}"))
    if fields.get("external_id") is not None and fields.get("source") is None:
        # An id means something only in the system that gave it: without that, it links no record to another.
        warnings.append(
            said(
                "ignored external_id: it needs the `source` whose id it is",
                "champ external_id ignoré : il lui faut la `source` dont il est l'identifiant",
            )
        )
        fields["external_id"] = None
    unknown = tuple(sorted(value.keys() - KNOWN_FIELDS))
    return BatchRecord(
        record_id=record_id, record=PersonRecord(**fields), unknown_fields=unknown, warnings=tuple(warnings)
    )


_NO_RECORD = NormalisedRecord()


@quick_init
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
    # `BatchRecord.warnings`, worded for the report in the language the line was prepared in.
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
    language: Language = "en",
) -> PreparedLine:
    """`line` read, normalised, its identifiers and blocking keys found, its problems worded in `language`; never
    raises."""
    try:
        batch_record = read_batch_line(line, language)
    except BatchLineError as exc:
        return PreparedLine(line_number, problem=str(exc), unreadable=not isinstance(exc, RecordIdError))
    if batch_record is None:
        return PreparedLine(line_number)
    record = normalise_record(batch_record.record, today=today, default_region=default_region, language=language)
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
_NEEDS_FR = "il lui faut un external_id, un courriel, un téléphone, ou un prénom et un nom"


def names_nobody(blocked_values: tuple[tuple[str, str], ...], language: Language = "en") -> str:
    """Why a line that names nobody is skipped, with the blocked values it gives, which look like identifiers."""
    if not blocked_values:
        return in_language(language, en=f"names nobody: {_NEEDS}", fr=f"ne désigne personne : {_NEEDS_FR}")
    listed = _listed(blocked_values, language)
    if len(blocked_values) == 1:
        return in_language(
            language,
            en=f"names nobody: {listed} is a shared or placeholder value the identifier policy blocks, which links "
            f"nobody; {_NEEDS}",
            fr=f"ne désigne personne : {listed} est une valeur partagée ou fictive que la politique d'identifiants "
            f"bloque, et qui ne relie personne ; {_NEEDS_FR}",
        )
    return in_language(
        language,
        en=f"names nobody: {listed} are shared or placeholder values the identifier policy blocks, which link nobody; "
        f"{_NEEDS}",
        fr=f"ne désigne personne : {listed} sont des valeurs partagées ou fictives que la politique d'identifiants "
        f"bloque, et qui ne relient personne ; {_NEEDS_FR}",
    )


def ignored_blocked_values(blocked_values: tuple[tuple[str, str], ...], language: Language = "en") -> str:
    """The warning for the blocked values of a line resolved on its other fields: one for the line."""
    listed = _listed(blocked_values, language)
    if len(blocked_values) == 1:
        return in_language(
            language,
            en=f"ignored {listed}: a shared or placeholder value the identifier policy blocks links nobody",
            fr=f"{listed} ignoré : une valeur partagée ou fictive que la politique d'identifiants bloque ne relie "
            "personne",
        )
    return in_language(
        language,
        en=f"ignored {listed}: shared or placeholder values the identifier policy blocks link nobody",
        fr=f"{listed} ignorés : des valeurs partagées ou fictives que la politique d'identifiants bloque ne relient "
        "personne",
    )


def _listed(blocked_values: tuple[tuple[str, str], ...], language: Language) -> str:
    # The values are the user's own file's, which the report echoes as it does a value that does not parse (cut short
    # alike: `info@*` blocks an address of any length); which entry of the policy blocks them is not said, since an
    # organisation's list is its own.
    named = [f"{field} {quoted(shown_in_warning(value), language)}" for field, value in blocked_values]
    if len(named) == 1:
        return named[0]
    return f"{', '.join(named[:-1])} {in_language(language, en='and', fr='et')} {named[-1]}"


def on_line(line_number: int, message: str, language: Language = "en") -> str:
    """A problem as the report lists it: `line 12: …`."""
    return in_language(language, en=f"line {line_number}: {message}", fr=f"ligne {line_number} : {message}")


def skipped_because(reason: str, language: Language = "en") -> str:
    """Why a line was skipped, as the report says it."""
    return in_language(language, en=f"skipped: {reason}", fr=f"écartée : {reason}")


def ignored_unknown_fields(names: tuple[str, ...], language: Language = "en") -> str:
    listed = ", ".join(names)
    fr = f"champ inconnu ignoré : {listed}" if len(names) == 1 else f"champs inconnus ignorés : {listed}"
    return in_language(language, en=f"ignored unknown fields: {listed}", fr=fr)


def ignored_unusable(normalising_warning: str, language: Language = "en") -> str:
    """A warning of `normalise_record` as the report says it: that field was left out."""
    # The French warning says so already, its word order putting it before the colon.
    return in_language(language, en=f"ignored {normalising_warning}", fr=normalising_warning)


def already_used(record_id: str, first_line: int, language: Language = "en") -> str:
    return in_language(
        language,
        en=f"`record_id` {quoted(record_id, 'en')} was already used on line {first_line}",
        fr=f"`record_id` {quoted(record_id, 'fr')} a déjà servi à la ligne {first_line}",
    )


def _kind(value: Any) -> str:
    name = type(value).__name__
    return _JSON_KINDS.get(name, name)


def _kind_fr(value: Any) -> str:
    name = type(value).__name__
    return _JSON_KINDS_FR.get(name, name)


class _UnusableFieldError(ValueError):
    """A field's value that is no text this record could hold; the message says why, after the field's name, in
    English, and `fr` in French."""

    def __init__(self, en: str, fr: str) -> None:
        super().__init__(en)
        self.fr = fr


def _record_id(raw: Any) -> str | None:
    """The id as given, surrounding spaces and all: the output row must join back to its line on it, and ids that
    differ by their spaces are not one. Spaces alone are no id."""
    if _text(raw) is None:
        return None
    record_id = str(raw)
    if len(record_id) > MAX_FIELD_LENGTH:
        raise _too_long()
    return record_id


def _too_long() -> _UnusableFieldError:
    return _UnusableFieldError(
        f"is longer than {MAX_FIELD_LENGTH} characters", f"dépasse {format_count(MAX_FIELD_LENGTH, 'fr')} caractères"
    )


def _text(raw: Any) -> str | None:
    if raw is None:
        return None
    # Exports write ids and postal codes as numbers as often as text; both mean the same. A float is not taken:
    # 5145550199.0 or 1.2e3 is not how the number was written.
    if isinstance(raw, str):
        text = raw.strip()
    elif isinstance(raw, int) and not isinstance(raw, bool):
        text = str(raw).strip()
    else:
        raise _UnusableFieldError(f"must be text, not {_kind(raw)}", f"doit être du texte, pas {_kind_fr(raw)}")
    if len(text) > MAX_FIELD_LENGTH:
        raise _too_long()
    # JSON may escape half of a character pair (`\ud800`): such text cannot be hashed, stored or written out.
    if not text.isascii() and any("\ud800" <= char <= "\udfff" for char in text):
        raise _UnusableFieldError(
            "holds an unpaired surrogate escape, which is not a character",
            "contient une moitié de paire de substitution (\\ud800), qui n'est pas un caractère",
        )
    return text or None
