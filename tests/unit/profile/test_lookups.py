"""The keys a profile is found by: its contact details and upstream ids as before, its upstream ids alone, and the
sounds of its names."""

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from services.profile.domain.lookups import (
    email_lookup,
    email_lookups,
    external_lookup,
    lookup_keys,
    name_lookups,
    part_sound,
    personal_details,
    phone_lookup,
    phone_lookups,
    searchable_parts,
    upstream_lookup,
)
from services.profile.domain.profile import ProfileState, email_address
from services.profile.domain.strategies import Stamp, Stamped
from shared.emails import normalise_email
from shared.names import fold_name

STAMP = Stamp(datetime(2026, 10, 1, tzinfo=UTC), "evt-1")
NAME_LETTERS = st.sampled_from("abcdeéèêëfghiïjklmnoôpqrstuùvwxyzçÉÈÇÔ-' ")
NAMES = st.text(NAME_LETTERS, min_size=1, max_size=20)


def state(
    first: str | None = None,
    last: str | None = None,
    *,
    emails: tuple[str, ...] = (),
    phones: tuple[str, ...] = (),
    external_ids: tuple[str, ...] = (),
) -> ProfileState:
    return ProfileState(
        first_name=None if first is None else Stamped(first, STAMP),
        last_name=None if last is None else Stamped(last, STAMP),
        emails=dict.fromkeys(emails, STAMP),
        phones=dict.fromkeys(phones, STAMP),
        external_ids=frozenset(external_ids),
    )


def test_a_profile_is_keyed_by_the_sound_of_each_name_and_of_the_two_together() -> None:
    assert name_lookups("Hélène", "Côté") == {"name:HLN", "name:K", "names:HLN|K"}


def test_spelling_variants_accents_and_case_share_their_keys() -> None:
    assert name_lookups("Helene", "COTE") == name_lookups("Hélène", "Côté")
    assert name_lookups("Stéphanie", "Thibeault") == name_lookups("Stefanie", "Thibault")
    assert name_lookups(None, "Tremblai") == name_lookups(None, "Tremblay")


def test_a_name_pasted_with_a_soft_hyphen_or_a_zero_width_space_shares_the_keys_of_the_name_typed() -> None:
    assert name_lookups("Ma\u00adrie", "Tremb\u00adlay") == name_lookups("Marie", "Tremblay")
    assert name_lookups("Marie-\u200bÈve", "\ufeffCôté") == name_lookups("Marie-Ève", "Côté")


def test_each_part_of_a_compound_name_is_keyed_and_paired() -> None:
    keys = name_lookups("Marie-Ève", "Gagnon-Tremblay")

    assert {"name:MR", "name:EF", "name:KKNN", "name:TRMBL"} <= keys
    assert {"names:KKNN|MR", "names:MR|TRMBL", "names:EF|KKNN", "names:EF|TRMBL"} <= keys
    assert "names:EF|MR" not in keys, "two parts of one first name are not a pair"


def test_a_particle_is_keyed_with_its_word_and_the_word_alone_too() -> None:
    assert searchable_parts("St-Pierre") == ("stpierre", "pierre")
    assert searchable_parts("Saint-Pierre") == searchable_parts("St. Pierre") == ("stpierre", "pierre")
    assert searchable_parts("de la Fontaine") == ("delafontaine", "fontaine")
    assert searchable_parts("D'Arcy") == ("darcy", "arcy")
    assert searchable_parts("Le") == ("le",), "a name made of a particle is its own part"


def test_a_name_in_another_script_is_keyed_by_its_spelling_and_initials_or_digits_are_not_keyed() -> None:
    assert name_lookups("小明", "王") == {"name:小明", "name:王"} | {"names:小明|王"}
    assert part_sound("j") is None
    assert part_sound("2") is None
    assert name_lookups("J.", "---") == set()
    assert name_lookups(None, None) == set()


def test_upstream_ids_are_keyed_with_their_source_and_alone() -> None:
    keys = lookup_keys(state(external_ids=("billetterie-principale:C-004521", "shopify-boutique:7231459876543")))

    assert external_lookup("billetterie-principale", "C-004521") in keys
    assert upstream_lookup("C-004521") in keys
    assert upstream_lookup("7231459876543") in keys
    assert upstream_lookup("  c-004521 ") == upstream_lookup("C-004521"), "case and spaces aside"


def test_the_same_upstream_id_from_two_sources_is_one_key() -> None:
    box_office = lookup_keys(state(external_ids=("billetterie-principale:1234",)))
    shop = lookup_keys(state(external_ids=("shopify-boutique:1234",)))

    assert box_office & shop == {upstream_lookup("1234")}


