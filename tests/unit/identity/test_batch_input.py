"""One line of a batch file becomes a record, or a precise reason it cannot; nothing else ever escapes."""

import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from services.identity.domain.batch_input import (
    KNOWN_FIELDS,
    MAX_FIELD_LENGTH,
    TEXT_FIELDS,
    BatchLineError,
    BatchRecord,
    _json_noting_repeats,
    _json_with_repeats,
    decode_line,
    ends_lines_with_cr_alone,
    ignored_blocked_values,
    names_nobody,
    opens_an_array_over_lines,
    read_batch_line,
)
from services.identity.domain.records import PersonRecord


def line_of(**fields: Any) -> str:
    return json.dumps(fields, ensure_ascii=False)


def read_or_reason(line: str) -> BatchRecord | str | None:
    """The record, or the line error's message (never empty); any other exception fails the test."""
    try:
        return read_batch_line(line)
    except BatchLineError as error:
        reason = str(error)
    assert reason
    return reason


def refusal(line: str) -> str:
    with pytest.raises(BatchLineError) as error:
        read_batch_line(line)
    return str(error.value)


def test_a_line_with_an_id_and_person_fields_becomes_that_record() -> None:
    line = line_of(
        record_id="vente-1",
        source="billetterie-principale",
        external_id="C-1001",
        first_name="Élise",
        last_name="Gagnon",
        email="elise@example.com",
        postal_code="H2J 2L1",
    )
    assert read_batch_line(line) == BatchRecord(
        record_id="vente-1",
        record=PersonRecord(
            source="billetterie-principale",
            external_id="C-1001",
            first_name="Élise",
            last_name="Gagnon",
            email="elise@example.com",
            postal_code="H2J 2L1",
        ),
    )


@pytest.mark.parametrize("line", ["", "\n", "   \t  \r\n", "\ufeff\n"])
def test_a_blank_line_is_no_record_and_no_error(line: str) -> None:
    assert read_batch_line(line) is None


def test_a_byte_order_mark_before_the_first_record_is_not_part_of_it() -> None:
    record = read_batch_line("\ufeff" + line_of(record_id="r1", email="a@b.example"))
    assert record is not None
    assert record.record_id == "r1"


def test_a_utf8_line_is_read_as_utf8_with_no_warning() -> None:
    line = line_of(record_id="r1", first_name="Hélène ’🎭").encode("utf-8")
    assert decode_line(line) == (line_of(record_id="r1", first_name="Hélène ’🎭"), False)
    record = read_batch_line(line)
    assert record is not None
    assert (record.record.first_name, record.warnings) == ("Hélène ’🎭", ())


def test_a_line_that_is_not_utf8_is_read_as_windows_1252_and_says_so() -> None:
    line = line_of(record_id="r1", first_name="Hélène", last_name="O’Neil", city="Montréal").encode("cp1252")
    record = read_batch_line(line)
    assert record is not None
    assert (record.record.first_name, record.record.last_name, record.record.city) == ("Hélène", "O’Neil", "Montréal")
    assert record.warnings == ("not valid UTF-8: read as Windows-1252",)


def test_the_bytes_windows_1252_leaves_undefined_are_read_as_latin_1() -> None:
    assert decode_line(b"\xe9\x80\x81\x8d\x8f\x90\x9d\x9f") == ("é€\x81\x8d\x8f\x90\x9dŸ", True)


@given(raw=st.binary(max_size=40))
@example(raw=b"\xef\xbb\xbf")
@example(raw=b'\xef\xbb\xbf{"first_name": "H\xe9l\xe8ne"}')
def test_any_bytes_are_read_as_text_one_character_a_byte_unless_they_are_utf8(raw: bytes) -> None:
    text, fell_back = decode_line(raw)
    if fell_back:
        assert len(text) == len(raw)
        with pytest.raises(UnicodeDecodeError):
            raw.decode("utf-8")
    else:
        assert text.encode("utf-8") == raw


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{", "not valid JSON: Expecting property name enclosed in double quotes at column 2"),
        ("record_id,email", "not valid JSON: Expecting value at column 1"),
        ("{'record_id': 'r1'}", "not valid JSON: Expecting property name enclosed in double quotes at column 2"),
        ('{"record_id": "r1",}', "not valid JSON: Expecting property name enclosed in double quotes at column 20"),
        ('{"record_id": "r1"} {"record_id": "r2"}', "not valid JSON: Extra data at column 21"),
    ],
)
def test_a_line_that_is_not_json_says_so_and_where(line: str, message: str) -> None:
    assert refusal(line) == message


