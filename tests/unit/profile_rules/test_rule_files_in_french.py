"""Segment and trigger files' own checks say what to fix in French as in English: a French operator reads every
problem of a file in French, and the English stays word for word what it was."""

from textwrap import dedent

import pytest

from services.profile.domain.rule_conditions import Duration
from services.profile.domain.rules import load_segments, load_triggers
from shared.bilingual import BilingualValueError
from shared.yaml_models import ConfigFileError


def refused(text: str, *, triggers: bool = False) -> ConfigFileError:
    load = load_triggers if triggers else load_segments
    with pytest.raises(ConfigFileError) as error:
        load(dedent(text), file_name="triggers.yaml" if triggers else "segments.yaml")
    return error.value


def segment_when(condition: str) -> str:
    return f"""\
        segments:
          chosen:
            title: {{fr: Choisis, en: Chosen}}
            description: {{fr: Choisis., en: Chosen.}}
            when: {condition}
        """


# Each condition is on line 5; `where` is the key the problem is under, after `segments.chosen.when`.
CONDITIONS = [
    (
        "{field: ticket_spnd, op: gt, value: 0}",
        ".field",
        "`ticket_spnd` is not a profile field; did you mean `ticket_spend`?",
        "`ticket_spnd` n'est pas un champ du profil ; vouliez-vous dire `ticket_spend` ?",
    ),
    (
        "{sum: [ticket_spend, last_purchase_at], op: gt, value: 1}",
        ".sum.1",
        "`last_purchase_at` holds a date and time; this needs a field holding a number or an amount of money",
        "`last_purchase_at` contient une date et une heure ; il faut ici un champ qui contient un nombre ou un montant "
        "d'argent",
    ),
    (
        "{field: ticket_spend, op: gte, value: .nan}",
        ".value",
        "`ticket_spend` is compared with a finite number, not nan",
        "`ticket_spend` se compare à un nombre fini, pas à nan",
    ),
    (
        "{field: preferred_language, op: eq, value: de}",
        ".value",
        "`preferred_language` is one of en, fr, not `de`",
        "`preferred_language` prend l'une des valeurs en, fr, pas `de`",
    ),
    (
        "{field: region, op: eq, value: ON}",
        ".value",
        "`region` holds text, so True cannot be compared with it; without quotes, YAML reads yes, no, on, off, true "
        "and false as true or false, and digits as a number: put the text in quotes, such as 'ON' or '555'",
        "`region` contient du texte, donc True ne peut pas lui être comparé ; sans guillemets, YAML lit yes, no, on, "
        "off, true et false comme vrai ou faux, et des chiffres comme un nombre : mettez le texte entre guillemets, "
        "comme 'ON' ou '555'",
    ),
    (
        "{field: tickets_bought, op: gt, value: many}",
        ".value",
        "`tickets_bought` holds a number, so 'many' cannot be compared with it",
        "`tickets_bought` contient un nombre, donc 'many' ne peut pas lui être comparé",
    ),
    (
        "{field: city, op: exists, value: Laval}",
        ".value",
        "`exists` takes no value",
        "`exists` ne prend pas de valeur",
    ),
    ("{field: city, op: eq}", ".value", "`eq` needs a `value`", "`eq` a besoin d'une `value`"),
    (
        "{field: city, op: within_last, value: 12 months}",
        ".value",
        "`within_last` compares dates, and `city` holds text",
        "`within_last` compare des dates, et `city` contient du texte",
    ),
    (
        "{field: last_purchase_at, op: within_last, value: 12}",
        ".value",
        "`within_last` needs a duration such as `12 months` or `30 jours`",
        "`within_last` a besoin d'une durée, comme `12 months` ou `30 jours`",
    ),
    (
        "{field: last_purchase_at, op: within_last, value: twelve months}",
        ".value",
        "`twelve months` is not a duration: write a whole number and a unit, such as `12 months`",
        "`twelve months` n'est pas une durée : écrivez un nombre entier et une unité, comme `12 months`",
    ),
    (
        "{field: last_purchase_at, op: within_last, value: 12 moons}",
        ".value",
        "`moons` is not a unit of time; use hours, days, weeks, months or years (heures, jours, semaines, mois, ans)",
        "`moons` n'est pas une unité de temps ; utilisez heures, jours, semaines, mois ou ans (hours, days, weeks, "
        "months, years)",
    ),
    (
        "{field: last_purchase_at, op: within_last, value: 200 years}",
        ".value",
        "`200 years` is out of range: from 1 to 100 years",
        "`200 years` est hors limites : de 1 à 100 ans",
    ),
    (
        "{field: last_purchase_at, op: eq, value: 1}",
        ".value",
        "`last_purchase_at` is a date: test it with within_last, older_than, within_next or exists",
        "`last_purchase_at` est une date : testez-la avec within_last, older_than, within_next ou exists",
    ),
    (
        "{field: city, op: in, value: Laval}",
        ".value",
        "`in` needs a list of values, such as [fr, en]",
        "`in` a besoin d'une liste de valeurs, comme [fr, en]",
    ),
    (
        "{field: city, op: contains, value: Laval}",
        ".value",
        "`contains` tests a list, and `city` holds text",
        "`contains` teste une liste, et `city` contient du texte",
    ),
    (
        "{field: genres, op: contains, value: [opera, dance]}",
        ".value",
        "`contains` takes one value; for any of several, use `in`",
        "`contains` prend une seule valeur ; pour l'une de plusieurs, utilisez `in`",
    ),
    (
        "{field: genres, op: eq, value: opera}",
        ".value",
        "`genres` is a list: test it with contains, in, not_in or exists",
        "`genres` est une liste : testez-la avec contains, in, not_in ou exists",
    ),
    (
        "{field: city, op: gt, value: Laval}",
        ".value",
        "`gt` compares numbers, and `city` holds text",
        "`gt` compare des nombres, et `city` contient du texte",
    ),
    (
        "{sum: [tickets_bought, no_shows], op: in, value: [1]}",
        ".value",
        "a sum is compared with eq, gt, gte, lt, lte, ne, not `in`",
        "une somme se compare avec eq, gt, gte, lt, lte, ne, pas avec `in`",
    ),
    ("{sum: [tickets_bought, no_shows], op: gt}", ".value", "`gt` needs a `value`", "`gt` a besoin d'une `value`"),
    (
        "{sum: [ticket_spend, donations_total], op: gte, value: lots}",
        ".value",
        "`the sum` holds an amount of money, so 'lots' cannot be compared with it",
        "la somme contient un montant d'argent, donc 'lots' ne peut pas lui être comparé",
    ),
    (
        "{sum: [tickets_bought, no_shows], op: gt, value: .inf}",
        ".value",
        "`the sum` is compared with a finite number, not inf",
        "la somme se compare à un nombre fini, pas à inf",
    ),
    (
        "[{field: city, op: exists}]",
        "",
        "a list of conditions goes under `all:` (each holds) or `any:` (one holds)",
        "une liste de conditions se met sous `all:` (toutes sont vraies) ou `any:` (l'une est vraie)",
    ),
    ("{all: []}", ".all", "needs at least one condition", "il faut au moins une condition"),
    (
        "{sum: [tickets_bought], op: gt, value: 1}",
        ".sum",
        "a sum needs at least two fields; to test one, use `field`",
        "une somme demande au moins deux champs ; pour n'en tester qu'un, utilisez `field`",
    ),
    (
        "{sum: [tickets_bought, tickets_bought], op: gt, value: 1}",
        ".sum",
        "`tickets_bought` is in the sum twice: name each field once",
        "`tickets_bought` est deux fois dans la somme : nommez chaque champ une seule fois",
    ),
    (
        "{sum: [tickets_bought, ticket_spend], op: gt, value: 1}",
        ".sum",
        "a sum adds fields of one kind: all numbers or all amounts of money",
        "une somme additionne des champs d'une même sorte : tous des nombres ou tous des montants d'argent",
    ),
    (
        "{all: [{field: city, op: exists}], field: city, op: exists}",
        "",
        "a condition is one of all, any, not, field or sum; this one has all and field",
        "une condition prend un seul de all, any, not, field ou sum ; celle-ci a all et field",
    ),
    (
        "{}",
        "",
        "a condition needs all, any, not, or a test: field (or sum), op and value",
        "une condition demande all, any, not, ou un test : field (ou sum), op et value",
    ),
    (
        "{field: city}",
        "",
        "a test needs `op`: one of eq, ne, gt, gte, lt, lte, in, not_in, contains, exists, missing, within_last, "
        "older_than, within_next",
        "un test a besoin de `op`, l'un de ceux-ci : eq, ne, gt, gte, lt, lte, in, not_in, contains, exists, missing, "
        "within_last, older_than, within_next",
    ),
    (
        "{not: {field: city, op: exists}, op: exists}",
        "",
        "`not` combines conditions; `op` and `value` belong in a test",
        "`not` combine des conditions ; `op` et `value` vont dans un test",
    ),
]


