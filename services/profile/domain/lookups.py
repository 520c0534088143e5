"""The keys a profile is found by: its emails, phones and upstream ids, and the sound of its names, written the way a
look-up asks for them."""

import re

import phonenumbers

from services.profile.domain.profile import ProfileState, email_address, external_key, phone_number
from shared.emails import normalise_email
from shared.memo import remembered
from shared.names import JOINING_PARTICLES, fold_name, name_parts, sound_key


def lookup_keys(state: ProfileState) -> frozenset[str]:
    """Every key the profile is found by: `email:`, `phone:` and `external:` (an upstream id with its source), as
    exact as a look-up by one of them; each email also as identity links it (`email_lookups`); `upstream:` (the
    upstream id alone, whatever system issued it); and the name keys (`name_lookups`, `start_lookups`)."""
    first = None if state.first_name is None else state.first_name.value
    last = None if state.last_name is None else state.last_name.value
    return frozenset(
        _detail_keys(state)
        | {key for email in state.emails for key in email_lookups(email)}
        | {upstream_lookup(_upstream_id(external)) for external in state.external_ids}
        | _name_keys(first, last)
    )


@remembered
def _name_keys(first_name: str | None, last_name: str | None) -> frozenset[str]:
    # Two thirds of the keys' cost, and the same for a patron from one change to the next: each store of a profile
    # compares its keys before and after.
    return frozenset(name_lookups(first_name, last_name) | start_lookups(first_name, last_name))


def personal_details(state: ProfileState) -> list[str]:
    """The emails, phones and upstream ids (with their source) the profile holds, as an erasure's proof searches for
    them afterwards; an address known only from its bounce or cleaning too, which the profile keeps. Not the sounds
    of names: a sound is shared by many people and tells no one's details."""
    held = {key.split(":", 1)[1] for key in _detail_keys(state)}
    return sorted(held | {email_address(email) for email in state.emails_undeliverable_at})


# Digits of a phone's number within a country, fewer than this, may be anything in a text (a date, an order number).
_FEWEST_PHONE_DIGITS_NAMED = 7
# Shorter upstream ids alone are left out: `12` would be named by any reason giving a date, and says little of anyone.
_SHORTEST_UPSTREAM_ID_NAMED = 4


def details_named_in(text: str, state: ProfileState) -> list[str]:
    """Which of the profile's emails, phones and upstream ids `text` gives, however typed: an email in any case; a
    phone with any spaces, dashes, brackets or country code, next to other numbers or not (its digits within its
    country are found among the text's digits); an upstream id with its source, or alone as a word of its own in any
    case. Each is named as the profile holds it, sorted."""
    folded = text.casefold()
    emails = map(email_address, (*state.emails, *state.emails_undeliverable_at))
    named = {email for email in emails if email and email.casefold() in folded}
    digits = "".join(character for character in text if character.isascii() and character.isdigit())
    for phone in state.phones:
        national = _national_digits(phone)
        if phone in text or (len(national) >= _FEWEST_PHONE_DIGITS_NAMED and national in digits):
            named.add(phone)
    for external in state.external_ids:
        upstream = upstream_id_as_compared(_upstream_id(external))
        as_a_word = len(upstream) >= _SHORTEST_UPSTREAM_ID_NAMED and re.search(
            rf"(?<!\w){re.escape(upstream)}(?!\w)", folded
        )
        if external.casefold() in folded or as_a_word:
            named.add(_upstream_id(external))
    return sorted(named)


def _national_digits(phone: str) -> str:
    """The digits of a kept phone within its country (`5145550199` of `+15145550199`), as it is dialled there after
    any trunk prefix; the digits it holds when it was kept as given."""
    try:
        return str(phonenumbers.parse(phone, None).national_number)
    except phonenumbers.NumberParseException:
        return "".join(character for character in phone if character.isascii() and character.isdigit())


def _detail_keys(state: ProfileState) -> set[str]:
    return (
        {email_lookup(email) for email in state.emails}
        | {f"phone:{phone}" for phone in state.phones}
        | {f"external:{external}" for external in state.external_ids}
    )


def email_lookup(text: str) -> str:
    """The key of an address as profiles keep it."""
    return f"email:{email_address(text)}"


def email_lookups(text: str) -> tuple[str, ...]:
    """The keys an address is filed under and looked up by: as identity links it (`shared.emails`: Gmail's dots and
    any `+tag` aside), so `jean.dupont+news@gmail.com` finds `jeandupont@googlemail.com`; and as profiles keep it,
    which finds the profiles filed before addresses were linked (until `parterre profile reindex-lookups` files
    them) and addresses of no usable shape.

    Both share `email:`, so a profile filed only under the address it holds is found when that address is already
    in its linked form. Two addresses meet on a key only when identity links them or they are kept alike: the linked
    form of an address is the linked form of its kept form, and linking a linked form changes nothing.
    """
    linked = normalise_email(text)
    kept = email_lookup(text)
    return (kept,) if linked is None else tuple(dict.fromkeys((f"email:{linked}", kept)))


