"""Declarative files validate into models, and every problem names the line a person has to fix."""

from textwrap import dedent

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, Field

from shared.yaml_models import ConfigFileError, line_of, load_yaml_model


class Seat(BaseModel):
    model_config = ConfigDict(extra="forbid")

    row: str = Field(min_length=1)
    number: int = Field(ge=1)


class Hall(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = "Salle principale"
    seats: list[Seat] = Field(default_factory=list)
    prices: dict[str, float] = Field(default_factory=dict)


def problems_of(text: str) -> tuple[tuple[int, str], ...]:
    with pytest.raises(ConfigFileError) as error:
        load_yaml_model(dedent(text), Hall, file_name="hall.yaml")
    return error.value.problems


def lines_of(text: str) -> list[int]:
    return [line for line, _message in problems_of(text)]


def test_a_valid_file_becomes_the_model_it_describes() -> None:
    hall = load_yaml_model(
        dedent(
            """\
            name: Studio
            seats:
              - {row: A, number: 1}
              - {row: B, number: 2}
            prices:
              regular: 35
            """
        ),
        Hall,
        file_name="hall.yaml",
    )
    assert hall == Hall(name="Studio", seats=[Seat(row="A", number=1), Seat(row="B", number=2)], prices={"regular": 35})


@pytest.mark.parametrize("text", ["", "\n", "# nothing configured yet\n", "---\n"])
def test_an_empty_file_validates_as_an_empty_mapping(text: str) -> None:
    assert load_yaml_model(text, Hall, file_name="hall.yaml") == Hall()


def test_an_empty_file_still_fails_a_model_that_needs_a_setting_on_line_one() -> None:
    with pytest.raises(ConfigFileError) as error:
        load_yaml_model("", Seat, file_name="seat.yaml")
    assert {line for line, _ in error.value.problems} == {1}
    assert "seat.yaml, line 1: `row`: Field required" in str(error.value)


def test_an_error_inside_a_list_item_names_the_line_of_that_item_s_field() -> None:
    text = """\
        name: Studio
        seats:
          - row: A
            number: 1
          - row: B
            number: 0
        """
    assert lines_of(text) == [6]
    assert "`seats.1.number`" in problems_of(text)[0][1]


def test_a_missing_field_in_a_list_item_names_the_line_where_that_item_starts() -> None:
    text = """\
        seats:
          - row: A
            number: 1
          - number: 2
        """
    assert problems_of(text) == ((4, "`seats.1.row`: Field required"),)


def test_a_bad_value_in_a_nested_mapping_names_its_own_line() -> None:
    text = """\
        name: Studio
        prices:
          regular: 35
          student: cheap
        """
    problems = problems_of(text)
    assert [line for line, _ in problems] == [4]
    assert problems[0][1].startswith("`prices.student`:")


def test_an_unknown_setting_with_a_nested_block_names_the_line_of_its_key_not_the_block_under_it() -> None:
    text = """\
        name: Studio
        balcony:
          rows: 3
        """
    assert problems_of(text) == ((2, "`balcony`: Extra inputs are not permitted"),)


def test_an_unknown_key_inside_a_list_item_names_its_own_line() -> None:
    text = """\
        seats:
          - row: A
            number: 1
            colour: red
        """
    assert problems_of(text) == ((4, "`seats.0.colour`: Extra inputs are not permitted"),)


def test_a_list_where_a_mapping_belongs_names_the_line_of_the_key() -> None:
    text = """\
        name: Studio

        prices:
          - 35
          - 20
        """
    assert lines_of(text) == [3]


def test_every_problem_of_a_file_is_reported_at_once_each_on_its_line() -> None:
    text = """\
        name: Studio
        seats:
          - {row: "", number: 1}
          - {row: B, number: -4}
        prices: {regular: free}
        """
    assert sorted(lines_of(text)) == [3, 4, 5]


def test_a_key_given_twice_in_one_mapping_is_refused_on_the_line_of_the_second() -> None:
    # YAML itself keeps the second value silently: the first price would be lost without a word.
    text = """\
        name: Studio
        prices:
          regular: 32
          reduced: 20
          regular: 28
        seats:
          - {row: A, number: 1, number: 2}
        """
    assert problems_of(text) == (
        (5, "`regular` is given twice in one place"),
        (7, "`number` is given twice in one place"),
    )


def test_two_spellings_yaml_reads_as_one_key_are_a_key_given_twice() -> None:
    # YAML 1.1 reads `on` and `On` alike (true): the second list of event types would replace the first.
    text = """\
        on: [parterre.ticket.scanned.v1]
        On: [parterre.ticket.purchased.v1]
        """
    assert problems_of(text) == ((2, "`On` is given twice in one place"),)


def test_the_same_key_in_two_mappings_is_no_duplicate() -> None:
    text = """\
        seats:
          - {row: A, number: 1}
          - {row: A, number: 2}
        """
    assert load_yaml_model(dedent(text), Hall, file_name="hall.yaml").seats[1] == Seat(row="A", number=2)


@pytest.mark.timeout(10)
def test_an_alias_inside_the_block_its_anchor_names_is_refused_on_its_line_instead_of_never_loading() -> None:
    text = """\
        name: Studio
        seats: &seats
          - {row: A, number: 1}
          - *seats
        """
    assert problems_of(text) == (
        (4, "`*seats` refers to the block `&seats` it lies in: that block would contain itself"),
    )


def test_an_alias_elsewhere_repeats_its_anchor_s_block() -> None:
    text = """\
        seats:
          - &front {row: A, number: 1}
          - *front
        """
    hall = load_yaml_model(dedent(text), Hall, file_name="hall.yaml")
    assert hall.seats == [Seat(row="A", number=1), Seat(row="A", number=1)]


def test_a_bad_entry_under_a_key_yaml_reads_as_true_or_a_number_names_the_line_of_that_key() -> None:
    text = """\
        name: Studio
        prices:
          regular: 35
          on: 20
          2026: 15
        """
    assert lines_of(text) == [4, 5]


def test_a_value_of_the_wrong_shape_is_described_in_the_file_s_words_not_python_s() -> None:
    text = """\
        name: [Studio]
        seats:
          - A1
        prices: 35
        """
    assert problems_of(text) == (
        (1, "`name`: needs text here, not a list"),
        (3, "`seats.0`: needs `name: value` entries here, not the text 'A1'"),
        (4, "`prices`: needs `name: value` entries here, not the number 35"),
    )
    assert problems_of("- just\n- a list\n") == ((1, "needs `name: value` entries here, not a list"),)


def test_a_file_that_is_not_a_mapping_is_refused_on_its_first_line() -> None:
    assert lines_of("- just\n- a list\n") == [1]


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("name: Studio\nseats:\n  - row: A\n   number: 1\n", 4),
        ("name: Studio\nname: x: y\n", 2),
        ("name: Studio\nprices:\n\t- 1\n", 3),
        ("name: Studio\n\n\nprices: {regular: 35\n", 5),
    ],
)
def test_a_yaml_syntax_error_names_the_line_where_the_parser_stopped(text: str, line: int) -> None:
    problems = problems_of(text)
    assert len(problems) == 1
    assert problems[0][0] == line
    assert problems[0][1].startswith("not valid YAML: ")


