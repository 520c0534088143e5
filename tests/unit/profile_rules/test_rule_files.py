"""Segment and trigger files: the shipped ones load, and every kind of mistake is refused on its own line."""

from datetime import UTC, datetime
from pathlib import Path
from textwrap import dedent

import pytest

from services.profile.context import load_rules
from services.profile.domain.rules import Period, evaluate_triggers, load_segments, load_triggers
from services.profile.settings import ProfileSettings
from shared.events.common import ConsentPurpose
from shared.yaml_models import ConfigFileError

from .shipped import SEGMENTS, TRIGGERS


def segment_problems(text: str) -> tuple[tuple[int, str], ...]:
    with pytest.raises(ConfigFileError) as error:
        load_segments(dedent(text), file_name="segments.yaml")
    return error.value.problems


def trigger_problems(text: str) -> tuple[tuple[int, str], ...]:
    with pytest.raises(ConfigFileError) as error:
        load_triggers(dedent(text), file_name="triggers.yaml")
    return error.value.problems


def segment_with_test(*lines: str) -> str:
    """A segment file whose second test, from line 10, is `lines`."""
    head = """\
        segments:
          buyers:
            title: {fr: Acheteurs, en: Buyers}
            description: {fr: Personnes qui ont acheté., en: People who bought.}
            when:
              all:
                - field: tickets_bought
                  op: gt
                  value: 0
        """
    return dedent(head) + "".join(f"        {line}\n" for line in lines)


# The shipped files


def test_the_shipped_segments_load_with_the_promised_names() -> None:
    assert SEGMENTS.names == (
        "subscribers",
        "donors",
        "lapsed-buyers",
        "new-this-season",
        "high-value",
        "newsletter-subscribers",
        "francophones",
        "anglophones",
        "at-risk",
    )
    assert all(segment.title.fr and segment.title.en for segment in SEGMENTS.segments)
    # Staff read a segment's description in the page's language: each says it in words of its own.
    assert all(segment.description.fr != segment.description.en for segment in SEGMENTS.segments)


def test_the_shipped_triggers_load_with_their_periods_and_purposes() -> None:
    rules = {rule.name: rule for rule in TRIGGERS.rules}
    assert {name: rule.period for name, rule in rules.items()} == {
        "welcome-first-purchase": Period.ONCE,
        "subscription-offer-third-production": Period.SEASON,
        "lapsed-buyer": Period.ONCE,
        "thank-you-after-performance": Period.PER_PERFORMANCE,
        "donor-anniversary": Period.YEAR,
        "lapsed-donor": Period.ONCE,
        "express-consent-before-expiry": Period.ONCE,
        "high-value-patron": Period.ONCE,
    }
    assert all(rule.purpose is ConsentPurpose.MARKETING_EMAIL for rule in rules.values())
    assert rules["thank-you-after-performance"].on == frozenset({"parterre.ticket.scanned.v1"})
    assert rules["donor-anniversary"].counted_from == "first_donation_at"
    assert all(rule.title.fr != rule.title.en for rule in rules.values())


def test_only_rules_that_test_time_or_follow_events_fire_whenever_their_condition_holds() -> None:
    assert {rule.name for rule in TRIGGERS.rules if not rule.fires_while_true} == {
        "subscription-offer-third-production",
        "high-value-patron",
    }


def test_a_bare_on_key_is_read_as_a_key_although_yaml_reads_on_as_true() -> None:
    rules = load_triggers(
        dedent("""\
            triggers:
              scanned:
                title: {fr: Entrée, en: Scan}
                description: A scan.
                on: [parterre.ticket.scanned.v1]
                when: {field: performances_attended, op: gt, value: 0}
                period: per_event
            """)
    )
    assert rules.rules[0].on == frozenset({"parterre.ticket.scanned.v1"})


def test_an_empty_file_defines_nothing() -> None:
    assert load_segments("").segments == ()
    assert load_triggers("# nothing yet\n").rules == ()


# Mistakes in a test, each on the line to fix


