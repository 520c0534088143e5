"""The identifier policy: which identifiers link a record, in which order, and which shared values never do."""

from datetime import date
from textwrap import dedent

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.identity.domain.identifiers import (
    Identifier,
    IdentifierPolicy,
    IdentifierRule,
    IdentifierType,
    as_written_today,
    identifiers_of,
    load_identifier_policy,
)
from services.identity.domain.normalise import normalise_email, normalise_phone, normalise_record
from services.identity.domain.records import NormalisedRecord, PersonRecord
from services.identity.settings import BUNDLED_POLICY
from shared.yaml_models import ConfigFileError

TODAY = date(2026, 5, 1)
ORGANISATION = "theatre-du-nord"
OTHER_ORGANISATION = "festival-de-l-est"
BUNDLED = load_identifier_policy(BUNDLED_POLICY.read_text(encoding="utf-8"), file_name=str(BUNDLED_POLICY))

RULES = """\
identifiers:
  external_id: {priority: 100, max_per_person: 5, merges: true, confidence: 1.0}
  email: {priority: 80, max_per_person: 5, merges: true, confidence: 1.0}
  phone: {priority: 60, max_per_person: 3, merges: false, confidence: 0.9}
"""
WITH_ORGANISATION = (
    RULES
    + """\
organisations:
  theatre-du-nord:
    emails: ["Billetterie.Theatre@gmail.com", "ventes@theatredunord.example"]
    phones: ["+1 514 555 0100"]
    external_ids: ["COMPTOIR-NORD"]
"""
)

ORGANISATION_POLICY = load_identifier_policy(WITH_ORGANISATION)


def normalised(**fields: str) -> NormalisedRecord:
    return normalise_record(PersonRecord(**fields), today=TODAY)


def usable(record: NormalisedRecord, policy: IdentifierPolicy = BUNDLED, organisation: str = ORGANISATION) -> list[str]:
    found, _blocked = identifiers_of(record, policy, organisation)
    return [identifier.key for identifier in found]


def blocked(
    record: NormalisedRecord, policy: IdentifierPolicy = BUNDLED, organisation: str = ORGANISATION
) -> list[str]:
    _found, refused = identifiers_of(record, policy, organisation)
    return [identifier.key for identifier in refused]


def problems(text: str) -> tuple[tuple[int, str], ...]:
    with pytest.raises(ConfigFileError) as error:
        load_identifier_policy(dedent(text), file_name="policy.yaml")
    return error.value.problems


# The bundled policy


def test_the_bundled_policy_loads_with_upstream_ids_strongest_and_phones_unable_to_merge() -> None:
    assert BUNDLED.identifiers == {
        IdentifierType.EXTERNAL_ID: IdentifierRule(priority=100, max_per_person=5, merges=True, confidence=1.0),
        IdentifierType.EMAIL: IdentifierRule(priority=80, max_per_person=5, merges=True, confidence=1.0),
        IdentifierType.PHONE: IdentifierRule(priority=60, max_per_person=3, merges=False, confidence=0.9),
    }
    assert {"info@*", "billetterie@*", "test@*"} <= set(BUNDLED.blocked.emails)
    assert {"0", "GUEST"} <= set(BUNDLED.blocked.external_ids)
    assert BUNDLED.organisations == {}


# Blocked values


@pytest.mark.parametrize(
    "email",
    [
        "info@theatre.example",
        "INFO@Theatre.Example",
        "info+infolettre@theatre.example",
        "billetterie@salle-multi.example",
        "test@gmail.com",
        "noreply@billets.example",
        "ne-pas-repondre@theatre.example",
        "ne_pas_repondre@theatre.example",
        "do-not-reply@billets.example",
        "patron@example.invalid",
        "none@none.com",
        "in\xadfo@theatre.example",
        "\u2060billetterie@salle-multi.example",
    ],
)
def test_role_and_placeholder_addresses_are_refused_whatever_their_case_or_tag(email: str) -> None:
    record = normalised(email=email, first_name="Anne", last_name="Roy")
    assert usable(record) == []
    assert blocked(record) == [f"email={record.email}"]