@pytest.mark.parametrize(("condition", "where", "english", "french"), CONDITIONS, ids=[row[0] for row in CONDITIONS])
def test_each_problem_of_a_condition_is_said_in_french_and_its_english_is_unchanged(
    condition: str, where: str, english: str, french: str
) -> None:
    error = refused(segment_when(condition))

    key = f"segments.chosen.when{where}"
    assert error.said_in("en") == f"segments.yaml, line 5: `{key}`: {english}"
    assert error.said_in("fr") == f"segments.yaml, ligne 5 : `{key}` : {french}"


def segment(
    name: str = "chosen", title: str = "{fr: Choisis, en: Chosen}", when: str = "{field: city, op: exists}"
) -> str:
    return f"""\
        segments:
          {name}:
            title: {title}
            description: {{fr: Choisis., en: Chosen.}}
            when: {when}
        """


SEGMENTS = [
    (
        segment(name="Chosen_One"),
        "line 2: `segments.Chosen_One.[key]`",
        "`Chosen_One` cannot be a name: use 2 to 63 lowercase letters, digits and dashes, such as `lapsed-buyers`",
        "`Chosen_One` ne peut pas être un nom : utilisez de 2 à 63 lettres minuscules, chiffres et tirets, comme "
        "`lapsed-buyers`",
    ),
    (
        segment(name="on"),
        "line 2: `segments.1.[key]`",
        "YAML reads yes, no, on, off, true and false without quotes as true or false: put the name in quotes, such "
        "as 'on'",
        "sans guillemets, YAML lit yes, no, on, off, true et false comme vrai ou faux : mettez le nom entre "
        "guillemets, comme 'on'",
    ),
    (
        segment(name="2026"),
        "line 2: `segments.2026.[key]`",
        "YAML reads 2026 as a number: put the name in quotes, such as '2026'",
        "YAML lit 2026 comme un nombre : mettez le nom entre guillemets, comme '2026'",
    ),
    (
        segment(name="2026-09-01"),
        "line 2: `segments.datetime.date(2026, 9, 1).[key]`",
        "YAML reads 2026-09-01 as a date: put the name in quotes, such as '2026-09-01'",
        "YAML lit 2026-09-01 comme une date : mettez le nom entre guillemets, comme '2026-09-01'",
    ),
    (
        segment(title="Choisis"),
        "line 3: `segments.chosen.title`",
        "give it in French and in English, such as {fr: Donateurs, en: Donors}",
        "donnez-le en français et en anglais, comme {fr: Donateurs, en: Donors}",
    ),
    (
        segment(title="{fr: ' ', en: Chosen}"),
        "line 3: `segments.chosen.title.fr`",
        "it is blank: write what staff should read",
        "il est vide : écrivez ce que le personnel doit lire",
    ),
    (
        segment(when="{field: cause.performance_at, op: within_last, value: 1 day}"),
        "line 2: `segments.chosen`",
        "`cause.performance_at` is the performance of the fact a trigger handles; a segment has none",
        "`cause.performance_at` est la représentation du fait que traite un déclencheur ; un segment n'en a pas",
    ),
]