@pytest.mark.parametrize(
    ("lines", "line", "message"),
    [
        pytest.param(
            ("- field: tickets_bougth", "  op: gt", "  value: 1"),
            10,
            "`tickets_bougth` is not a profile field; did you mean `tickets_bought`?",
            id="unknown field",
        ),
        pytest.param(
            ("- field: birth_date", "  op: exists"), 10, "`birth_date` is not a profile field", id="unlisted field"
        ),
        pytest.param(
            ("- field: tickets_bought", "  op: above", "  value: 1"), 11, "Input should be 'eq'", id="unknown op"
        ),
        pytest.param(
            ("- field: tickets_bought", "  opp: gt", "  value: 1"), 11, "Extra inputs are not permitted", id="typo"
        ),
        pytest.param(("- field: genres", "  op: in", "  value: 3"), 12, "`in` needs a list of values", id="no list"),
        pytest.param(
            ("- field: genres", "  op: contains", "  value: [danse, cirque]"),
            12,
            "`contains` takes one value; for any of several, use `in`",
            id="list for contains",
        ),
        pytest.param(
            ("- field: genres", "  op: contains", "  value: 3"), 12, "3 cannot be compared", id="number in text list"
        ),
        pytest.param(
            ("- field: last_purchase_at", "  op: older_than", "  value: 12 moons"),
            12,
            "`moons` is not a unit of time",
            id="unknown unit",
        ),
        pytest.param(
            ("- field: last_purchase_at", "  op: older_than", "  value: 12"),
            12,
            "`older_than` needs a duration such as `12 months`",
            id="number for duration",
        ),
        pytest.param(
            ("- field: last_purchase_at", "  op: within_last", "  value: 0 days"),
            12,
            "out of range",
            id="zero duration",
        ),
        pytest.param(
            ("- field: tickets_bought", "  op: within_last", "  value: 30 days"),
            12,
            "`within_last` compares dates, and `tickets_bought` holds a number",
            id="time op on a number",
        ),
        pytest.param(
            ("- field: last_purchase_at", "  op: eq", "  value: 2026-01-01"),
            12,
            "`last_purchase_at` is a date: test it with within_last",
            id="date compared by value",
        ),
        pytest.param(
            ("- field: city", "  op: gt", "  value: Montréal"),
            12,
            "`gt` compares numbers, and `city` holds text",
            id="order op on text",
        ),
        pytest.param(("- field: genres", "  op: eq", "  value: danse"), 12, "`genres` is a list", id="eq on a list"),
        pytest.param(
            ("- field: preferred_language", "  op: eq", "  value: de"),
            12,
            "`preferred_language` is one of en, fr, not `de`",
            id="value not a choice",
        ),
        pytest.param(
            ("- field: newsletter_status", "  op: eq", "  value: subscriber"),
            12,
            "`newsletter_status` is one of cleaned, none, subscribed, unsubscribed, not `subscriber`",
            id="newsletter status misspelt",
        ),
        pytest.param(
            ("- field: consent.sms.basis", "  op: in", "  value: [express, verbal]"),
            12,
            "not `verbal`",
            id="list item not a choice",
        ),
        pytest.param(
            ("- field: is_subscriber", "  op: eq", "  value: 3"),
            12,
            "`is_subscriber` holds true or false, so 3 cannot be compared",
            id="number for a flag",
        ),
        pytest.param(
            ("- field: ticket_spend", "  op: gte", "  value: true"),
            12,
            "`ticket_spend` holds an amount of money",
            id="flag for money",
        ),
        pytest.param(
            ("- field: emails", "  op: exists", "  value: 3"), 12, "`exists` takes no value", id="value for exists"
        ),
        pytest.param(("- field: tickets_bought", "  op: gt"), 10, "`gt` needs a `value`", id="value missing"),
        pytest.param(("- field: tickets_bought",), 10, "a test needs `op`", id="op missing"),
        pytest.param(
            ("- field: tickets_bought", "  op: gt", "  value: 1", "  not: {field: emails, op: exists}"),
            10,
            "a condition is one of all, any, not, field or sum; this one has not and field",
            id="two forms",
        ),
        pytest.param(("- any: []",), 10, "needs at least one condition", id="empty any"),
        pytest.param(("- {}",), 10, "a condition needs all, any, not, or a test", id="empty condition"),
        pytest.param(
            ("- not: {field: emails, op: exists}", "  op: exists"),
            10,
            "`not` combines conditions; `op` and `value` belong in a test",
            id="op beside not",
        ),
        pytest.param(
            ("- sum: [ticket_spend, shop_spent]", "  op: gte", "  value: 100"),
            10,
            "did you mean `shop_spend`?",
            id="unknown field in a sum",
        ),
        pytest.param(
            ("- sum: [ticket_spend, city]", "  op: gte", "  value: 100"),
            10,
            "`city` holds text; this needs a field holding a number or an amount of money",
            id="text in a sum",
        ),
        pytest.param(
            ("- sum: [ticket_spend, tickets_bought]", "  op: gte", "  value: 100"),
            10,
            "a sum adds fields of one kind",
            id="sum of counts and money",
        ),
        pytest.param(
            ("- sum: [ticket_spend, shop_spend, ticket_spend]", "  op: gte", "  value: 2500"),
            10,
            "`ticket_spend` is in the sum twice",
            id="field twice in a sum",
        ),
        pytest.param(
            ("- sum: [ticket_spend, shop_spend]", "  op: contains", "  value: 100"),
            12,
            "a sum is compared with eq, gt, gte, lt, lte, ne, not `contains`",
            id="list op on a sum",
        ),
    ],
)
def test_a_mistake_in_a_test_is_refused_on_its_line(lines: tuple[str, ...], line: int, message: str) -> None:
    problems = segment_problems(segment_with_test(*lines))
    assert len(problems) == 1, problems
    assert problems[0][0] == line
    assert message in problems[0][1]