@pytest.mark.parametrize("end", ["\n", "\r\n"])
def test_a_line_cut_short_is_reported_at_its_last_column_whatever_line_break_ends_it(end: str) -> None:
    line = '{"record_id": "r2", "email": '
    assert refusal(line + end) == f"not valid JSON: Expecting value at column {len(line) + 1}"


@pytest.mark.parametrize(
    ("line", "kind"),
    [("[1, 2]", "an array"), ('"r1"', "text"), ("42", "a whole number"), ("null", "null"), ("true", "a boolean")],
)
def test_a_line_that_is_json_but_not_an_object_is_refused_naming_what_it_is(line: str, kind: str) -> None:
    assert refusal(line) == f"a line must be a JSON object, not {kind}"


@pytest.mark.parametrize(
    "line",
    [
        line_of(email="a@b.example"),
        line_of(record_id=None),
        line_of(record_id=""),
        line_of(record_id="   "),
        line_of(record_id="\u00a0\u2003\u3000"),
        line_of(record_id="\t\r\n"),
    ],
)
def test_a_line_without_a_record_id_is_refused(line: str) -> None:
    assert refusal(line) == "`record_id` is required"


def test_a_line_nested_deeper_than_json_can_be_read_is_refused_not_raised() -> None:
    nested = "[" * 100_000 + "]" * 100_000
    assert refusal('{"record_id": "r1", "notes": ' + nested + "}") == "not valid JSON: it is nested too deeply"
    assert not opens_an_array_over_lines(nested)


@pytest.mark.parametrize(
    ("value", "kind"),
    [(["r1"], "an array"), (True, "a boolean"), (1001.0, "a decimal number"), ({"id": 1}, "an object")],
)
def test_a_record_id_of_the_wrong_kind_is_refused_naming_the_kind(value: Any, kind: str) -> None:
    assert refusal(line_of(record_id=value)) == f"`record_id` must be text, not {kind}"


@pytest.mark.parametrize(
    ("field", "value", "kind"),
    [
        ("email", ["a@b.example", "c@d.example"], "an array"),
        ("first_name", {"given": "Élise"}, "an object"),
        ("phone", 5145550199.0, "a decimal number"),
        ("postal_code", False, "a boolean"),
        ("birth_date", {"year": 1984}, "an object"),
    ],
)
def test_a_field_of_the_wrong_kind_is_ignored_with_a_warning_naming_it_and_the_rest_is_kept(
    field: str, value: Any, kind: str
) -> None:
    record = read_batch_line(line_of(record_id="r1", last_name="Gagnon", **{field: value}))
    assert record == BatchRecord(
        record_id="r1",
        record=PersonRecord(last_name="Gagnon"),
        warnings=(f"ignored {field}: it must be text, not {kind}",),
    )


def test_an_external_id_without_its_source_is_ignored_with_a_warning() -> None:
    record = read_batch_line(line_of(record_id="r1", external_id="C-7", last_name="Gagnon"))
    assert record == BatchRecord(
        record_id="r1",
        record=PersonRecord(last_name="Gagnon"),
        warnings=("ignored external_id: it needs the `source` whose id it is",),
    )


def test_a_field_given_twice_with_different_values_is_ignored_with_a_warning_not_silently_one_of_them() -> None:
    record = read_batch_line(
        '{"record_id": "r1", "email": "anne@example.com", "last_name": "Gagnon", "email": "paul@example.com"}'
    )
    assert record == BatchRecord(
        record_id="r1",
        record=PersonRecord(last_name="Gagnon"),
        warnings=("ignored email: it is given twice, with different values",),
    )