@pytest.mark.parametrize(
    "email", ["information@theatre.example", "marie.info@gmail.com", "testeur@videotron.ca", "billetterie2@x.example"]
)
def test_personal_addresses_that_merely_resemble_a_blocked_pattern_are_usable(email: str) -> None:
    record = normalised(email=email)
    assert usable(record) == [f"email={record.email}"]
    assert blocked(record) == []


@pytest.mark.parametrize("external_id", ["GUEST", "0", "WALKIN", "COMPTOIR"])
def test_placeholder_upstream_ids_are_refused_for_every_source(external_id: str) -> None:
    for source in ("billetterie-principale", "shopify-boutique"):
        record = normalised(source=source, external_id=external_id)
        assert usable(record) == []
        assert blocked(record) == [f"external_id:{source}={external_id}"]


@pytest.mark.parametrize("external_id", ["GUEST ", " guest", "WALKIN\t", "0 ", "\u00a0COMPTOIR\n"])
def test_a_placeholder_upstream_id_padded_with_spaces_is_refused_and_kept_as_sent(external_id: str) -> None:
    record = normalised(source="billetterie-principale", external_id=external_id)
    assert usable(record) == []
    assert blocked(record) == [f"external_id:billetterie-principale={external_id}"]


def test_a_blocked_upstream_id_written_with_spaces_in_the_policy_still_blocks() -> None:
    policy = load_identifier_policy(RULES + 'blocked:\n  external_ids: [" GUEST "]\n')
    assert blocked(normalised(source="bo", external_id="guest"), policy) == ["external_id:bo=guest"]


@pytest.mark.parametrize("phone", ["000-000-0000", "111-111-1111", "(555) 555-5555", "999 999 9999"])
def test_placeholder_phones_are_no_phone_number_at_all_so_they_never_become_an_identifier(phone: str) -> None:
    record = normalised(phone=phone, email="anne.roy@videotron.ca")
    assert record.phone is None
    assert record.warnings == (f"phone: {phone!r} is not a valid phone number",)
    assert usable(record) == ["email=anne.roy@videotron.ca"]
    assert blocked(record) == []


def test_the_bundled_policy_blocks_each_placeholder_phone_in_every_area_code_it_lists() -> None:
    # A placeholder staff type in one area code, they type in the others: blocked in one only, it glues the rest.
    blocked_numbers = {normalise_phone(phone) for phone in BUNDLED.blocked.phones}
    area_codes = {number[2:5] for number in blocked_numbers if number is not None}
    placeholders = {number[5:] for number in blocked_numbers if number is not None}
    assert {"418", "438", "450", "514", "819"} <= area_codes
    assert {"5555555", "9999999"} <= placeholders
    unblocked = [
        f"{area_code}-{placeholder[:3]}-{placeholder[3:]}"
        for area_code in sorted(area_codes)
        for placeholder in sorted(placeholders)
        if not blocked(normalised(phone=f"{area_code}{placeholder}"))
    ]
    assert unblocked == []


def test_an_organisation_s_own_blocked_values_apply_to_it_and_to_no_other_organisation() -> None:
    policy = ORGANISATION_POLICY
    record = normalised(
        source="billetterie-principale",
        external_id="COMPTOIR-NORD",
        email="ventes@theatredunord.example",
        phone="(514) 555-0100",
    )
    assert usable(record, policy, ORGANISATION) == []
    assert sorted(blocked(record, policy, ORGANISATION)) == [
        "email=ventes@theatredunord.example",
        "external_id:billetterie-principale=COMPTOIR-NORD",
        "phone=+15145550100",
    ]
    assert usable(record, policy, OTHER_ORGANISATION) == [
        "external_id:billetterie-principale=COMPTOIR-NORD",
        "email=ventes@theatredunord.example",
        "phone=+15145550100",
    ]
    assert blocked(record, policy, OTHER_ORGANISATION) == []