def test_every_mistake_in_a_file_is_reported_at_once_each_on_its_line() -> None:
    problems = segment_problems(
        """\
        segments:
          buyers:
            title: {fr: Acheteurs, en: Buyers}
            description: {fr: Personnes qui ont acheté., en: People who bought.}
            when:
              any:
                - {field: tickets_bougth, op: gt, value: 0}
                - {field: genres, op: in, value: danse}
          subscribers:
            title: {fr: Abonnés, en: Subscribers}
            description: {fr: Abonnés de saison., en: Season pass holders.}
            when: {field: is_subscriber, op: eq, value: oui}
        """
    )
    assert [line for line, _message in problems] == [7, 8, 12]


# Mistakes in the file's structure


def test_a_segment_named_twice_is_refused_on_the_second_name() -> None:
    problems = segment_problems(
        """\
        segments:
          donors:
            title: {fr: Donateurs, en: Donors}
            description: {fr: Donateurs., en: Donors.}
            when: {field: donations_count, op: gt, value: 0}
          donors:
            title: {fr: Donateurs, en: Donors}
            description: {fr: Grands donateurs., en: Big donors.}
            when: {field: donations_total, op: gt, value: 1000}
        """
    )
    assert problems == ((6, "`donors` is given twice in one place"),)


def test_a_name_that_is_not_a_slug_is_refused_on_its_line() -> None:
    problems = segment_problems(
        """\
        segments:
          Gros Donateurs:
            title: {fr: Donateurs, en: Donors}
            description: {fr: Donateurs., en: Donors.}
            when: {field: donations_count, op: gt, value: 0}
        """
    )
    assert len(problems) == 1
    assert problems[0][0] == 2
    assert "`Gros Donateurs` cannot be a name" in problems[0][1]


@pytest.mark.parametrize(
    ("name", "advice"),
    [
        ("on", "put the name in quotes, such as 'on'"),
        ("no", "put the name in quotes"),
        ("2026", "reads 2026 as a number"),
        ("2026-09-01", "reads 2026-09-01 as a date: put the name in quotes"),
    ],
)
def test_a_name_yaml_reads_as_true_false_a_number_or_a_date_is_refused_on_its_own_line_saying_to_quote_it(
    name: str, advice: str
) -> None:
    problems = segment_problems(
        f"""\
        segments:
          buyers:
            title: {{fr: Acheteurs, en: Buyers}}
            description: {{fr: Acheteurs., en: Buyers.}}
            when: {{field: tickets_bought, op: gt, value: 0}}
          {name}:
            title: {{fr: Ontario, en: Ontario}}
            description: {{fr: En Ontario., en: In Ontario.}}
            when: {{field: region, op: eq, value: 'ON'}}
        """
    )
    assert len(problems) == 1, problems
    assert problems[0][0] == 6
    assert advice in problems[0][1]
    assert load_segments(
        dedent(f"""\
            segments:
              '{name}':
                title: {{fr: Ontario, en: Ontario}}
                description: {{fr: En Ontario., en: In Ontario.}}
                when: {{field: region, op: eq, value: 'ON'}}
            """)
    ).names == (name,)