def in_french(where: str) -> str:
    """`line 2: `key`` as the French frame writes it: `ligne 2 : `key``."""
    line, key = where.split(": ", 1)
    return f"{line.replace('line', 'ligne')} : {key}"


@pytest.mark.parametrize(
    ("text", "where", "english", "french"),
    SEGMENTS,
    ids=["not a slug", "read as true", "read as a number", "read as a date", "one language", "blank", "cause field"],
)
def test_each_problem_of_a_segment_is_said_in_french_and_its_english_is_unchanged(
    text: str, where: str, english: str, french: str
) -> None:
    error = refused(text)

    assert error.said_in("en") == f"segments.yaml, {where}: {english}"
    assert error.said_in("fr") == f"segments.yaml, {in_french(where)} : {french}"


def trigger(*lines: str, when: str = "{field: tickets_bought, op: gt, value: 0}") -> str:
    head = f"""\
        triggers:
          welcome:
            title: {{fr: Bienvenue, en: Welcome}}
            description: Welcome a first buyer.
            when: {when}
        """
    return dedent(head) + "".join(f"    {line}\n" for line in lines)


# What `per_performance` rules may listen to, as the messages list them.
ABOUT_PERFORMANCES = "parterre.ticket.exchanged.v1, parterre.ticket.purchased.v1, parterre.ticket.scanned.v1"