def test_a_field_given_twice_with_the_same_value_is_read_once_without_a_word() -> None:
    record = read_batch_line('{"record_id": "r1", "email": "anne@example.com", "email": "anne@example.com"}')
    assert record == BatchRecord(record_id="r1", record=PersonRecord(email="anne@example.com"))


def test_a_record_id_given_twice_with_different_values_is_refused() -> None:
    assert refusal('{"record_id": "r1", "email": "anne@example.com", "record_id": "r2"}') == (
        "`record_id` is given twice, with different values"
    )


def test_a_field_longer_than_any_real_value_is_ignored_with_a_warning() -> None:
    record = read_batch_line(line_of(record_id="r1", email="a@b.example", street="x" * (MAX_FIELD_LENGTH + 1)))
    assert record == BatchRecord(
        record_id="r1",
        record=PersonRecord(email="a@b.example"),
        warnings=(f"ignored street: it is longer than {MAX_FIELD_LENGTH} characters",),
    )
    kept = read_batch_line(line_of(record_id="r1", street="x" * MAX_FIELD_LENGTH))
    assert kept is not None
    assert (kept.record.street, kept.warnings) == ("x" * MAX_FIELD_LENGTH, ())


def test_a_record_id_longer_than_any_real_value_is_refused() -> None:
    assert refusal(line_of(record_id="x" * (MAX_FIELD_LENGTH + 1))) == (
        f"`record_id` is longer than {MAX_FIELD_LENGTH} characters"
    )


def test_a_number_with_thousands_of_digits_is_a_line_error_not_a_crash() -> None:
    assert refusal('{"record_id": ' + "9" * 5000 + "}") == "not valid JSON: a number has too many digits"


def test_an_unpaired_surrogate_escape_is_left_out_since_it_cannot_be_stored_or_written() -> None:
    assert refusal('{"record_id": "r1\\ud800"}') == (
        "`record_id` holds an unpaired surrogate escape, which is not a character"
    )
    record = read_batch_line('{"record_id": "r1", "last_name": "Gagnon\\ud800"}')
    assert record is not None
    assert (record.record.last_name, record.warnings) == (
        None,
        ("ignored last_name: it holds an unpaired surrogate escape, which is not a character",),
    )
    paired = read_batch_line('{"record_id": "r1", "last_name": "Gagnon \\ud83c\\udfad"}')
    assert paired is not None
    assert paired.record.last_name == "Gagnon 🎭"


def test_ids_and_postal_codes_written_as_numbers_are_read_as_their_text() -> None:
    record = read_batch_line(
        line_of(
            record_id=1001, source="boutique", external_id=207, postal_code=75001, phone=5145550199, birth_date=19840317
        )
    )
    assert record == BatchRecord(
        record_id="1001",
        record=PersonRecord(
            source="boutique", external_id="207", postal_code="75001", phone="5145550199", birth_date="19840317"
        ),
    )


def test_text_is_trimmed_and_blank_or_null_fields_are_not_given() -> None:
    record = read_batch_line(line_of(record_id="r1", first_name="  Élise  ", last_name="   ", email=None))
    assert record == BatchRecord(record_id="r1", record=PersonRecord(first_name="Élise"))


@pytest.mark.parametrize("record_id", ["  r1 ", "r1\t", "\u00a0r1", "r1\u2003", "\nr1\r\n", " 1001 "])
def test_a_record_id_is_kept_exactly_as_given_so_the_output_joins_back_to_its_line(record_id: str) -> None:
    record = read_batch_line(line_of(record_id=record_id, first_name="Élise"))
    assert record == BatchRecord(record_id=record_id, record=PersonRecord(first_name="Élise"))


def test_a_record_id_longer_than_any_real_value_with_its_spaces_is_refused() -> None:
    # The id is kept with its spaces: they count in its length.
    assert refusal(line_of(record_id=" " + "r" * MAX_FIELD_LENGTH)) == (
        f"`record_id` is longer than {MAX_FIELD_LENGTH} characters"
    )