def test_a_title_in_one_language_only_is_refused() -> None:
    problems = segment_problems(
        """\
        segments:
          donors:
            title: {fr: Donateurs}
            description: {fr: Donateurs., en: Donors.}
            when: {field: donations_count, op: gt, value: 0}
        """
    )
    assert problems == ((3, "`segments.donors.title.en`: Field required"),)


def test_a_title_or_description_of_spaces_alone_is_refused_on_its_line() -> None:
    problems = segment_problems(
        """\
        segments:
          donors:
            title: {fr: Donateurs, en: '   '}
            description:
              fr: ' '
              en: Donors.
            when: {field: donations_count, op: gt, value: 0}
        """
    )
    assert [line for line, _ in problems] == [3, 5]
    assert all("it is blank" in message for _, message in problems)


def test_a_description_in_one_language_only_is_refused() -> None:
    problems = segment_problems(
        """\
        segments:
          donors:
            title: {fr: Donateurs, en: Donors}
            description: Donors.
            when: {field: donations_count, op: gt, value: 0}
        """
    )
    assert len(problems) == 1, problems
    assert problems[0][0] == 4
    assert "`segments.donors.description`" in problems[0][1]
    english_only = segment_problems(
        """\
        segments:
          donors:
            title: {fr: Donateurs, en: Donors}
            description: {en: Donors.}
            when: {field: donations_count, op: gt, value: 0}
        """
    )
    assert english_only == ((4, "`segments.donors.description.fr`: Field required"),)


def test_a_trigger_rule_without_a_title_in_both_languages_is_refused() -> None:
    problems = trigger_problems(
        """\
        triggers:
          donors:
            title: {fr: Merci aux donateurs}
            description: Thank donors.
            when: {field: donations_count, op: gt, value: 0}
            period: once
        """
    )
    assert problems == ((3, "`triggers.donors.title.en`: Field required"),)


def test_a_segment_without_a_condition_is_refused_on_its_name() -> None:
    problems = segment_problems(
        """\
        segments:
          donors:
            title: {fr: Donateurs, en: Donors}
            description: {fr: Donateurs., en: Donors.}
        """
    )
    assert problems == ((2, "`segments.donors.when`: Field required"),)


SEGMENT_HEAD = "segments:\n  donors:\n"


@pytest.mark.parametrize(
    ("rest", "line", "message"),
    [
        pytest.param(
            "title: Donateurs\ndescription: {fr: Donateurs., en: Donors.}\n"
            "when: {field: donations_count, op: gt, value: 0}",
            3,
            "`segments.donors.title`: give it in French and in English, such as {fr: Donateurs, en: Donors}",
            id="title in one language",
        ),
        pytest.param(
            "title: {fr: Donateurs, en: Donors}\ndescription: {fr: Donateurs., en: Donors.}\nwhen:\n"
            "  - {field: donations_count, op: gt, value: 0}\n  - {field: is_subscriber, op: eq, value: false}",
            5,
            "`segments.donors.when`: a list of conditions goes under `all:` (each holds) or `any:` (one holds)",
            id="conditions listed without all",
        ),
        pytest.param(
            "title: {fr: Donateurs, en: Donors}\ndescription: {fr: Donateurs., en: Donors.}\nwhen: donations_count > 0",
            5,
            "`segments.donors.when`: needs `name: value` entries here, not the text 'donations_count > 0'",
            id="condition written as text",
        ),
        pytest.param(
            "title: {fr: Donateurs, en: Donors}\ndescription: {fr: Donateurs., en: Donors.}\nwhen:\n"
            "  any: {field: donations_count, op: gt, value: 0}",
            6,
            "`segments.donors.when.any`: needs a list here, such as [a, b], not `name: value` entries",
            id="any of one condition",
        ),
        pytest.param(
            "title: {fr: Donateurs, en: Donors}\ndescription: {fr: Donateurs., en: Donors.}\n"
            "when: {field: donations_total, op: gte, value: 2500,50}",
            5,
            "`segments.donors.when.50`: a key here is a name, not the number 50 (between braces, a comma starts a "
            "new entry: write decimals with a point, such as 2500.50)",
            id="decimal comma between braces",
        ),
    ],
)
def test_a_value_of_the_wrong_shape_is_refused_in_the_file_s_words_not_python_s(
    rest: str, line: int, message: str
) -> None:
    text = SEGMENT_HEAD + "".join(f"    {part}\n" for part in rest.splitlines())
    assert segment_problems(text) == ((line, message),)