@pytest.mark.parametrize(
    "email", ["billetterie.theatre@gmail.com", "BilletterieTheatre@gmail.com", "billetterie.theatre+web@googlemail.com"]
)
def test_a_blocked_gmail_address_is_blocked_however_its_dots_and_tags_are_written(email: str) -> None:
    policy = ORGANISATION_POLICY
    record = normalised(email=email)
    assert usable(record, policy, ORGANISATION) == []
    assert blocked(record, policy, ORGANISATION) == ["email=billetterietheatre@gmail.com"]


@pytest.mark.parametrize("entry", ["*@xn--thtre-4qa2c.qc.ca", "*@théâtre.qc.ca"])
@pytest.mark.parametrize("email", ["billets@xn--thtre-4qa2c.qc.ca", "billets@théâtre.qc.ca"])
def test_a_blocked_pattern_s_domain_is_read_as_addresses_are_whichever_form_either_writes_it_in(
    entry: str, email: str
) -> None:
    policy = load_identifier_policy(RULES + f'blocked:\n  emails: ["{entry}"]\n')
    assert blocked(normalised(email=email), policy) == ["email=billets@théâtre.qc.ca"]


@pytest.mark.parametrize(
    ("stored", "today"),
    [
        ("marie@xn--thtre-4qa2c.qc.ca", "marie@théâtre.qc.ca"),
        ("hans@post.xn--strae-oqa.de", "hans@post.straße.de"),
    ],
)
def test_an_address_an_older_release_kept_with_its_domain_in_the_dns_form_is_written_today_with_the_name(
    stored: str, today: str
) -> None:
    assert as_written_today(Identifier(IdentifierType.EMAIL, stored)) == Identifier(IdentifierType.EMAIL, today)


@pytest.mark.parametrize(
    "identifier",
    [
        Identifier(IdentifierType.EMAIL, "marie@théâtre.qc.ca"),
        Identifier(IdentifierType.EMAIL, "marie@videotron.ca"),
        # Not the DNS form of a name: kept as written by every release.
        Identifier(IdentifierType.EMAIL, "marie@xn--zz.ca"),
        Identifier(IdentifierType.PHONE, "+15145550199"),
        Identifier(IdentifierType.EXTERNAL_ID, "marie@xn--thtre-4qa2c.qc.ca", "shopify-boutique"),
    ],
)
def test_an_identifier_stored_as_today_s_normalisation_writes_it_is_written_today_as_it_is(
    identifier: Identifier,
) -> None:
    assert as_written_today(identifier) == identifier


def test_a_blocked_phone_is_compared_in_e164_whatever_format_the_policy_writes_it_in() -> None:
    policy = load_identifier_policy(RULES + 'blocked:\n  phones: ["514.555.0100"]\n')
    for written in ("+1 514 555 0100", "1-514-555-0100", "(514) 555-0100 poste 12"):
        assert blocked(normalised(phone=written), policy) == ["phone=+15145550100"]
    assert usable(normalised(phone="514 555 0101"), policy) == ["phone=+15145550101"]


# Which identifiers, in which order


def test_a_record_s_identifiers_come_out_strongest_first() -> None:
    record = normalised(
        phone="514 555-0199", email="Marie.Tremblay@Videotron.ca", source="billetterie-principale", external_id="C-1"
    )
    found, _ = identifiers_of(record, BUNDLED, ORGANISATION, previous_emails=["marie.t@videotron.ca"])
    assert [identifier.key for identifier in found] == [
        "external_id:billetterie-principale=C-1",
        "email=marie.tremblay@videotron.ca",
        "email=marie.t@videotron.ca",
        "phone=+15145550199",
    ]


def test_the_order_follows_the_policy_s_priorities_not_a_fixed_one() -> None:
    phone_first = load_identifier_policy(RULES.replace("priority: 60", "priority: 200"))
    record = normalised(phone="514 555-0199", email="marie@videotron.ca", source="bo", external_id="C-1")
    assert usable(record, phone_first) == ["phone=+15145550199", "external_id:bo=C-1", "email=marie@videotron.ca"]


def test_an_upstream_id_without_its_source_is_no_identifier() -> None:
    assert usable(normalised(external_id="C-1")) == []