def test_a_long_value_the_policy_blocks_is_shown_cut_short_as_any_value_a_warning_names() -> None:
    # `info@*` blocks an address of any length: one line's must not bloat the report by a thousand characters.
    address = "info@" + "a" * 900 + ".example"
    shown = repr(address[:80] + "…")
    assert ignored_blocked_values((("email", address),)) == (
        f"ignored email {shown}: a shared or placeholder value the identifier policy blocks links nobody"
    )
    assert names_nobody((("email", address),)).startswith(f"names nobody: email {shown} is a shared")


def test_unknown_fields_are_listed_once_sorted_and_do_not_stop_the_line() -> None:
    record = read_batch_line(line_of(record_id="r1", courriel="a@b.example", e_mail="c@d.example", email="e@f.example"))
    assert record is not None
    assert record.unknown_fields == ("courriel", "e_mail")
    assert record.record.email == "e@f.example"


def test_unknown_fields_may_hold_anything_since_they_are_not_read() -> None:
    record = read_batch_line(line_of(record_id="r1", tickets=[{"seat": "A1"}], vip=True))
    assert record is not None
    assert record.unknown_fields == ("tickets", "vip")


def test_every_field_a_record_has_is_a_known_batch_field() -> None:
    assert set(TEXT_FIELDS) == set(PersonRecord.__dataclass_fields__)
    assert set(TEXT_FIELDS) | {"record_id"} == KNOWN_FIELDS


json_leaves = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
)
json_values = st.recursive(
    json_leaves,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)
field_names = st.sampled_from([*sorted(KNOWN_FIELDS), "courriel", "notes", ""])
# Any text, and now and then half of a surrogate pair, which JSON can escape but no text can hold.
texts = st.text(max_size=40) | st.text(alphabet=st.sampled_from(["a", " ", "é", "🎭", "\ud800", "\udfff"]), max_size=6)


@given(
    record_id=texts,
    text_fields=st.dictionaries(
        st.sampled_from(TEXT_FIELDS), texts | st.text(min_size=990, max_size=1010) | st.integers(), max_size=6
    ),
    other_fields=st.dictionaries(field_names, json_values, max_size=4),
)
def test_any_json_object_with_a_record_id_is_a_record_or_a_line_error_about_that_id(
    record_id: str, text_fields: dict[str, Any], other_fields: dict[str, Any]
) -> None:
    fields = {**other_fields, **text_fields, "record_id": record_id}
    record = read_or_reason(json.dumps(fields))
    if isinstance(record, str):
        # Only the id can make a line unusable; any other field is left out on its own.
        assert record.startswith("`record_id`")
        return
    assert record is not None
    for warning in record.warnings:
        name = warning.removeprefix("ignored ").partition(":")[0]
        assert name in TEXT_FIELDS
        assert fields[name] is not None
        assert getattr(record.record, name) is None
    # A surrogate pair in the generated text is one character once written as JSON and read back.
    # The id as given, whatever spaces it has: the output joins back to the line on it.
    assert record.record_id == json.loads(json.dumps(record_id))
    assert record.record_id.strip()
    assert record.record_id.encode("utf-8")
    for value in (getattr(record.record, name) for name in TEXT_FIELDS):
        assert value is None or (isinstance(value, str) and value == value.strip() and value)
        # What is accepted can be hashed into ids and written to the output file.
        assert value is None or value.encode("utf-8")
    assert set(record.unknown_fields) == {name for name in other_fields if name not in KNOWN_FIELDS}


@given(line=st.text(max_size=80))
def test_any_text_at_all_is_a_record_nothing_or_a_line_error(line: str) -> None:
    outcome = read_or_reason(line)
    assert outcome is None or isinstance(outcome, str | BatchRecord)


def json_reading(read: Callable[[str], tuple[Any, frozenset[str]]], line: str) -> tuple[str, str, frozenset[str]]:
    """What `read` makes of `line`, told apart to the type (`1`, `1.0` and `true` are equal in Python)."""
    try:
        value, repeated = read(line)
    except (ValueError, RecursionError) as error:
        return type(error).__name__, str(error), frozenset()
    return "read", repr(value), repeated