TRIGGERS = [
    (
        trigger("on: [parterre.ticket.purchasd.v1]", "period: once"),
        "line 6: `triggers.welcome.on.0`",
        "`parterre.ticket.purchasd.v1` is not an event type; did you mean `parterre.ticket.purchased.v1`?",
        "`parterre.ticket.purchasd.v1` n'est pas un type d'événement ; vouliez-vous dire "
        "`parterre.ticket.purchased.v1` ?",
    ),
    (
        trigger("on: [parterre.segment.entered.v1]", "period: once"),
        "line 6: `triggers.welcome.on.0`",
        "`parterre.segment.entered.v1` is not an event type that changes a profile; did you mean "
        "`parterre.consent.granted.v1`?",
        "`parterre.segment.entered.v1` n'est pas un type d'événement qui change un profil ; vouliez-vous dire "
        "`parterre.consent.granted.v1` ?",
    ),
    (
        trigger("on: [nothing.at.all]", "period: once"),
        "line 6: `triggers.welcome.on.0`",
        "`nothing.at.all` is not an event type",
        "`nothing.at.all` n'est pas un type d'événement",
    ),
    (
        trigger("on: []", "period: once"),
        "line 6: `triggers.welcome.on`",
        "needs at least one event type; to fire on any change, leave `on` out",
        "il faut au moins un type d'événement ; pour réagir à tout changement, retirez `on`",
    ),
    (
        trigger("period: once", "facts: [emails]"),
        "line 7: `triggers.welcome.facts.0`",
        "`emails` reaches the person only as a consented contact point",
        "`emails` ne parvient à la personne que par un point de contact auquel elle a consenti",
    ),
    (
        trigger("period: season", "counted_from: first_donation_at"),
        "line 2: `triggers.welcome`",
        "`counted_from` applies to once, year and month, not to season",
        "`counted_from` s'applique à once, year et month, pas à season",
    ),
    (
        trigger("period: once", when="{field: cause.performance_at, op: within_last, value: 1 day}"),
        "line 2: `triggers.welcome`",
        "`cause.performance_at` is the performance of the fact handled; only `per_performance` rules handle one",
        "`cause.performance_at` est la représentation du fait traité ; seules les règles `per_performance` en "
        "traitent une",
    ),
    (
        trigger("period: once", "while: {field: last_donation_at, op: within_last, value: 1 year}"),
        "line 2: `triggers.welcome`",
        "`while` applies to a rule fired when the profile enters `when`, without time tests, anniversaries or a "
        "per-event period: this one fires whenever its condition holds",
        "`while` s'applique à une règle déclenchée quand le profil entre dans `when`, sans test de temps, anniversaire "
        "ni période par événement : celle-ci se déclenche tant que sa condition tient",
    ),
    (
        trigger("period: per_performance"),
        "line 2: `triggers.welcome`",
        f"`per_performance` needs `on` to list only events about a performance ({ABOUT_PERFORMANCES})",
        f"`per_performance` demande que `on` ne liste que des événements sur une représentation ({ABOUT_PERFORMANCES})",
    ),
    (
        trigger("period: per_performance", "on: [parterre.ticket.scanned.v1, parterre.donation.made.v1]"),
        "line 2: `triggers.welcome`",
        f"`per_performance` needs `on` to list only events about a performance ({ABOUT_PERFORMANCES}); "
        "`parterre.donation.made.v1` is about no performance",
        f"`per_performance` demande que `on` ne liste que des événements sur une représentation ({ABOUT_PERFORMANCES})"
        " ; `parterre.donation.made.v1` ne concerne aucune représentation",
    ),
    (
        trigger(
            "period: per_performance",
            "on: [parterre.donation.made.v1, parterre.shop.order_placed.v1, parterre.ticket.scanned.v1]",
        ),
        "line 2: `triggers.welcome`",
        f"`per_performance` needs `on` to list only events about a performance ({ABOUT_PERFORMANCES}); "
        "`parterre.donation.made.v1`, `parterre.shop.order_placed.v1` is about no performance",
        f"`per_performance` demande que `on` ne liste que des événements sur une représentation ({ABOUT_PERFORMANCES})"
        " ; `parterre.donation.made.v1`, `parterre.shop.order_placed.v1` ne concernent aucune représentation",
    ),
]


