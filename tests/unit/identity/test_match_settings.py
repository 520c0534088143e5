"""The matching model file: the bundled one is the reasoned default, and a mistake names the line to fix."""

from collections.abc import Callable
from textwrap import dedent
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from services.identity.domain.match_settings import load_match_settings
from services.identity.domain.matching import COMPARISONS, DEFAULT_MODEL, LEVELS, LevelProbabilities, MatchBands
from services.identity.domain.matching import MatchModel as Model
from services.identity.domain.resolution import Matching
from services.identity.settings import BUNDLED_MATCH_MODEL
from shared.yaml_models import ConfigFileError

BUNDLED_TEXT = BUNDLED_MATCH_MODEL.read_text(encoding="utf-8")


def problems(text: str) -> tuple[tuple[int, str], ...]:
    with pytest.raises(ConfigFileError) as error:
        load_match_settings(text, file_name="match_model.yaml")
    return error.value.problems


def line_where(text: str, needle: str, *, after: str = "") -> int:
    """The line number (from 1) of the only line of `text` that holds `needle`, looking below `after`."""
    lines = text.splitlines()
    start = next(index for index, line in enumerate(lines) if after in line) if after else 0
    found = [index + 1 for index, line in enumerate(lines) if index >= start and needle in line]
    assert found, f"{needle!r} is not in the file"
    return found[0]


def bundled_with(old: str, new: str, *, after: str = "") -> str:
    """The bundled file with the first `old` below `after` replaced by `new`."""
    cut = BUNDLED_TEXT.index(after) if after else 0
    head, tail = BUNDLED_TEXT[:cut], BUNDLED_TEXT[cut:]
    assert old in tail
    return head + tail.replace(old, new, 1)


# The bundled file


def test_the_bundled_file_loads_as_the_default_model_and_bands() -> None:
    matching = load_match_settings(BUNDLED_TEXT, file_name=str(BUNDLED_MATCH_MODEL))
    assert matching == Matching(model=DEFAULT_MODEL, bands=MatchBands())
    assert matching.model.to_dict() == DEFAULT_MODEL.to_dict()


@pytest.mark.parametrize("text", ["", "# nothing here\n", "bands: {}\n"])
def test_a_file_without_a_model_or_bands_means_the_defaults(text: str) -> None:
    assert load_match_settings(text) == Matching(model=DEFAULT_MODEL, bands=MatchBands())


def test_bands_alone_change_the_bands_and_keep_the_default_model() -> None:
    matching = load_match_settings("bands:\n  link_at: 0.995\n  review_at: 0.9\n")
    assert matching == Matching(model=DEFAULT_MODEL, bands=MatchBands(link_at=0.995, review_at=0.9))


probabilities = st.floats(min_value=0.001, max_value=1.0, allow_nan=False)


@st.composite
def models(draw: st.DrawFn) -> Model:
    comparisons = {}
    for comparison in COMPARISONS:
        levels = LEVELS[comparison]
        m = [draw(probabilities) for _ in levels]
        u = [draw(probabilities) for _ in levels]
        comparisons[comparison] = {
            level: LevelProbabilities(m_weight / sum(m), u_weight / sum(u))
            for level, m_weight, u_weight in zip(levels, m, u, strict=True)
        }
    prior = draw(st.floats(min_value=1e-9, max_value=0.5))
    penalty = draw(st.floats(min_value=0, max_value=20))
    return Model(prior=prior, comparisons=comparisons, swapped_names_penalty=penalty)


@settings(max_examples=40)
@given(model=models())
def test_any_valid_model_written_as_yaml_reads_back_equal(model: Model) -> None:
    text = yaml.safe_dump({"bands": {"link_at": 0.98, "review_at": 0.7}, "model": model.to_dict()})
    assert load_match_settings(text) == Matching(model=model, bands=MatchBands(link_at=0.98, review_at=0.7))


# Files with mistakes


def test_an_unknown_section_names_the_line_of_its_key() -> None:
    text = dedent(
        """\
        bands:
          link_at: 0.99

        models:
          prior: 1.0e-05
        """
    )
    assert problems(text) == ((4, "`models` is not a section; expected bands, model"),)


def test_a_setting_given_twice_names_the_line_of_the_second_rather_than_taking_it() -> None:
    text = dedent(
        """\
        bands:
          link_at: 0.99
          link_at: 0.81
        """
    )
    assert problems(text) == ((3, "`link_at` is given twice in one place"),)


def test_a_file_that_is_not_a_mapping_is_refused_on_line_one() -> None:
    assert problems("- bands\n- model\n") == ((1, "the file should be a mapping with `bands` and `model`"),)