def test_a_single_event_type_or_fact_where_a_list_belongs_is_refused_in_the_file_s_words() -> None:
    problems = trigger_problems(
        """\
        triggers:
          thanks:
            title: {fr: Merci, en: Thanks}
            description: Thank.
            when: {field: performances_attended, op: gt, value: 0}
            on: parterre.ticket.scanned.v1
            period: per_event
            facts: first_name
        """
    )
    assert problems == (
        (6, "`triggers.thanks.on`: needs a list here, such as [a, b], not the text 'parterre.ticket.scanned.v1'"),
        (8, "`triggers.thanks.facts`: needs a list here, such as [a, b], not the text 'first_name'"),
    )


def test_a_file_not_saved_as_utf8_is_refused_naming_the_file_and_the_line(tmp_path: Path) -> None:
    # What an editor that saves in Windows-1252 or UTF-16 writes: the accents are bytes UTF-8 does not read.
    segments = tmp_path / "segments.yaml"
    text = """\
        segments:
          donors:
            title: {fr: Donateurs, en: Donors}
            description: {fr: Personnes qui ont donné., en: Patrons who gave.}
            when: {field: donations_count, op: gt, value: 0}
        """
    segments.write_bytes(dedent(text).encode("cp1252"))
    with pytest.raises(ConfigFileError) as error:
        load_rules(ProfileSettings(profile_segments_file=str(segments)))
    assert error.value.file_name == str(segments)
    assert len(error.value.problems) == 1, error.value.problems
    assert error.value.problems[0][0] == 4
    assert "save it as UTF-8" in error.value.problems[0][1]
    segments.write_bytes(dedent(text).encode("utf-16"))
    with pytest.raises(ConfigFileError) as error:
        load_rules(ProfileSettings(profile_segments_file=str(segments)))
    assert error.value.problems[0][0] == 1


def test_broken_yaml_is_refused_naming_the_line_where_the_bracket_opened() -> None:
    problems = segment_problems(
        """\
        segments:
          donors:
            title: {fr: Donateurs, en: Donors}
            description: {fr: Donateurs., en: Donors.}
            when: {field: donations_count, op: gt, value: 0
        """
    )
    assert len(problems) == 1
    assert "not valid YAML" in problems[0][1]
    assert "starts on line 5" in problems[0][1]


@pytest.mark.parametrize(
    ("title", "line", "advice"),
    [
        pytest.param(
            "title:\n  fr: Relance : donateurs\n  en: Lapsed donors",
            4,
            "text holding `: ` goes in quotes, such as 'Relance : donateurs'",
            id="colon in French text",
        ),
        pytest.param(
            "title: {fr: Relance : donateurs, en: Lapsed donors}",
            3,
            "between braces or brackets, text holding `: ` goes in quotes",
            id="colon in French text between braces",
        ),
        pytest.param("title:\n\tfr: Relance\n\ten: Lapsed donors", 4, "use spaces, not tabs", id="tab"),
        pytest.param(
            "title:\n    fr: Relance\n  en: Lapsed donors",
            5,
            "check the indentation: the keys of one block, and the dashes of one list, line up",
            id="keys out of line",
        ),
    ],
)
def test_a_yaml_slip_is_refused_on_its_line_saying_how_to_fix_it(title: str, line: int, advice: str) -> None:
    lines = [
        "segments:",
        "  lapsed-donors:",
        *(f"    {part}" for part in title.splitlines()),
        "    description: {fr: Donateurs inactifs., en: Lapsed donors.}",
        "    when: {field: last_donation_at, op: older_than, value: 12 months}",
    ]
    problems = segment_problems("\n".join(lines) + "\n")
    assert len(problems) == 1, problems
    assert problems[0][0] == line
    assert problems[0][1].startswith("not valid YAML: ")
    assert advice in problems[0][1]