def test_a_previous_email_is_listed_once_however_often_it_is_repeated() -> None:
    record = normalised(email="marie@videotron.ca")
    found, _ = identifiers_of(
        record,
        BUNDLED,
        ORGANISATION,
        previous_emails=["Marie@Videotron.ca", "m.tremblay@gmail.com", "mtremblay@gmail.com", "not an address"],
    )
    assert [identifier.key for identifier in found] == ["email=marie@videotron.ca", "email=mtremblay@gmail.com"]


def test_a_blocked_previous_email_is_refused_like_a_current_one() -> None:
    found, refused = identifiers_of(normalised(), BUNDLED, ORGANISATION, previous_emails=["info@theatre.example"])
    assert found == []
    assert refused == [Identifier(IdentifierType.EMAIL, "info@theatre.example")]


local_parts = st.sampled_from(["info", "test", "marie", "jean.roy", "billetterie", "admin", "m", "contact"])
domains = st.sampled_from(["theatre.example", "gmail.com", "videotron.ca", "example.invalid"])


@given(
    email=st.none() | st.builds("{}@{}".format, local_parts, domains),
    previous=st.lists(st.builds("{}@{}".format, local_parts, domains), max_size=3),
    phone=st.none() | st.sampled_from(["514 555 0100", "000-000-0000", "418-555-0123", "12"]),
    external_id=st.none() | st.sampled_from(["GUEST", "GUEST ", "C-1", " C-1", "0", "0\t", "207"]),
    source=st.none() | st.sampled_from(["billetterie-principale", "shopify-boutique"]),
    organisation=st.sampled_from([ORGANISATION, OTHER_ORGANISATION]),
)
def test_usable_and_blocked_identifiers_split_the_record_s_distinct_identifiers_and_usable_ones_are_ordered(
    email: str | None,
    previous: list[str],
    phone: str | None,
    external_id: str | None,
    source: str | None,
    organisation: str,
) -> None:
    policy = ORGANISATION_POLICY
    record = normalise_record(
        PersonRecord(email=email, phone=phone, external_id=external_id, source=source), today=TODAY
    )
    found, refused = identifiers_of(record, policy, organisation, previous_emails=previous)
    everything = found + refused
    assert len(set(everything)) == len(everything)
    assert all(policy.is_blocked(identifier, organisation) for identifier in refused)
    assert not any(policy.is_blocked(identifier, organisation) for identifier in found)
    priorities = [policy.rule(identifier).priority for identifier in found]
    assert priorities == sorted(priorities, reverse=True)
    expected_emails = {address for address in [email, *previous] if address is not None}
    assert {identifier.value for identifier in everything if identifier.type is IdentifierType.EMAIL} == {
        normalise_email(address) for address in expected_emails
    }


# Files with mistakes: the error names the line to fix


def test_an_unknown_setting_in_a_rule_names_its_line() -> None:
    text = """\
        identifiers:
          external_id: {priority: 100, max_per_person: 5, merges: true, confidence: 1.0}
          email:
            priority: 80
            max_per_person: 5
            merges: true
            confidence: 1.0
            strength: high
          phone: {priority: 60, max_per_person: 3, merges: false, confidence: 0.9}
        """
    assert problems(text) == ((8, "`identifiers.email.strength`: Extra inputs are not permitted"),)


def test_a_setting_given_twice_in_a_rule_names_its_line() -> None:
    text = RULES.replace("email: {priority: 80,", "email: {priority: 80, priority: 10,")
    assert problems(text) == ((3, "`priority` is given twice in one place"),)


def test_an_unknown_top_level_section_names_the_line_of_its_key() -> None:
    text = RULES + "\n# one organisation's own values\norganisation:\n  theatre-du-nord:\n    emails: [a@b.example]\n"
    assert problems(text) == ((7, "`organisation`: Extra inputs are not permitted"),)


def test_a_negative_priority_names_its_line() -> None:
    text = RULES.replace("phone: {priority: 60", "phone: {priority: -60")
    ((line, message),) = problems(text)
    assert line == 4
    assert message == "`identifiers.phone.priority`: Input should be greater than or equal to 0"