def test_contact_keys_are_unchanged_and_the_erasure_proof_searches_details_not_sounds() -> None:
    profile = state(
        "Élise",
        "Gagnon",
        emails=("elise.gagnon@example.com",),
        phones=("+15145550199",),
        external_ids=("billetterie-principale:C-004521",),
    )

    assert {
        email_lookup("Elise.Gagnon@example.com"),
        phone_lookup("514 555 0199"),
        external_lookup("billetterie-principale", "C-004521"),
    } <= lookup_keys(profile)
    assert personal_details(profile) == ["+15145550199", "billetterie-principale:C-004521", "elise.gagnon@example.com"]


def test_a_profile_without_names_or_ids_has_only_its_contact_keys() -> None:
    assert lookup_keys(state(emails=("a@example.com",))) == {"email:a@example.com"}
    assert lookup_keys(ProfileState()) == frozenset()


@given(NAMES, NAMES)
def test_keys_do_not_depend_on_case_accents_or_punctuation(first: str, last: str) -> None:
    assert name_lookups(first.upper(), last.lower()) == name_lookups(fold_name(first), fold_name(last))


@given(NAMES, NAMES)
def test_swapped_first_and_last_names_share_their_pair_keys(first: str, last: str) -> None:
    pairs = {key for key in name_lookups(first, last) if key.startswith("names:")}
    swapped = {key for key in name_lookups(last, first) if key.startswith("names:")}

    assert pairs == swapped


@given(NAMES, NAMES)
def test_every_searchable_part_with_a_sound_is_keyed(first: str, last: str) -> None:
    keys = name_lookups(first, last)

    for part in (*searchable_parts(first), *searchable_parts(last)):
        sound = part_sound(part)
        assert sound is None or f"name:{sound}" in keys


# Addresses as staff and upstream systems write them: Gmail's two names, dots, tags, capitals, another domain.
ADDRESSES = st.builds(
    "{}{}@{}".format,
    st.text(st.sampled_from("jeanJEAN."), min_size=1, max_size=6),
    st.sampled_from(("", "+news", "+Billets", "+")),
    st.sampled_from(("gmail.com", "GoogleMail.com", "videotron.ca", "Videotron.CA")),
)


def test_a_profile_is_filed_under_its_addresses_as_identity_links_them_its_erasure_proof_lists_them_as_held() -> None:
    profile = state(emails=("jean.dupont+news@gmail.com", "anne.roy+billets@videotron.ca"))

    assert lookup_keys(profile) == {
        "email:jean.dupont+news@gmail.com",
        "email:jeandupont@gmail.com",
        "email:anne.roy+billets@videotron.ca",
        "email:anne.roy@videotron.ca",
    }
    assert personal_details(profile) == ["anne.roy+billets@videotron.ca", "jean.dupont+news@gmail.com"]


def test_an_address_known_only_from_its_bounce_is_in_the_erasure_proof_but_finds_no_one() -> None:
    profile = ProfileState(
        emails={"elise@example.com": STAMP},
        emails_undeliverable_at={"elise@example.com": STAMP, "ancienne.adresse@example.com": STAMP},
    )

    assert personal_details(profile) == ["ancienne.adresse@example.com", "elise@example.com"]
    assert "email:ancienne.adresse@example.com" not in lookup_keys(profile)


def test_an_address_is_looked_up_as_linked_then_as_profiles_keep_it_and_unreadable_text_as_kept() -> None:
    assert email_lookups(" Jean.Dupont+News@GoogleMail.com ") == (
        "email:jeandupont@gmail.com",
        "email:jean.dupont+news@googlemail.com",
    )
    assert email_lookups("Anne.Roy@Videotron.ca") == ("email:anne.roy@videotron.ca",)
    assert email_lookups("not an address") == ("email:not an address",)


@given(ADDRESSES, ADDRESSES)
def test_a_look_up_finds_an_address_exactly_when_identity_links_the_two_or_profiles_keep_them_alike(
    typed: str, held: str
) -> None:
    linked = normalise_email(typed)
    found = not lookup_keys(state(emails=(email_address(held),))).isdisjoint(email_lookups(typed))

    assert found == ((linked is not None and linked == normalise_email(held)) or email_address(typed) == held.lower())


def test_a_phone_without_its_country_code_is_looked_up_as_dialled_from_the_region_then_as_profiles_read_it() -> None:
    # Read as from Canada, where profiles read a number their fact gave no country for, it makes `+10142685300`.
    assert phone_lookups("01 42 68 53 00", "FR") == ("phone:+33142685300", "phone:+10142685300")
    assert phone_lookups("(514) 555-0199", "CA") == ("phone:+15145550199",)
    assert phone_lookups("+1 514 555 0199", "FR") == ("phone:+15145550199",)