@pytest.mark.parametrize(
    ("text", "where", "english", "french"),
    TRIGGERS,
    ids=[
        "misspelt event",
        "event that changes no profile",
        "unknown event",
        "no event",
        "contact in facts",
        "counted from a season",
        "cause field once",
        "while in a rule fired while it holds",
        "per performance without on",
        "per performance on another event",
        "per performance on other events",
    ],
)
def test_each_problem_of_a_trigger_is_said_in_french_and_its_english_is_unchanged(
    text: str, where: str, english: str, french: str
) -> None:
    error = refused(text, triggers=True)

    assert error.said_in("en") == f"triggers.yaml, {where}: {english}"
    assert error.said_in("fr") == f"triggers.yaml, {in_french(where)} : {french}"


def test_a_file_with_several_problems_says_each_in_french_on_its_line() -> None:
    text = trigger("on: [parterre.ticket.purchasd.v1]", "period: once", when="{field: city, op: gt, value: 2}")

    assert refused(text, triggers=True).said_in("fr") == (
        "triggers.yaml, ligne 5 : `triggers.welcome.when.value` : `gt` compare des nombres, et `city` contient du "
        "texte ; triggers.yaml, ligne 6 : `triggers.welcome.on.0` : `parterre.ticket.purchasd.v1` n'est pas un type "
        "d'événement ; vouliez-vous dire `parterre.ticket.purchased.v1` ?"
    )


def test_a_duration_refused_outside_a_file_is_a_value_error_that_says_it_in_both_languages() -> None:
    with pytest.raises(BilingualValueError) as error:
        Duration.parse("3 fortnights")

    assert isinstance(error.value, ValueError)
    assert str(error.value) == error.value.en
    assert error.value.en == (
        "`fortnights` is not a unit of time; use hours, days, weeks, months or years (heures, jours, semaines, mois, "
        "ans)"
    )
    assert error.value.fr == (
        "`fortnights` n'est pas une unité de temps ; utilisez heures, jours, semaines, mois ou ans (hours, days, "
        "weeks, months, years)"
    )