def test_an_m_above_one_names_its_line_and_the_sum_it_breaks_names_the_comparison_s_line() -> None:
    text = bundled_with("m: 0.89\n", "m: 1.5\n", after="first_name:")
    assert problems(text) == (
        (
            line_where(text, "m: 1.5"),
            "`model.comparisons.first_name.exact.m` should be in (0, 1], not 1.5",
        ),
        (
            line_where(text, "first_name:"),
            "`model.comparisons.first_name` m sums to 1.61 over the levels; it should sum to 1",
        ),
    )
    assert line_where(text, "m: 1.5") == 22
    assert line_where(text, "first_name:") == 20


@pytest.mark.parametrize(("bad", "shown"), [("0", "0.0"), ("-0.1", "-0.1"), (".nan", "nan")])
def test_a_u_of_zero_or_less_or_not_a_number_names_its_line(bad: str, shown: str) -> None:
    text = bundled_with("u: 2.0e-05\n", f"u: {bad}\n", after="    phone:")
    first, *others = problems(text)
    assert first == (
        line_where(text, f"u: {bad}", after="    phone:"),
        f"`model.comparisons.phone.exact.u` should be in (0, 1], not {shown}",
    )
    assert all(line == line_where(text, "    phone:") for line, _ in others)


def test_m_that_does_not_sum_to_one_over_a_comparison_s_levels_names_the_comparison_s_line() -> None:
    text = bundled_with("m: 0.55\n", "m: 0.45\n", after="address:")
    assert problems(text) == (
        (
            line_where(text, "    address:"),
            "`model.comparisons.address` m sums to 0.9 over the levels; it should sum to 1",
        ),
    )


def test_a_misspelt_level_names_its_line_and_the_level_left_missing() -> None:
    text = bundled_with("same_city:", "same_town:")
    assert problems(text) == (
        (
            line_where(text, "same_town:"),
            "`model.comparisons.address.same_town` is not a level of address: same_address, same_postal_code, "
            "same_street, same_area, same_city, different",
        ),
        (line_where(text, "    address:"), "`model.comparisons.address.same_city` is missing"),
    )


def test_an_unknown_comparison_lists_the_comparisons_in_one_order() -> None:
    text = bundled_with("    phone:\n", "    fax:\n")
    assert problems(text) == (
        (
            line_where(text, "    fax:"),
            "`model.comparisons.fax` is not a comparison; expected one of first_name, last_name, address, phone, "
            "email, birth_date",
        ),
        (line_where(text, "  comparisons:"), "`model.comparisons.phone` is missing"),
    )


def test_a_prior_outside_zero_and_one_names_its_line() -> None:
    text = bundled_with("prior: 1.0e-05", "prior: 1.5")
    assert problems(text) == (
        (line_where(text, "prior: 1.5"), "`model.prior` should be a probability strictly between 0 and 1, not 1.5"),
    )


def test_a_prior_written_as_1e_5_is_text_to_yaml_and_refused_on_its_line() -> None:
    text = bundled_with("prior: 1.0e-05", "prior: 1e-5")
    assert problems(text) == ((line_where(text, "prior: 1e-5"), "`model.prior` should be a number, not '1e-5'"),)


def test_a_model_section_that_is_not_a_mapping_is_named_once_on_its_line() -> None:
    assert problems("bands: {link_at: 0.99}\nmodel: default\n") == (
        (2, "`model` should be a mapping with prior and comparisons"),
    )


def test_bands_with_review_above_link_are_refused_on_the_line_of_bands() -> None:
    text = "# tighter review\nbands:\n  link_at: 0.9\n  review_at: 0.95\n"
    assert problems(text) == ((2, "bands need 0 < review_at <= link_at < 1, not 0.95 and 0.9"),)


@pytest.mark.parametrize(
    ("band", "value", "shown"),
    [
        ("link_at", '"0.99"', "'0.99'"),
        ("link_at", "high", "'high'"),
        ("review_at", "true", "True"),
        ("review_at", "[0.8]", "[0.8]"),
    ],
)
def test_bands_that_are_not_numbers_name_their_line(band: str, value: str, shown: str) -> None:
    text = "bands:\n" + "".join(
        f"  {name}: {value if name == band else default}\n"
        for name, default in (("link_at", "0.99"), ("review_at", "0.8"))
    )
    line = 2 if band == "link_at" else 3
    assert problems(text) == ((line, f"`bands.{band}` should be a number, not {shown}"),)