@pytest.mark.parametrize(
    ("title", "problem"),
    [
        pytest.param(
            "title:\n  fr: 'Dons d'automne'\n  en: Autumn gifts",
            (
                4,
                "not valid YAML: expected <block end>, but found '<scalar>'; a value ends at its closing quote or "
                "bracket: put the text after it inside, and write an apostrophe inside '…' twice, such as "
                "'Dons d''automne'",
            ),
            id="apostrophe closing the quote",
        ),
        pytest.param(
            "title: {fr: Dons d'automne, en: Autumn gifts",
            (
                4,
                "not valid YAML: expected ',' or '}', but got ':'; a `{` or `[` opened on an earlier line is not "
                "closed (while parsing a flow mapping that starts on line 3)",
            ),
            id="brace never closed",
        ),
    ],
)
def test_a_yaml_slip_gets_the_advice_for_that_slip_not_another_s(title: str, problem: tuple[int, str]) -> None:
    lines = [
        "segments:",
        "  lapsed-donors:",
        *(f"    {part}" for part in title.splitlines()),
        "    description: {fr: Donateurs inactifs., en: Lapsed donors.}",
        "    when: {field: last_donation_at, op: older_than, value: 12 months}",
    ]
    assert segment_problems("\n".join(lines) + "\n") == (problem,)


RULE_HEAD = """\
    triggers:
      donors:
        title: {fr: Merci aux donateurs, en: Thank donors}
        description: Thank donors.
        when: {field: donations_count, op: gt, value: 0}
    """


@pytest.mark.parametrize(
    ("rest", "line", "message"),
    [
        pytest.param(
            "on: [parterre.ticket.scaned.v1]\nperiod: per_event",
            6,
            "`parterre.ticket.scaned.v1` is not an event type; did you mean `parterre.ticket.scanned.v1`?",
            id="unknown event type",
        ),
        pytest.param("on: []\nperiod: per_event", 6, "needs at least one event type", id="empty on"),
        pytest.param(
            "period: weekly",
            6,
            "Input should be 'once', 'season', 'year', 'month', 'per_event' or 'per_performance'",
            id="unknown period",
        ),
        pytest.param(
            "period: per_performance",
            2,
            "`per_performance` needs `on` to list only events about a performance",
            id="per performance without on",
        ),
        pytest.param(
            "on: [parterre.ticket.scanned.v1, parterre.donation.made.v1]\nperiod: per_performance",
            2,
            "`parterre.donation.made.v1` is about no performance",
            id="per performance on an event about no performance",
        ),
        pytest.param(
            "period: once\npurpose: email",
            7,
            "Input should be 'marketing_email', 'sms', 'postal' or 'survey'",
            id="unknown purpose",
        ),
        pytest.param(
            "period: once\npurpose: sms\nfacts: [first_name, phones]",
            8,
            "`phones` reaches the person only as a consented contact point",
            id="contact details in facts",
        ),
        pytest.param(
            "period: once\npurpose: marketing_email\nfacts: [first_name, street]",
            8,
            "`street` reaches the person only as a consented contact point",
            id="a street in facts",
        ),
        pytest.param(
            "period: once\npurpose: marketing_email\nfacts: [first_name, undeliverable_emails]",
            8,
            "`undeliverable_emails` reaches the person only as a consented contact point",
            id="undeliverable addresses in facts",
        ),
        pytest.param(
            "period: once\nfacts:\n  - first_name\n  - donation_total",
            9,
            "did you mean `donations_total`?",
            id="unknown fact",
        ),
        pytest.param(
            "period: year\ncounted_from: donations_count",
            7,
            "`donations_count` holds a number; this needs a field holding a date and time",
            id="counted from a number",
        ),
        pytest.param(
            "period: season\ncounted_from: first_donation_at",
            2,
            "`counted_from` applies to once, year and month, not to season",
            id="counted from with season",
        ),
        pytest.param("purpose: sms", 2, "`triggers.donors.period`: Field required", id="period missing"),
        pytest.param(
            "period: once\ncounted_from: cause.performance_at",
            2,
            "only `per_performance` rules handle one",
            id="counted from the performance handled outside a per-performance rule",
        ),
        pytest.param(
            "while: {field: last_donation_at, op: within_last, value: 1 year}\nperiod: once",
            2,
            "`while` applies to a rule fired when the profile enters `when`, without time tests",
            id="while with a time test",
        ),
        pytest.param(
            "while: {field: is_subscriber, op: eq, value: false}\nperiod: year\ncounted_from: first_donation_at",
            2,
            "this one fires whenever its condition holds",
            id="while in an anniversary rule",
        ),
        pytest.param(
            "while: {field: is_subscriber, op: eq, value: false}\non: [parterre.donation.made.v1]\nperiod: per_event",
            2,
            "this one fires whenever its condition holds",
            id="while in a per-event rule",
        ),
        pytest.param(
            "while: {field: is_subscribed, op: eq, value: false}\nperiod: once",
            6,
            "did you mean `is_subscriber`?",
            id="unknown field in while",
        ),
        pytest.param(
            "period: once\nfacts: [cause.performance_at]",
            2,
            "only `per_performance` rules handle one",
            id="the performance handled in the facts of a rule not per performance",
        ),
    ],
)
def test_a_mistake_in_a_rule_is_refused_on_its_line(rest: str, line: int, message: str) -> None:
    text = dedent(RULE_HEAD) + "".join(f"    {part}\n" for part in rest.splitlines())
    problems = trigger_problems(text)
    assert len(problems) == 1, problems
    assert problems[0][0] == line
    assert message in problems[0][1]