def object_line(pairs: list[tuple[str, str, Any]]) -> str:
    return "{" + ", ".join(f"{json.dumps(name)}{colon}{json.dumps(value)}" for name, colon, value in pairs) + "}"


# Objects written by hand as files hold them: names drawn from a few so that some repeat, spaces around the colons,
# colons inside values, inner objects.
json_object_lines = st.builds(
    object_line,
    st.lists(
        st.tuples(
            st.sampled_from(["record_id", "email", "a:b", "notes", ""]),
            st.sampled_from([":", " : ", "\t:", ":  "]),
            json_values | st.sampled_from(["10:30", "http://x.example/", {"a": 1, "b": 2}, 1, 1.0, True]),
        ),
        max_size=5,
    ),
)


@given(line=json_object_lines | st.text(alphabet='{}[]:,"ab1 \ufeff', max_size=30))
@example(line='{"record_id": "r1", "email": "a@b.example", "email": "c@d.example"}')
@example(line='{"record_id": "r1", "email": "a@b.example", "email": "a@b.example"}')
@example(line='{"record_id": 1, "record_id": 1.0}')
@example(line='{"record_id": "r1", "notes": {"a": 1, "a": 2}}')
@example(line='{"record_id": "10:30", "notes": {}}')
@example(line='{"record_id" : "r1", "email"\t:"a@b.example"}')
@example(line='\ufeff{"record_id": "r1"}')
@example(line='[{"record_id": "r1"}]')
@example(line='{"record_id": "r1"} {"record_id": "r2"}')
@example(line='{"record_id": "r1",}')
@example(line="[" * 100_000)
def test_reading_json_without_noting_repeats_is_done_only_where_noting_them_reads_the_same(line: str) -> None:
    assert json_reading(_json_noting_repeats, line) == json_reading(_json_with_repeats, line)


def test_nan_as_a_pandas_export_writes_a_blank_cell_is_a_blank_field_without_a_warning() -> None:
    record = read_batch_line('{"record_id": "r1", "last_name": "Gagnon", "email": NaN, "phone": NaN, "phone": NaN}')
    assert record == BatchRecord(record_id="r1", record=PersonRecord(last_name="Gagnon"))


def test_a_record_id_written_as_nan_is_a_missing_one() -> None:
    assert refusal('{"record_id": NaN, "email": "anne@example.com"}') == "`record_id` is required"


@pytest.mark.parametrize("value", ["Infinity", "-Infinity", "1e400"])
def test_an_infinite_number_is_still_no_text(value: str) -> None:
    record = read_batch_line(f'{{"record_id": "r1", "last_name": "Gagnon", "phone": {value}}}')
    assert record == BatchRecord(
        record_id="r1",
        record=PersonRecord(last_name="Gagnon"),
        warnings=("ignored phone: it must be text, not a decimal number",),
    )


@pytest.mark.parametrize(
    "start",
    [
        b'{"record_id": "r1"}\r{"record_id": "r2"}\r',
        b'\xef\xbb\xbf{"record_id": "r1"}  \r{"record_id": "r2"}',
        b'\r\r{"record_id": "r1"}\r',
        b'{"record_id": "r1"}\r',
    ],
)
def test_a_file_whose_lines_end_with_a_carriage_return_alone_is_told_by_its_start(start: bytes) -> None:
    assert ends_lines_with_cr_alone(start)


@pytest.mark.parametrize(
    "start",
    [
        b'{"record_id": "r1"}\r\n{"record_id": "r2"}\r\n',
        b'{"record_id": "r1"}\n{"record_id": "r2"}\r{"record_id": "r3"}\n',
        b'{"record_id": "r1"}',
        b"",
        # JSON allows a carriage return between the parts of an object: it ends no line there.
        b'{"record_id": "r1",\r "email": "anne@example.com"}',
    ],
)
def test_a_file_with_lf_or_crlf_line_ends_or_a_carriage_return_within_a_record_is_not_taken_for_one(
    start: bytes,
) -> None:
    assert not ends_lines_with_cr_alone(start)