@pytest.mark.parametrize("value", ["1", "1.0", "0", "-0.5"])
def test_a_link_band_of_one_or_more_or_of_zero_or_less_is_refused(value: str) -> None:
    ((line, message),) = problems(f"bands:\n  link_at: {value}\n")
    assert line == 1
    assert message.startswith("bands need 0 < review_at <= link_at < 1")


def test_an_unknown_band_names_its_line() -> None:
    assert problems("bands:\n  link_at: 0.99\n  link: 0.95\n") == (
        (3, "`bands.link` is not a setting; expected link_at, review_at"),
    )


def test_bands_that_are_not_a_mapping_name_their_line() -> None:
    assert problems("\nbands: 0.99\n") == ((2, "`bands` should map link_at and review_at to probabilities"),)


def test_broken_yaml_names_its_line() -> None:
    ((line, message),) = problems("bands:\n  link_at: 0.99\n review_at: 0.8\n")
    assert line == 3
    assert message.startswith("not valid YAML:")


def test_every_mistake_of_a_file_is_reported_at_once() -> None:
    text = bundled_with("link_at: 0.99", "link_at: 0.99\n  margin: 2")
    text = text.replace("prior: 1.0e-05", "prior: 0")
    text = text.replace("swapped_names_penalty: 1.0", "swapped_names_penalty: -1")
    reported = problems(text)
    assert [line for line, _ in reported] == [
        line_where(text, "margin: 2"),
        line_where(text, "prior: 0"),
        line_where(text, "swapped_names_penalty: -1"),
    ]
    assert len(reported) == 3


# In French


def model_with(change: Callable[[dict[str, Any]], object]) -> str:
    """A model file holding the default model as `change` leaves it."""
    data = DEFAULT_MODEL.to_dict()
    change(data)
    return yaml.safe_dump({"model": data}, sort_keys=False)


def problems_in_both(text: str) -> tuple[list[str], list[str]]:
    """What each problem of the file says, in English and in French, each on the same line in both."""
    with pytest.raises(ConfigFileError) as error:
        load_match_settings(text, file_name="match_model.yaml")
    assert [line for line, _ in error.value.problems] == [line for line, _ in error.value.problems_fr]
    return [message for _, message in error.value.problems], [message for _, message in error.value.problems_fr]