def test_an_unclosed_bracket_also_names_the_line_where_it_opened() -> None:
    text = 'name: Studio\nprices: {regular: 35\nseats: []\nname: "x"\n'
    ((line, message),) = problems_of(text)
    assert line == 3
    assert message.endswith("(while parsing a flow mapping that starts on line 2)")


def test_the_message_names_the_file_and_each_line_so_an_operator_can_fix_it() -> None:
    with pytest.raises(ConfigFileError) as error:
        load_yaml_model("name: Studio\nseats:\n  - {row: A, number: 0}\n", Hall, file_name="/etc/parterre/hall.yaml")
    assert str(error.value) == (
        "/etc/parterre/hall.yaml, line 3: `seats.0.number`: Input should be greater than or equal to 1"
    )
    assert error.value.file_name == "/etc/parterre/hall.yaml"


def test_line_of_a_path_that_leaves_the_file_stops_at_the_deepest_node_it_reached() -> None:
    root = yaml.compose("a:\n  b:\n    - x\n    - y\n", Loader=yaml.SafeLoader)
    assert line_of(root, ["a", "b", 1]) == 4
    assert line_of(root, ["a", "b", 7]) == 2
    assert line_of(root, ["a", "missing", "deeper"]) == 1
    assert line_of(None, ["a"]) == 1