def test_a_rule_with_a_while_is_fired_when_it_enters_its_condition_not_whenever_it_holds() -> None:
    guarded = load_triggers(
        dedent(RULE_HEAD) + "    while: {field: is_subscriber, op: eq, value: false}\n    period: once\n"
    )

    assert guarded.rules[0].guard is not None
    assert not guarded.rules[0].fires_while_true


def test_the_performance_of_the_fact_handled_is_named_only_by_per_performance_rules() -> None:
    on_a_scan = dedent(
        """\
        triggers:
          thanks:
            title: {fr: Merci, en: Thanks}
            description: Thank.
            when: {field: cause.performance_at, op: exists}
            on: [parterre.ticket.scanned.v1]
        """
    )
    assert load_triggers(on_a_scan + "    period: per_performance\n").rules[0].name == "thanks"
    problems = trigger_problems(on_a_scan + "    period: per_event\n")
    assert len(problems) == 1, problems
    assert "only `per_performance` rules handle one" in problems[0][1]
    in_a_segment = segment_problems(
        """\
        segments:
          at-the-door:
            title: {fr: À la porte, en: At the door}
            description: {fr: Scannés., en: Scanned.}
            when: {field: cause.performance_at, op: exists}
        """
    )
    assert len(in_a_segment) == 1, in_a_segment
    assert "a segment has none" in in_a_segment[0][1]


def test_a_per_performance_rule_copies_the_start_of_the_performance_it_judged() -> None:
    rules = load_triggers(
        dedent(
            """\
            triggers:
              thanks:
                title: {fr: Merci, en: Thanks}
                description: Thank.
                when: {field: cause.performance_at, op: exists}
                on: [parterre.ticket.scanned.v1]
                period: per_performance
                facts: [cause.performance_at]
            """
        )
    )
    curtain = datetime(2026, 11, 15, 19, 0, tzinfo=UTC)

    (decision,) = evaluate_triggers(
        rules,
        {},
        {},
        as_of=curtain,
        cause_event_type="parterre.ticket.scanned.v1",
        cause_event_id="evt-1",
        cause_performance_id="show-1",
        cause_performance_at=curtain,
        person_id="per_1",
    )

    assert decision.facts["cause.performance_at"] == curtain