@pytest.mark.parametrize(
    ("text", "english", "french"),
    [
        (
            "- bands\n- model\n",
            ["the file should be a mapping with `bands` and `model`"],
            ["le fichier devrait donner `bands` et `model` en entrées `nom: valeur`"],
        ),
        (
            "bands: {link_at: 0.99}\nmodels: {}\n",
            ["`models` is not a section; expected bands, model"],
            ["`models` n'est pas une section ; attendu : bands, model"],
        ),
        (
            "bands: 0.99\n",
            ["`bands` should map link_at and review_at to probabilities"],
            ["`bands` devrait donner une probabilité à link_at et à review_at"],
        ),
        (
            "bands:\n  link: 0.95\n",
            ["`bands.link` is not a setting; expected link_at, review_at"],
            ["`bands.link` n'est pas un réglage ; attendu : link_at, review_at"],
        ),
        (
            "bands:\n  link_at: high\n",
            ["`bands.link_at` should be a number, not 'high'"],
            ["`bands.link_at` devrait être un nombre, pas 'high'"],
        ),
        (
            "bands:\n  link_at: 0.9\n  review_at: 0.95\n",
            ["bands need 0 < review_at <= link_at < 1, not 0.95 and 0.9"],
            ["les seuils demandent 0 < review_at <= link_at < 1, pas 0.95 et 0.9"],
        ),
        (
            "model: default\n",
            ["`model` should be a mapping with prior and comparisons"],
            ["`model` devrait donner prior et comparisons en entrées `nom: valeur`"],
        ),
        (
            model_with(lambda data: data.update(oops=1)),
            ["`model.oops` is not a setting; expected prior, swapped_names_penalty, comparisons"],
            ["`model.oops` n'est pas un réglage ; attendu : prior, swapped_names_penalty, comparisons"],
        ),
        (model_with(lambda data: data.pop("prior")), ["`model.prior` is missing"], ["`model.prior` manque"]),
        (
            model_with(lambda data: data.update(prior="1e-5")),
            ["`model.prior` should be a number, not '1e-5'"],
            ["`model.prior` devrait être un nombre, pas '1e-5'"],
        ),
        (
            model_with(lambda data: data.update(prior=1.5)),
            ["`model.prior` should be a probability strictly between 0 and 1, not 1.5"],
            ["`model.prior` devrait être une probabilité strictement entre 0 et 1, pas 1.5"],
        ),
        (
            model_with(lambda data: data.update(swapped_names_penalty=-1)),
            ["`model.swapped_names_penalty` should be a number of bits, 0 or more, not -1.0"],
            ["`model.swapped_names_penalty` devrait être un nombre de bits, 0 ou plus, pas -1.0"],
        ),
        (
            model_with(lambda data: data.update(comparisons=[])),
            ["`model.comparisons` should map each comparison to its levels' m and u"],
            ["`model.comparisons` devrait donner, pour chaque comparaison, le m et le u de ses niveaux"],
        ),
        (
            model_with(lambda data: data["comparisons"].update(fax=data["comparisons"].pop("phone"))),
            [
                "`model.comparisons.fax` is not a comparison; expected one of first_name, last_name, address, phone, "
                "email, birth_date",
                "`model.comparisons.phone` is missing",
            ],
            [
                "`model.comparisons.fax` n'est pas une comparaison ; attendu : first_name, last_name, address, phone, "
                "email, birth_date",
                "`model.comparisons.phone` manque",
            ],
        ),
        (
            model_with(lambda data: data["comparisons"].update(phone=[])),
            ["`model.comparisons.phone` should map each level to its m and u"],
            ["`model.comparisons.phone` devrait donner le m et le u de chaque niveau"],
        ),
        (
            model_with(lambda data: data["comparisons"]["phone"].update(fax=data["comparisons"]["phone"].pop("exact"))),
            [
                "`model.comparisons.phone.fax` is not a level of phone: exact, different",
                "`model.comparisons.phone.exact` is missing",
            ],
            [
                "`model.comparisons.phone.fax` n'est pas un niveau de phone : exact, different",
                "`model.comparisons.phone.exact` manque",
            ],
        ),
        (
            model_with(lambda data: data["comparisons"]["phone"].update(exact=0.5)),
            ["`model.comparisons.phone.exact` should have m and u"],
            ["`model.comparisons.phone.exact` devrait avoir m et u"],
        ),
        (
            model_with(lambda data: data["comparisons"]["phone"]["exact"].pop("u")),
            ["`model.comparisons.phone.exact.u` is missing"],
            ["`model.comparisons.phone.exact.u` manque"],
        ),
        (
            model_with(lambda data: data["comparisons"]["phone"]["exact"].update(m=1.5)),
            [
                "`model.comparisons.phone.exact.m` should be in (0, 1], not 1.5",
                "`model.comparisons.phone` m sums to 1.85 over the levels; it should sum to 1",
            ],
            [
                "`model.comparisons.phone.exact.m` devrait être dans ]0, 1], pas 1.5",
                "`model.comparisons.phone` a des m dont la somme sur les niveaux vaut 1.85 ; elle devrait valoir 1",
            ],
        ),
    ],
    ids=[
        "not a mapping",
        "unknown section",
        "bands not a mapping",
        "unknown band",
        "band not a number",
        "bands in the wrong order",
        "model not a mapping",
        "unknown setting",
        "missing prior",
        "prior not a number",
        "prior out of range",
        "negative penalty",
        "comparisons not a mapping",
        "unknown comparison",
        "levels not a mapping",
        "unknown level",
        "level not a mapping",
        "missing u",
        "m out of range",
    ],
)
def test_each_problem_of_a_model_file_is_said_in_french_and_its_english_is_unchanged(
    text: str, english: list[str], french: list[str]
) -> None:
    assert problems_in_both(text) == (english, french)


def test_a_model_file_s_problems_are_said_in_french_after_their_file_and_line() -> None:
    text = bundled_with("m: 0.89\n", "m: 1.5\n", after="first_name:")

    with pytest.raises(ConfigFileError) as error:
        load_match_settings(text, file_name="match_model.yaml")

    assert error.value.said_in("fr") == (
        "match_model.yaml, ligne 22 : `model.comparisons.first_name.exact.m` devrait être dans ]0, 1], pas 1.5 ; "
        "match_model.yaml, ligne 20 : `model.comparisons.first_name` a des m dont la somme sur les niveaux vaut 1.61 ; "
        "elle devrait valoir 1"
    )
    assert error.value.said_in("en") == (
        "match_model.yaml, line 22: `model.comparisons.first_name.exact.m` should be in (0, 1], not 1.5; "
        "match_model.yaml, line 20: `model.comparisons.first_name` m sums to 1.61 over the levels; it should sum to 1"
    )