@given(blank_lines=st.integers(min_value=0, max_value=30), bad_index=st.integers(min_value=0, max_value=5))
def test_the_reported_line_follows_the_bad_item_wherever_it_sits(blank_lines: int, bad_index: int) -> None:
    seats = [f"  - {{row: R{index}, number: {0 if index == bad_index else index + 1}}}" for index in range(6)]
    text = "\n" * blank_lines + "seats:\n" + "\n".join(seats) + "\n"
    assert lines_of(text) == [blank_lines + 2 + bad_index]


def french_of(text: str) -> str:
    with pytest.raises(ConfigFileError) as error:
        load_yaml_model(dedent(text), Hall, file_name="hall.yaml")
    return error.value.said_in("fr")


def test_the_problems_of_a_file_are_said_in_french_too_each_after_its_file_and_line() -> None:
    text = """\
        name: Studio
        prices:
          regular: 32
          regular: 28
        """
    assert french_of(text) == "hall.yaml, ligne 4 : `regular` est donné deux fois au même endroit"


@pytest.mark.parametrize(
    ("text", "french"),
    [
        ("seats: {row: A}\n", "hall.yaml, ligne 1 : `seats` : il faut ici une liste, comme [a, b], pas des entrées "),
        ("name: [Studio]\n", "hall.yaml, ligne 1 : `name` : il faut ici du texte, pas une liste"),
        (
            "seats:\n  - {row: A, number: 2500,50}\n",
            "hall.yaml, ligne 2 : `seats.0.50` : une clé est ici un nom, pas le nombre 50 (entre accolades, une "
            "virgule commence une autre entrée : écrivez les décimales avec un point, comme 2500.50)",
        ),
        ("balcony: 3\n", "hall.yaml, ligne 1 : `balcony` : n'est pas un champ connu"),
        ("seats:\n  - {row: A, number: 0}\n", "hall.yaml, ligne 2 : `seats.0.number` : doit être plus grand ou égal"),
        ("name: Studio\n\tseats: []\n", "hall.yaml, ligne 2 : YAML non valide : found character '\\t' that cannot "),
        ("name: Relance : donateurs\n", "hall.yaml, ligne 1 : YAML non valide : mapping values are not allowed here "),
        ("seats: &s\n  - *s\n", "hall.yaml, ligne 2 : `*s` renvoie au bloc `&s` où il se trouve : ce bloc se "),
    ],
    ids=["list", "text", "key", "unknown", "range", "tab", "colon", "alias"],
)
def test_each_kind_of_problem_is_said_in_french(text: str, french: str) -> None:
    assert french_of(text).startswith(french)


def test_a_syntax_error_says_in_french_what_to_do_and_where_the_brace_opened_pyyaml_s_words_aside() -> None:
    text = """\
        name: Studio
        prices: {regular: 32,
        reduced: 20
        seats: []
        """
    assert french_of(text) == (
        "hall.yaml, ligne 4 : YAML non valide : expected ',' or '}', but got ':' ; un `{` ou un `[` ouvert sur une "
        "ligne précédente n'est pas fermé (while parsing a flow mapping, depuis la ligne 2)"
    )


def test_a_problem_with_no_french_yet_keeps_its_english_in_the_french() -> None:
    # A raiser that gives only English: the frame is French, the words its own.
    error = ConfigFileError("rules.yaml", [(3, "`prior` should be a number, not 'x'")])
    assert error.said_in("fr") == "rules.yaml, ligne 3 : `prior` should be a number, not 'x'"
    assert error.said_in("en") == str(error) == "rules.yaml, line 3: `prior` should be a number, not 'x'"
