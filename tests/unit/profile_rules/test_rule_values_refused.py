"""Rule files that would load and then never hold, or crash on every profile, are refused on the line at fault."""

from textwrap import dedent

import pytest

from services.profile.domain.rules import load_segments, load_triggers
from shared.yaml_models import ConfigFileError


def segment_when(condition: str) -> str:
    return dedent(
        f"""\
        segments:
          chosen:
            title: {{fr: Choisis, en: Chosen}}
            description: {{fr: Choisis., en: Chosen.}}
            when: {condition}
        """
    )


@pytest.mark.parametrize("value", ["at-risk", "Lapsed", "dormant"])
def test_a_lifecycle_stage_that_does_not_exist_is_refused_naming_those_that_do(value: str) -> None:
    with pytest.raises(ConfigFileError) as error:
        load_segments(segment_when(f"{{field: lifecycle_stage, op: eq, value: {value}}}"))

    [(line, message)] = error.value.problems
    assert line == 5
    assert "at_risk" in message


def test_every_lifecycle_stage_is_accepted() -> None:
    for stage in ("subscriber", "donor", "new", "active", "at_risk", "lapsed"):
        assert load_segments(segment_when(f"{{field: lifecycle_stage, op: eq, value: {stage}}}"))


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf"])
@pytest.mark.parametrize("field", ["ticket_spend", "tickets_bought"])
def test_a_value_that_is_not_a_finite_number_is_refused(field: str, value: str) -> None:
    with pytest.raises(ConfigFileError) as error:
        load_segments(segment_when(f"{{field: {field}, op: gte, value: {value}}}"))

    [(line, message)] = error.value.problems
    assert line == 5
    assert "finite" in message


@pytest.mark.parametrize("event_type", ["parterre.segment.entered.v1", "parterre.person.merged.v1"])
def test_a_rule_on_an_event_that_never_changes_a_profile_is_refused_on_its_line(event_type: str) -> None:
    text = dedent(
        f"""\
        triggers:
          welcome-to-segment:
            title: {{fr: Bienvenue, en: Welcome}}
            description: Welcome someone entering a segment.
            when: {{field: tickets_bought, op: gt, value: 0}}
            on: [{event_type}]
            period: per_event
        """
    )

    with pytest.raises(ConfigFileError) as error:
        load_triggers(text)

    [(line, message)] = error.value.problems
    assert line == 6
    assert "changes a profile" in message


@pytest.mark.parametrize(
    ("condition", "read_as"),
    [
        ("{field: region, op: eq, value: ON}", "True"),
        ("{field: country, op: in, value: [CA, NO]}", "False"),
        ("{field: rfm.score, op: eq, value: 555}", "555"),
        ("{field: postal_code, op: eq, value: 01234}", "668"),
    ],
)
def test_text_that_yaml_reads_as_true_false_or_a_number_is_refused_saying_to_quote_it(
    condition: str, read_as: str
) -> None:
    with pytest.raises(ConfigFileError) as error:
        load_segments(segment_when(condition))

    [(line, message)] = error.value.problems
    assert line == 5
    assert f"holds text, so {read_as} cannot be compared with it" in message
    assert "put the text in quotes" in message