def phone_lookup(text: str) -> str:
    return f"phone:{phone_number(text)}"


def phone_lookups(text: str, region: str) -> tuple[str, ...]:
    """The keys a look-up of a typed number reads (see `phone_readings`)."""
    return tuple(f"phone:{number}" for number in phone_readings(text, region))


def phone_readings(text: str, region: str) -> tuple[str, ...]:
    """A typed number as profiles keep numbers: read as dialled from the service's `region` (identity's too), then
    as dialled from `DEFAULT_PHONE_REGION`, as profiles read the numbers their facts give with Canada or no country,
    so that a profile holding one as read there (`01 42 68 53 00` as `+10142685300`) is still found by it."""
    return tuple(dict.fromkeys((phone_number(text, region), phone_number(text))))


def external_lookup(source: str, external_id: str) -> str:
    return f"external:{external_key(source, external_id)}"


def external_lookups(source: str, external_id: str) -> tuple[str, ...]:
    """The keys a look-up of an upstream id reads: as typed, and without the spaces around it. Profiles keep an id
    as each fact sent it, padding included, and a look-up pasted with spaces around it means the id itself."""
    return tuple(dict.fromkeys(external_lookup(source, typed) for typed in (external_id, external_id.strip())))


def upstream_lookup(external_id: str) -> str:
    """An upstream id whatever its source, as staff type it: surrounding spaces and case do not matter."""
    return f"upstream:{upstream_id_as_compared(external_id)}"


def upstream_id_as_compared(external_id: str) -> str:
    return external_id.strip().casefold()


def upstream_ids(state: ProfileState) -> list[str]:
    """The profile's upstream ids without their sources, sorted."""
    return sorted({_upstream_id(external) for external in state.external_ids})


def _upstream_id(external: str) -> str:
    # Sources are slugs (no colon): the id is everything after the first one.
    return external.split(":", 1)[1]


def name_lookups(first_name: str | None, last_name: str | None) -> set[str]:
    """The keys of a person's names: `name:<sound>` for each part of the first and of the last name, and
    `names:<sound>|<sound>` for each pair of a first-name part and a last-name part (sorted, so the order the
    names are typed in does not matter).

    A pair's list holds few people where a single sound's holds thousands (every Marie, every Tremblay): a search
    for two names finds all of them there even when it cannot read every Marie.
    """
    firsts = {key for part in searchable_parts(first_name) if (key := part_sound(part))}
    lasts = {key for part in searchable_parts(last_name) if (key := part_sound(part))}
    return {name_lookup(sound) for sound in firsts | lasts} | {
        names_lookup(first, last) for first in firsts for last in lasts if first != last
    }


# A word typed is looked up by its first letters, up to this many: staff type a name halfway (`Trem`, `Gauth`), and a
# list of the names sharing five first letters holds few people even in a large audience. Fewer than three would
# list a good part of it.
START_LENGTHS = (3, 4, 5)


def start_lookups(first_name: str | None, last_name: str | None) -> set[str]:
    """`start:<letters>`: the first three, four and five letters of each part of the names (`searchable_parts`), so
    that a name typed halfway finds the patrons it begins."""
    return {
        f"start:{part[:length]}"
        for part in (*searchable_parts(first_name), *searchable_parts(last_name))
        for length in START_LENGTHS
        if len(part) >= length
    }


def start_lookup(word: str) -> str | None:
    """The key a word typed finds the names it begins by (`start_lookups`); None for fewer than three letters."""
    if len(word) < START_LENGTHS[0]:
        return None
    return f"start:{word[: START_LENGTHS[-1]]}"


def name_lookup(sound: str) -> str:
    return f"name:{sound}"


def names_lookup(sound: str, other: str) -> str:
    low, high = sorted((sound, other))
    return f"names:{low}|{high}"


def searchable_parts(name: str | None) -> tuple[str, ...]:
    """The parts of a name a search word may match, folded: each part with its particles joined (`st pierre` →
    `stpierre`, `de la fontaine` → `delafontaine`), and each word that is not a particle (`pierre`, `fontaine`),
    since people type `Fontaine` for `de la Fontaine`. A name made of particles alone (`Le`) is its own part."""
    folded = fold_name(name) if name else None
    if folded is None:
        return ()
    words = tuple(word for word in folded.split() if word not in JOINING_PARTICLES)
    return tuple(dict.fromkeys(name_parts(folded) + words))


def part_sound(part: str) -> str | None:
    """What a name part is keyed by: its French sound (`sound_key`); a part in another script, which has none, by
    its folded spelling. None for what is not keyed: a part without letters, and a Latin letter alone, an initial
    (its key would list a good part of an audience); a single character of another script is a whole name (王)."""
    if not any(char.isalpha() for char in part) or (len(part) == 1 and part.isascii()):
        return None
    return sound_key(part) or part