def test_a_negative_priority_in_the_bundled_file_names_the_line_it_is_on() -> None:
    text = BUNDLED_POLICY.read_text(encoding="utf-8").replace("priority: 80", "priority: -5")
    ((line, message),) = problems(text)
    assert line == 12
    assert message.startswith("`identifiers.email.priority`:")


def test_a_missing_identifier_type_is_reported_on_the_line_of_identifiers_and_names_the_type() -> None:
    text = """\
        # no phone rule
        identifiers:
          external_id: {priority: 100, max_per_person: 5, merges: true, confidence: 1.0}
          email: {priority: 80, max_per_person: 5, merges: true, confidence: 1.0}
        """
    ((line, message),) = problems(text)
    assert line == 2
    assert message.endswith("every identifier type needs a rule; missing: phone")


def test_a_blocked_value_that_is_no_phone_number_is_refused_in_english_and_french() -> None:
    with pytest.raises(ConfigFileError) as error:
        load_identifier_policy(RULES + 'blocked:\n  phones: ["box office"]\n', file_name="policy.yaml")
    assert error.value.said_in("en") == (
        "policy.yaml, line 6: `blocked.phones`: Value error, not phone numbers, so they would block nothing: box office"
    )
    assert error.value.said_in("fr") == (
        "policy.yaml, ligne 6 : `blocked.phones` : ce ne sont pas des numéros de téléphone, ils ne bloqueraient "
        "rien : box office"
    )


def test_a_rule_missing_a_setting_is_reported_on_the_line_of_the_rule() -> None:
    text = """\
        identifiers:
          external_id: {priority: 100, max_per_person: 5, merges: true, confidence: 1.0}
          email: {priority: 80, max_per_person: 5, merges: true, confidence: 1.0}
          phone:
            priority: 60
            max_per_person: 3
            confidence: 0.9
        """
    assert problems(text) == ((4, "`identifiers.phone.merges`: Field required"),)


def test_an_unknown_identifier_type_names_its_line() -> None:
    text = RULES + "  fax: {priority: 10, max_per_person: 1, merges: false, confidence: 0.5}\n"
    ((line, message),) = problems(text)
    assert line == 5
    assert message.startswith("`identifiers.fax.[key]`: Input should be 'external_id', 'email' or 'phone'")


@pytest.mark.parametrize(
    ("email_rule", "setting"),
    [
        ("{priority: 80, max_per_person: 0, merges: true, confidence: 1.0}", "max_per_person"),
        ("{priority: 80, max_per_person: 5, merges: true, confidence: 0}", "confidence"),
        ("{priority: 80, max_per_person: 5, merges: maybe, confidence: 1.0}", "merges"),
        ("{priority: high, max_per_person: 5, merges: true, confidence: 1.0}", "priority"),
    ],
)
def test_a_setting_out_of_range_or_of_the_wrong_kind_names_its_line(email_rule: str, setting: str) -> None:
    text = RULES.replace(
        "email: {priority: 80, max_per_person: 5, merges: true, confidence: 1.0}", f"email: {email_rule}"
    )
    ((line, message),) = problems(text)
    assert line == 3
    assert message.startswith(f"`identifiers.email.{setting}`:")


def test_an_empty_blocked_value_names_the_line_of_that_item() -> None:
    text = RULES + 'blocked:\n  emails:\n    - "info@*"\n    - ""\n'
    ((line, message),) = problems(text)
    assert line == 8
    assert message.startswith("`blocked.emails.1`:")


def test_broken_yaml_names_the_line_where_it_breaks() -> None:
    text = RULES + "blocked:\n  emails:\n    - info@*\n   - test@*\n"
    ((line, message),) = problems(text)
    assert line == 8
    assert message.startswith("not valid YAML:")


def test_an_empty_policy_file_is_refused_because_every_identifier_type_needs_a_rule() -> None:
    ((line, message),) = problems("# nothing yet\n")
    assert line == 1
    assert message == "`identifiers`: Field required"
