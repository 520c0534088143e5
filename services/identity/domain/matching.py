"""Probabilistic record linkage (Fellegi-Sunter) for records that share no strong identifier: walk-up buyers."""

import math
import random
import re
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from enum import StrEnum
from types import MappingProxyType
from typing import Any, NamedTuple

from rapidfuzz.distance import DamerauLevenshtein, JaroWinkler

from services.identity.domain.nicknames import are_nickname_equivalent, are_two_names
from services.identity.domain.normalise import (
    TRANSLATED_STREET_TYPES,
    name_without_particles,
    plain_capitals,
    street_parts,
    street_without_type,
    with_zeros_for_letter_o,
)
from services.identity.domain.records import NormalisedRecord
from shared.bilingual import BilingualValueError
from shared.emails import accented_form
from shared.memo import remembered
from shared.names import name_parts, sound_key, spoken_form
from shared.records import quick_init


class Comparison(StrEnum):
    """What two records are compared on; each comparison yields one level."""

    FIRST_NAME = "first_name"
    LAST_NAME = "last_name"
    # Street, postal code and city describe one place, so they are one comparison: Fellegi-Sunter multiplies
    # the evidence of its comparisons as if independent, and one shared home would otherwise count three times.
    ADDRESS = "address"
    PHONE = "phone"
    EMAIL = "email"
    BIRTH_DATE = "birth_date"


class Level(StrEnum):
    """How far two values agree; each comparison uses some of these, listed in `LEVELS`."""

    EXACT = "exact"
    # First names: a nickname (Bob, Robert), an initial (M, Marie; JF, Jean-François) or the start of a compound
    # name (Marie, Marie-Ève).
    NICKNAME_OR_INITIAL = "nickname_or_initial"
    # Last names: one part of a compound name in common (Gagnon, Gagnon-Tremblay).
    COMPOUND_PART = "compound_part"
    # A name one record leaves out, spelled by its own e-mail's mailbox name with the name it gives: `Frédéric`,
    # `frederic.sirois13@` against Frédéric Sirois.
    IN_MAILBOX = "in_mailbox"
    # A typo: Jaro-Winkler similarity of at least 0.92, or the same sound in French spelling (Stéphanie, Stefanie).
    CLOSE = "close"
    # Jaro-Winkler similarity of at least 0.80: more often two names (Sylvie, Sylvain) than one misspelt.
    SIMILAR = "similar"
    # Same street number and street, in the same area or city, and no two units given that differ.
    SAME_ADDRESS = "same_address"
    SAME_POSTAL_CODE = "same_postal_code"
    # Same street, another number or none, or the same number and another unit (apartments 3 and 12 of one building).
    SAME_STREET = "same_street"
    # Same forward sortation area (the first three characters of a Canadian postal code).
    SAME_AREA = "same_area"
    SAME_CITY = "same_city"
    # The same e-mail address at another domain (marie.tremblay@gmail.com, marie.tremblay@videotron.ca).
    SAME_LOCAL_PART = "same_local_part"
    # One slip in an e-mail address: a letter of the mailbox name at the same domain (lineeteric, lineetefic), or
    # one character of the domain (gmail.co, gmai.com).
    TYPO = "typo"
    # Birth dates with day and month swapped, or one digit mistyped or two adjacent digits transposed.
    NEAR = "near"
    SAME_YEAR = "same_year"
    DIFFERENT = "different"
    # Absent on either side: no evidence either way (weight 0), as in Fellegi-Sunter.
    MISSING = "missing"


COMPARISONS: tuple[Comparison, ...] = tuple(Comparison)
# Each comparison's levels from the strongest agreement to disagreement; MISSING, being neutral, is not listed.
LEVELS: Mapping[Comparison, tuple[Level, ...]] = MappingProxyType(
    {
        Comparison.FIRST_NAME: (
            Level.EXACT,
            Level.IN_MAILBOX,
            Level.NICKNAME_OR_INITIAL,
            Level.CLOSE,
            Level.SIMILAR,
            Level.DIFFERENT,
        ),
        Comparison.LAST_NAME: (
            Level.EXACT,
            Level.IN_MAILBOX,
            Level.COMPOUND_PART,
            Level.CLOSE,
            Level.SIMILAR,
            Level.DIFFERENT,
        ),
        Comparison.ADDRESS: (
            Level.SAME_ADDRESS,
            Level.SAME_POSTAL_CODE,
            Level.SAME_STREET,
            Level.SAME_AREA,
            Level.SAME_CITY,
            Level.DIFFERENT,
        ),
        Comparison.PHONE: (Level.EXACT, Level.DIFFERENT),
        Comparison.EMAIL: (Level.EXACT, Level.TYPO, Level.SAME_LOCAL_PART, Level.DIFFERENT),
        Comparison.BIRTH_DATE: (Level.EXACT, Level.NEAR, Level.SAME_YEAR, Level.DIFFERENT),
    }
)
# Name levels at which two names are two people's: what keeps one household's members apart.
_DISAGREEING_NAMES = frozenset({Level.SIMILAR, Level.DIFFERENT})
_AGREEING_NAMES = frozenset(
    {Level.EXACT, Level.NICKNAME_OR_INITIAL, Level.COMPOUND_PART, Level.IN_MAILBOX, Level.CLOSE}
)
_NAME_RANK = {
    Level.EXACT: 0,
    Level.NICKNAME_OR_INITIAL: 1,
    Level.COMPOUND_PART: 1,
    Level.IN_MAILBOX: 1,
    Level.CLOSE: 2,
    Level.SIMILAR: 3,
    Level.DIFFERENT: 4,
}
CLOSE_SIMILARITY = 0.92
SIMILAR_SIMILARITY = 0.80


class ComparisonVector(NamedTuple):
    """One level per comparison, in `COMPARISONS` order, for one pair of records."""

    first_name: Level
    last_name: Level
    address: Level
    phone: Level
    email: Level
    birth_date: Level
    # The names agree only crossed: one record has first and last name swapped. The name levels above are then
    # those of the crossed names.
    names_swapped: bool = False

    def levels(self) -> tuple[Level, Level, Level, Level, Level, Level]:
        return (self.first_name, self.last_name, self.address, self.phone, self.email, self.birth_date)


_VOWELS = frozenset("aeiouy")
_MOST_INITIALS = 3


def _initials(name: str) -> str | None:
    if " " not in name and len(name) > _MOST_INITIALS:
        return None
    tokens = name.split()
    if not tokens:
        return None
    if all(len(token) == 1 for token in tokens):
        return "".join(tokens)
    # "jf", "jp", "jfm": two or three letters with no vowel are initials run together, not a name.
    if len(tokens) == 1 and len(name) <= _MOST_INITIALS and _VOWELS.isdisjoint(name):
        return name
    return None


def _initials_agree(a: str, b: str) -> bool:
    initials_a, initials_b = _initials(a), _initials(b)
    if initials_a is None and initials_b is None:
        return False
    if initials_a is not None and initials_b is not None:
        return initials_a.startswith(initials_b) or initials_b.startswith(initials_a)
    initials, full = (initials_a, b) if initials_a is not None else (initials_b, a)
    assert initials is not None
    return "".join(token[0] for token in full.split()).startswith(initials)


def _word_by_word_with_initials(a: str, b: str) -> Level | None:
    """`jean f` and `jean p`, `jean f` and `jean pierre`: two names of as many words, one of them an initial, read
    word by word. An initial that does not start its word is another person's name, however alike the whole
    strings look; one that does agrees. None when no word is an initial (the other rules decide)."""
    words_a, words_b = a.split(), b.split()
    if len(words_a) < 2 or len(words_a) != len(words_b):
        return None
    pairs = list(zip(words_a, words_b, strict=True))
    if not any(len(word_a) == 1 or len(word_b) == 1 for word_a, word_b in pairs):
        return None
    for word_a, word_b in pairs:
        initial = len(word_a) == 1 or len(word_b) == 1
        if (initial and word_a[0] != word_b[0]) or (not initial and word_a != word_b):
            return Level.DIFFERENT if initial else None
    return Level.NICKNAME_OR_INITIAL


def _word_by_word(a: str, b: str) -> Level | None:
    """Compound names of as many words (Marie-France and Marie-Anne, folded `marie france`, `marie anne`) read
    word by word: a shared first word makes the whole strings look alike however different the second, and a
    different second word is another name. The least agreeing word decides; None unless both have several words."""
    words_a, words_b = a.split(), b.split()
    if len(words_a) < 2 or len(words_a) != len(words_b):
        return None
    levels = (first_name_level(word_a, word_b) for word_a, word_b in zip(words_a, words_b, strict=True))
    return max(levels, key=_NAME_RANK.__getitem__)


def _starts_compound(a: str, b: str) -> bool:
    if " " not in a and " " not in b:
        return False
    shorter, longer = sorted((a.split(), b.split()), key=len)
    return len(shorter) < len(longer) and longer[: len(shorter)] == shorter


# Jaro-Winkler forgives a slip late in a name more than one near its start (Ahdrée, Andrée): a single slip in a
# name this long is a typo too. Shorter names one letter apart are as often two names (Line, Lise).
_SHORTEST_SLIP_NAME = 5


def _by_similarity(a: str, b: str) -> Level:
    similarity = JaroWinkler.similarity(a, b)
    if similarity >= CLOSE_SIMILARITY:
        return Level.CLOSE
    if min(len(a), len(b)) >= _SHORTEST_SLIP_NAME and DamerauLevenshtein.distance(a, b, score_cutoff=1) <= 1:
        return Level.CLOSE
    spoken = spoken_form(a)
    # A name in another script has no French spelling: its empty reduction says nothing.
    if spoken and spoken == spoken_form(b):
        return Level.CLOSE
    if similarity >= SIMILAR_SIMILARITY:
        return Level.SIMILAR
    return Level.DIFFERENT


# A father and his son named alike are told apart by these alone, written last in either name (folded).
_GENERATIONS = {
    **dict.fromkeys(("jr", "junior", "fils"), "junior"),
    **dict.fromkeys(("sr", "senior", "pere"), "senior"),
    **{numeral: numeral for numeral in ("ii", "iii", "iv")},
}


def _generation(name: str) -> tuple[str, str | None]:
    """The name without a trailing generation (`tremblay jr`: `tremblay`, `junior`), and the generation if any."""
    head, _, last = name.rpartition(" ")
    if head and last in _GENERATIONS:
        return head, _GENERATIONS[last]
    return name, None


def two_generations(a: str, b: str) -> bool:
    """Whether two folded names each end with a generation, not the same one (Tremblay Jr., Tremblay père)."""
    generation_a, generation_b = _generation(a)[1], _generation(b)[1]
    return generation_a is not None and generation_b is not None and generation_a != generation_b


@remembered
def _first_name_level(a: str, b: str) -> Level:
    if a == b or a.replace(" ", "") == b.replace(" ", ""):
        return Level.EXACT
    if two_generations(a, b):
        return Level.DIFFERENT
    # Before nicknames and typos: Jean and Jeanne are a string metric's near-duplicates and a household's two people.
    if are_two_names(a, b):
        return Level.DIFFERENT
    by_initials = _word_by_word_with_initials(a, b)
    if by_initials is not None:
        return by_initials
    if are_nickname_equivalent(a, b) or _initials_agree(a, b) or _starts_compound(a, b):
        return Level.NICKNAME_OR_INITIAL
    by_words = _word_by_word(a, b)
    if by_words is not None:
        return by_words
    return _by_similarity(a, b)


@remembered
def _last_name_level(a: str, b: str) -> Level:
    if a == b or a.replace(" ", "") == b.replace(" ", ""):
        return Level.EXACT
    # Tremblay Jr. and Tremblay Sr. share a part, yet that part is all they share.
    if two_generations(a, b):
        return Level.DIFFERENT
    parts_a, parts_b = name_parts(a), name_parts(b)
    if sorted(parts_a) == sorted(parts_b):
        return Level.EXACT
    if not set(parts_a).isdisjoint(parts_b):
        return Level.COMPOUND_PART
    # `de la Fontaine` and `Fontaine`, `Da Silva` and `Silva`: the particle kept or left out, as forms and staff do.
    if name_without_particles(a) == name_without_particles(b):
        return Level.COMPOUND_PART
    # Spaced or not as staff type it (`Mac Donald`, `MacDonald`): a space is no letter to weigh as a slip.
    return _by_similarity(a.replace(" ", ""), b.replace(" ", ""))


def _ordered(a: str, b: str) -> tuple[str, str]:
    # Every string comparison sees its arguments in one order, so `compare` is symmetric by construction.
    return (a, b) if a <= b else (b, a)


def first_name_level(a: str | None, b: str | None) -> Level:
    """The level at which two folded first names agree."""
    if not a or not b:
        return Level.MISSING
    # As `_ordered` puts them, without its call: this runs for every pair of names compared.
    return _first_name_level(a, b) if a <= b else _first_name_level(b, a)


def last_name_level(a: str | None, b: str | None) -> Level:
    """The level at which two folded last names agree."""
    if not a or not b:
        return Level.MISSING
    return _last_name_level(a, b) if a <= b else _last_name_level(b, a)


def first_names_clearly_differ(a: str | None, b: str | None) -> bool:
    """Whether two folded first names are two people's: Marie and Jean, Louis and Louise, Sylvie and Sylvain.

    Not a nickname (Robert, Bob), a compound and its start (Marie-Ève, Marie), initials (JF, Jean-François), a
    typo (Nathalie, Natalie) or an unknown name (None). A shared family e-mail or address is no evidence
    between two records whose first names clearly differ.
    """
    return first_name_level(a, b) in _DISAGREEING_NAMES


def _name_levels(a: NormalisedRecord, b: NormalisedRecord) -> tuple[Level, Level, bool]:
    first = first_name_level(a.first_name, b.first_name)
    last = last_name_level(a.last_name, b.last_name)
    if first is Level.MISSING or last is Level.MISSING:
        first, last = _names_in_mailbox(a, b, first, last)
    if (first in _AGREEING_NAMES and last in _AGREEING_NAMES) or not (
        a.first_name and a.last_name and b.first_name and b.last_name
    ):
        return first, last, False
    # Either record may be the swapped one: both readings are weighed and the better kept, the same whichever
    # record comes first. A reading counts only when both crossed names agree.
    readings = [
        (crossed_first, crossed_last)
        for one, other in ((a, b), (b, a))
        if (crossed_first := first_name_level(one.first_name, other.last_name)) in _AGREEING_NAMES
        and (crossed_last := last_name_level(one.last_name, other.first_name)) in _AGREEING_NAMES
    ]
    if not readings:
        return first, last, False
    crossed_first, crossed_last = min(
        readings, key=lambda levels: (_NAME_RANK[levels[0]] + _NAME_RANK[levels[1]], _NAME_RANK[levels[0]], levels)
    )
    return crossed_first, crossed_last, True


# A family name shorter than this starts or ends too many mailbox names by chance (`Ng`, `Li`).
_SHORTEST_MAILBOX_NAME = 3


def _names_in_mailbox(a: NormalisedRecord, b: NormalisedRecord, first: Level, last: Level) -> tuple[Level, Level]:
    """`IN_MAILBOX` for a name a record leaves out where its own mailbox name spells it with the name it gives.

    A newsletter sign-up or a box-office sale often keeps one name and the e-mail: `Frédéric`,
    `frederic.sirois13@` is Frédéric Sirois, and `Gray`, `karen.gray@` is Karen Gray. An initial spells a family
    name (`Karen`, `kgray@`) but no given name: one in ten people or so share it. Only an agreement is read:
    `famille.duverger@` does not say that the Duverger who gave no first name is not Fabienne. A mailbox both
    records share says whose it is, not who used it: a household's members buy with one address.
    """
    for one, other in ((a, b), (b, a)):
        if one.email is None or one.email == other.email:
            continue
        mailbox = _letters(one.email.rpartition("@")[0])
        if last is Level.MISSING and one.first_name and not one.last_name and other.last_name:
            given = _given_part(mailbox, other.last_name)
            if given and first_name_level(given, one.first_name) in _AGREEING_NAMES:
                last = Level.IN_MAILBOX
        elif first is Level.MISSING and one.last_name and not one.first_name and other.first_name:
            given = _given_part(mailbox, one.last_name)
            if given and _initials(given) is None and first_name_level(given, other.first_name) in _AGREEING_NAMES:
                first = Level.IN_MAILBOX
    return first, last


def _given_part(mailbox: str, last_name: str) -> str | None:
    """What is left of a mailbox name that starts or ends with `last_name`: `frederic` of `fredericsirois`."""
    family = last_name.replace(" ", "")
    if len(family) < _SHORTEST_MAILBOX_NAME or len(mailbox) <= len(family):
        return None
    if mailbox.endswith(family):
        return mailbox[: -len(family)]
    if mailbox.startswith(family):
        return mailbox[len(family) :]
    return None


# A US ZIP+4 (`02134-1234`): its ZIP, the first five digits, is what a patron gives when they leave the four out.
_ZIP_PLUS_FOUR = re.compile(r"(?P<zip>[0-9]{5})-[0-9]{4}")


def _compact(code: str | None) -> str:
    if not code:
        return ""
    # Records stored by earlier versions still hold what those kept as written: a letter O for a zero (`JOT 2NO`),
    # full-width or invisible characters (`Ｈ２Ｊ ２Ｌ１`, `H2J\u200b2L1`). Folded alike when compared.
    compact = with_zeros_for_letter_o(plain_capitals(code).replace(" ", ""))
    zip_plus_four = _ZIP_PLUS_FOUR.fullmatch(compact)
    return zip_plus_four["zip"] if zip_plus_four else compact


def _address_level(a: NormalisedRecord, b: NormalisedRecord) -> Level:
    postal_a, postal_b = _compact(a.postal_code), _compact(b.postal_code)
    postal_compared = bool(postal_a and postal_b)
    same_area = postal_compared and postal_a[:3] == postal_b[:3]
    cities_compared = bool(a.city and b.city)
    same_city = cities_compared and a.city == b.city
    # Rue Principale is in hundreds of towns: a street only agrees where the places do not disagree.
    apart = (postal_compared and not same_area) or (not postal_compared and cities_compared and not same_city)
    streets_compared = bool(a.street_name and b.street_name)
    same_street = streets_compared and not apart and _same_street_name(a.street_name or "", b.street_name or "")
    numbers_compared = bool(a.street_number and b.street_number)
    # A unit one record leaves out says nothing: upstream systems often drop it, and records stored before it was
    # kept have none.
    same_home = a.street_number == b.street_number and not (a.unit and b.unit and a.unit != b.unit)
    if same_street and (same_area or same_city) and numbers_compared and same_home:
        return Level.SAME_ADDRESS
    if same_street and numbers_compared:
        # Two civic numbers on one street, or two units at one: neighbours, whose postal code is one as often as not
        # (it covers a block face; a building's units share theirs), not the strong agreement a postal code alone
        # is. Namesakes there would be linked on it.
        return Level.SAME_STREET
    if postal_compared and postal_a == postal_b:
        return Level.SAME_POSTAL_CODE
    if same_street:
        return Level.SAME_STREET
    if same_area:
        return Level.SAME_AREA
    if same_city:
        return Level.SAME_CITY
    if postal_compared or cities_compared or streets_compared:
        return Level.DIFFERENT
    return Level.MISSING


@remembered
def _same_street_name(a: str, b: str) -> bool:
    parts_a, parts_b = street_parts(a), street_parts(b)
    if parts_a.direction and parts_b.direction and parts_a.direction != parts_b.direction:
        # Sherbrooke Est and Sherbrooke Ouest are kilometres apart, however alike they are written.
        return False
    if a == b or JaroWinkler.similarity(*_ordered(a, b)) >= CLOSE_SIMILARITY:
        # A typo is forgiven.
        return True
    # One name written in French and in English (`peel rue`, `peel st`), or with its type left out: a short name's
    # two types read whole are too far apart for a typo. Avenue and Rue are two streets (1re Avenue, 1re Rue).
    types = {parts_a.street_type, parts_b.street_type}
    return parts_a.name == parts_b.name and (
        len(types) == 1 or types in TRANSLATED_STREET_TYPES or (None in types and not parts_a.numbered)
    )


def _phone_level(a: str | None, b: str | None) -> Level:
    if not a or not b:
        return Level.MISSING
    return Level.EXACT if a == b else Level.DIFFERENT


# Mailboxes of an organisation, not a person: the same one at two domains is a coincidence.
_ROLE_MAILBOXES = frozenset(
    {"info", "contact", "admin", "office", "bureau", "reception", "billets", "billetterie", "tickets", "hello"}
)


# A shorter address leaves too few letters for one slip to tell a typo from another name (marc, mark).
_SHORTEST_TYPO_LETTERS = 6
_SAME_NAME = frozenset({Level.EXACT, Level.MISSING})


def _email_level(a: str | None, b: str | None, names: tuple[Level, Level]) -> Level:
    if not a or not b:
        return Level.MISSING
    # A record a release before 2026-12 stored keeps a domain in the DNS's form: the same address as written today.
    a, b = accented_form(a), accented_form(b)
    if a == b:
        return Level.EXACT
    local_a, _, domain_a = a.rpartition("@")
    local_b, _, domain_b = b.rpartition("@")
    if not (local_a and local_b) or local_a in _ROLE_MAILBOXES or local_b in _ROLE_MAILBOXES:
        return Level.DIFFERENT
    if local_a == local_b:
        return Level.TYPO if _one_slip_apart(*_ordered(domain_a, domain_b)) else Level.SAME_LOCAL_PART
    # Mailbox names spell names: where those differ by a letter (Marc, Mark; Samir, Samira) so do the mailboxes.
    if _SAME_NAME.issuperset(names) and domain_a == domain_b and _one_letter_apart(*_ordered(local_a, local_b)):
        return Level.TYPO
    # Gmail's dots are gone from its addresses, not from a mistyped gmai.com's. At one domain, a dot is what tells
    # namesakes' mailboxes apart (lina.benjelloun, linabenjelloun): `_one_slip_apart` needs two domains.
    if _undotted(local_a) == _undotted(local_b) and _one_slip_apart(*_ordered(domain_a, domain_b)):
        return Level.TYPO
    return Level.DIFFERENT


def _undotted(local: str) -> str:
    return local.replace(".", "")


@remembered
def _one_slip_apart(a: str, b: str) -> bool:
    # gmail.co, gmai.com, hotmial.com: providers' names are far enough apart that one slip is not another provider.
    return a != b and DamerauLevenshtein.distance(a, b, score_cutoff=1) <= 1


@remembered
def _one_letter_apart(a: str, b: str) -> bool:
    """Whether two addresses' local parts differ by one letter typed wrong, dropped, doubled or swapped.

    Only letters count: namesakes tell their mailboxes apart with digits (marie.landry7, marie.landry8) and
    punctuation (marie.landry, marielandry), so a difference there is two people as often as one.
    """
    # Mailbox names start with an initial or a name: gauthier and hgauthier are two patterns, not a slip.
    if a[:1] != b[:1] or _digits(a) != _digits(b):
        return False
    letters_a, letters_b = _letters(a), _letters(b)
    if letters_a == letters_b or min(len(letters_a), len(letters_b)) < _SHORTEST_TYPO_LETTERS:
        return False
    return DamerauLevenshtein.distance(a, b, score_cutoff=1) <= 1


# Mailbox names are mostly ASCII, where `isdigit` and `isalpha` mean these characters alone: one `translate` instead
# of a test per character, for every pair of records compared.
_ASCII_NON_DIGITS = str.maketrans("", "", "".join(chr(code) for code in range(128) if not chr(code).isdigit()))
_ASCII_NON_LETTERS = str.maketrans("", "", "".join(chr(code) for code in range(128) if not chr(code).isalpha()))


def _digits(text: str) -> str:
    if text.isascii():
        return text.translate(_ASCII_NON_DIGITS)
    return "".join(character for character in text if character.isdigit())


def _letters(text: str) -> str:
    if text.isascii():
        return text.translate(_ASCII_NON_LETTERS)
    return "".join(character for character in text if character.isalpha())


def _birth_date_level(a: date | None, b: date | None) -> Level:
    if a is None or b is None:
        return Level.MISSING
    if a == b:
        return Level.EXACT
    if _near(a, b):
        return Level.NEAR
    if a.year == b.year:
        return Level.SAME_YEAR
    return Level.DIFFERENT


def _near(a: date, b: date) -> bool:
    if a.year == b.year and a.month == b.day and a.day == b.month:
        return True
    # A day off, as a date stored at midnight UTC reads in Québec.
    if abs((a - b).days) == 1:
        return True
    digits_a, digits_b = f"{a:%Y%m%d}", f"{b:%Y%m%d}"
    differ = [index for index in range(len(digits_a)) if digits_a[index] != digits_b[index]]
    if len(differ) == 1:
        return True
    if len(differ) != 2:
        return False
    first, second = differ
    return second == first + 1 and digits_a[first] == digits_b[second] and digits_a[second] == digits_b[first]


def compare(a: NormalisedRecord, b: NormalisedRecord) -> ComparisonVector:
    """The level at which `a` and `b` agree on each comparison; symmetric: `compare(a, b) == compare(b, a)`."""
    first, last, swapped = _name_levels(a, b)
    return ComparisonVector(
        first,
        last,
        _address_level(a, b),
        _phone_level(a.phone, b.phone),
        _email_level(a.email, b.email, (first, last)),
        _birth_date_level(a.birth_date, b.birth_date),
        swapped,
    )


# Bump when a change to `blocking_keys` changes any key: the persons stored before are filed under the keys of their
# day only, and identity tells operators to run `parterre identity refile-blocks` until a run has filed them.
# 3: the keys are the same, stored as keyed hashes (a run also deletes the blocks stored in clear before).
# 4: a street address's key (`sa:`) reads Sainte as Saint, as English writes both `St.`, and leaves articles out.
# 5: a street written `1ère` is `1re`'s, and a unit written with a word and `#` (`app. #3`) is left out.
# 6: a letter O typed where a Canadian postal code holds a digit (`JOT 2NO`) is read as a zero.
# 7: a postal code stored with full-width or invisible characters (`Ｈ２Ｊ ２Ｌ１`, `H2J\u200b2L1`) is read as plain.
# 8: a US ZIP+4 (`02134-1234`) is keyed by its five-digit ZIP (`02134`).
BLOCKING_KEYS_VERSION = 8
# Persons a blocking key may gather. One that many share is too common to tell anyone apart (`tremblay` in Montréal,
# `100 rue principale` in every town): its block stops growing there and is no longer searched for candidates, in
# every store alike. Searching its first members only would compare each new record with the same arbitrary few.
BLOCK_CAPACITY = 200


def blocking_keys(record: NormalisedRecord) -> tuple[str, ...]:
    """The keys under which `record` is stored and its candidate matches are looked up, sorted and distinct.

    A record is compared only with known records that share a key, so the keys must bring one person's records
    together despite typos, accent loss, nicknames, swapped names and moves, while each key stays shared by few
    people. Each key starts with its kind; a kind is emitted only when its fields are present:

    - `el:<the email's local part, without dots>` and `ph:<phone>`: contact details survive a move and a
      misspelt name. The mailbox name at any provider also finds it at another provider, or at a mistyped domain
      (which keeps the dots Gmail drops). A role mailbox (`info@`) is keyed whole instead: `em:<email>`.
    - `nm:<the two name sounds, sorted>|dm:<the email's domain>`: a typo in the mailbox name.
    - `ln:<sound of the last name>|pc:<postal code>`: same place, any spelling of the last name and any first
      name (nickname, initial, missing). One key per part of a compound last name, so Gagnon-Tremblay meets Gagnon;
      one for the first name's first part too, so a record with swapped names meets it.
    - `fn:<sound of the first name's first part>|pc:<postal code>`: same place, a last name changed or mangled.
    - `nm:<the two name sounds, sorted>|fsa:<first three of the postal code>`: swapped first and last names; a
      move within the area; a typo in the postal code's last three characters.
    - `ln:<sound of the last name>|fi:<first initial>|by:<birth year>`: a move anywhere, when a birth date is known.
    - `bd:<birth date>|<the two initials, sorted>`: the same, with swapped names or a last name mistyped.
    - `sa:<street number>|<street, without its type>`: one home, when a postal code is missing on either side.

    A record with a name alone gets no key: a name is never enough evidence to link, so no candidate is sought.
    """
    keys: set[str] = set()
    first = record.first_name or ""
    last = record.last_name or ""
    first_sound, last_sound = sound_key(first), sound_key(last)
    whole_sounds = sorted((first_sound, last_sound))
    if record.email:
        local, _, domain = record.email.rpartition("@")
        undotted = _undotted(local)
        # The mailbox name's key holds every address with it, this one included: one key instead of two.
        if local in _ROLE_MAILBOXES or not undotted:
            keys.add(f"em:{record.email}")
        else:
            keys.add(f"el:{undotted}")
        if all(whole_sounds):
            keys.add(f"nm:{whole_sounds[0]},{whole_sounds[1]}|dm:{domain}")
    if record.phone:
        keys.add(f"ph:{record.phone}")
    postal_code = _compact(record.postal_code)
    # A name of one word is its own first and only part, whose sound is the name's.
    first_words = first.split()
    if first_words == [first]:
        first_part_sound = first_sound
    elif first_words:
        first_part_sound = sound_key(first_words[0])
    else:
        first_part_sound = ""
    if last.split() == [last]:
        last_sounds = [last_sound] if last_sound else []
    else:
        last_sounds = sorted({sound for sound in map(sound_key, name_parts(last)) if sound})
    if postal_code:
        keys.update(f"ln:{sound}|pc:{postal_code}" for sound in last_sounds)
        if first_part_sound:
            keys.add(f"fn:{first_part_sound}|pc:{postal_code}")
            keys.add(f"ln:{first_part_sound}|pc:{postal_code}")
        if all(whole_sounds):
            keys.add(f"nm:{whole_sounds[0]},{whole_sounds[1]}|fsa:{postal_code[:3]}")
    if record.street_number and record.street_name:
        keys.add(f"sa:{record.street_number}|{street_without_type(record.street_name)}")
    if record.birth_date is not None and first.strip():
        keys.update(f"ln:{sound}|fi:{first.strip()[0]}|by:{record.birth_date.year}" for sound in last_sounds)
        if last.strip():
            initials = "".join(sorted((first.strip()[0], last.strip()[0])))
            keys.add(f"bd:{record.birth_date.isoformat()}|{initials}")
    return tuple(sorted(keys))


@dataclass(frozen=True)
class LevelProbabilities:
    """How often a level occurs between two records of one person (`m`) and of two people (`u`)."""

    m: float
    u: float


class ModelProblem(NamedTuple):
    """What is wrong with one key of a match model, dotted (`comparisons.phone.exact.m`), in English and in French:
    each reason follows the key (`prior` should be…)."""

    key: str
    en: str
    fr: str


class MatchModelError(ValueError):
    """A match model that cannot be used; `problems` name each bad key and say what is wrong in English,
    `problems_fr` in French."""

    def __init__(self, problems: Sequence[ModelProblem]) -> None:
        self.problems = [(problem.key, problem.en) for problem in problems]
        self.problems_fr = [(problem.key, problem.fr) for problem in problems]
        super().__init__("; ".join(f"{key}: {reason}" for key, reason in self.problems))


# How far a comparison's m (or u) may sum from 1: room for a hand-written file's rounding, not for a typo.
_SUM_TOLERANCE = 1e-3


@dataclass(frozen=True)
class MatchModel:
    """Fellegi-Sunter parameters: each comparison level's m and u, and the prior probability of a match.

    `prior` (λ) is the probability that two records drawn at random from all of an organisation's records are one
    person's: about 1 / the number of distinct patrons. It is taken over all pairs, not over the pairs of a block,
    because m and u are too, and sharing a block follows from fields the comparisons already weigh: conditioning
    λ on the block as well would count that evidence twice.
    `swapped_names_penalty` is taken off, in bits, when the names agree only crossed. One person's records are
    swapped ~2% of the time (log2 0.02 = -5.6 bits), but two people have mirrored names rarer still than equal
    ones, since few names serve as both first and last name (Martin, Thomas, Laurent): the two nearly cancel,
    and one bit is kept against the names that do serve as both.
    """

    prior: float
    comparisons: Mapping[Comparison, Mapping[Level, LevelProbabilities]]
    swapped_names_penalty: float = 1.0
    _weights: tuple[Mapping[Level, float], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        problems = _model_problems(self.prior, self.swapped_names_penalty, self.comparisons)
        if problems:
            raise MatchModelError(problems)
        frozen = MappingProxyType(
            {comparison: MappingProxyType(dict(self.comparisons[comparison])) for comparison in COMPARISONS}
        )
        object.__setattr__(self, "comparisons", frozen)
        weights = tuple(
            {level: math.log2(odds.m / odds.u) for level, odds in frozen[comparison].items()} | {Level.MISSING: 0.0}
            for comparison in COMPARISONS
        )
        object.__setattr__(self, "_weights", weights)

    @property
    def prior_weight(self) -> float:
        """The prior log2-odds of a match, where every pair starts."""
        return math.log2(self.prior / (1 - self.prior))

    def level_weight(self, comparison: Comparison, level: Level) -> float:
        """The evidence of one level in bits: log2(m / u); 0 for MISSING."""
        return self._weights[COMPARISONS.index(comparison)][level]

    def match_weight(self, vector: ComparisonVector) -> float:
        """The log2-odds that the pair is one person: the prior's plus each level's log2(m / u)."""
        weight = self.prior_weight
        for weights, level in zip(self._weights, vector.levels(), strict=True):
            weight += weights[level]
        if vector.names_swapped:
            weight -= self.swapped_names_penalty
        return weight

    def match_probability(self, vector: ComparisonVector) -> float:
        """The probability that the pair is one person."""
        return probability_of_weight(self.match_weight(vector))

    def with_m_of(self, other: "MatchModel") -> "MatchModel":
        """This model's u and prior with `other`'s m: m estimated on blocked pairs, u on random pairs."""
        return replace(
            self,
            comparisons={
                comparison: {
                    level: LevelProbabilities(other.comparisons[comparison][level].m, odds.u)
                    for level, odds in levels.items()
                }
                for comparison, levels in self.comparisons.items()
            },
        )

    def to_dict(self) -> dict[str, Any]:
        """The model as plain values, for a YAML file that `from_dict` reads back."""
        return {
            "prior": self.prior,
            "swapped_names_penalty": self.swapped_names_penalty,
            "comparisons": {
                comparison.value: {
                    level.value: {"m": odds.m, "u": odds.u} for level, odds in self.comparisons[comparison].items()
                }
                for comparison in COMPARISONS
            },
        }

    @classmethod
    def from_dict(cls, data: Any) -> "MatchModel":
        """A model from `to_dict`'s shape; every problem found is reported at once, each under its dotted key."""
        if not isinstance(data, Mapping):
            raise MatchModelError(
                [
                    ModelProblem(
                        "(model)",
                        "should be a mapping with prior and comparisons",
                        "devrait donner prior et comparisons en entrées `nom: valeur`",
                    )
                ]
            )
        expected = ", ".join(_SETTINGS)
        problems = [
            ModelProblem(
                str(key), f"is not a setting; expected {expected}", f"n'est pas un réglage ; attendu : {expected}"
            )
            for key in data
            if key not in _SETTINGS
        ]
        prior = _number_at(data, "prior", "prior", problems)
        penalty: float | None = 1.0
        if "swapped_names_penalty" in data:
            penalty = _number_at(data, "swapped_names_penalty", "swapped_names_penalty", problems)
        comparisons = _comparisons_from(data.get("comparisons"), problems)
        problems.extend(_settings_problems(prior, penalty))
        for comparison, levels in comparisons.items():
            problems.extend(_level_problems(comparison, levels))
        if problems:
            raise MatchModelError(problems)
        assert prior is not None
        assert penalty is not None
        return cls(prior=prior, comparisons=comparisons, swapped_names_penalty=penalty)


def probability_of_weight(weight: float) -> float:
    """The probability for log2-odds `weight`, without overflow at either end."""
    if weight >= 0:
        return 1 / (1 + math.exp2(-weight))
    odds = math.exp2(weight)
    return odds / (1 + odds)


_SETTINGS = ("prior", "swapped_names_penalty", "comparisons")


def _number_at(data: Mapping[str, Any], name: str, key: str, problems: list[ModelProblem]) -> float | None:
    if name not in data:
        problems.append(_missing(key))
        return None
    value = data[name]
    if isinstance(value, bool) or not isinstance(value, int | float):
        problems.append(
            ModelProblem(key, f"should be a number, not {value!r}", f"devrait être un nombre, pas {value!r}")
        )
        return None
    return float(value)


def _comparisons_from(data: Any, problems: list[ModelProblem]) -> dict[Comparison, dict[Level, LevelProbabilities]]:
    if not isinstance(data, Mapping):
        problems.append(
            ModelProblem(
                "comparisons",
                "should map each comparison to its levels' m and u",
                "devrait donner, pour chaque comparaison, le m et le u de ses niveaux",
            )
        )
        return {}
    # Tuples, not sets: a message lists the expected names in one order, the same on every run.
    known = tuple(comparison.value for comparison in COMPARISONS)
    for name in data:
        if name not in known:
            problems.append(
                ModelProblem(
                    f"comparisons.{name}",
                    f"is not a comparison; expected one of {', '.join(known)}",
                    f"n'est pas une comparaison ; attendu : {', '.join(known)}",
                )
            )
    comparisons: dict[Comparison, dict[Level, LevelProbabilities]] = {}
    for comparison in COMPARISONS:
        key = f"comparisons.{comparison.value}"
        levels = data.get(comparison.value)
        if not isinstance(levels, Mapping):
            problems.append(
                _missing(key)
                if levels is None
                else ModelProblem(
                    key, "should map each level to its m and u", "devrait donner le m et le u de chaque niveau"
                )
            )
            continue
        allowed = tuple(level.value for level in LEVELS[comparison])
        for name in levels:
            if name not in allowed:
                problems.append(
                    ModelProblem(
                        f"{key}.{name}",
                        f"is not a level of {comparison.value}: {', '.join(allowed)}",
                        f"n'est pas un niveau de {comparison.value} : {', '.join(allowed)}",
                    )
                )
        parsed: dict[Level, LevelProbabilities] = {}
        added = [level for level in LATER_LEVELS.get(comparison, ()) if level.value not in levels]
        for level in LEVELS[comparison]:
            if level in added:
                continue
            odds = levels.get(level.value)
            if not isinstance(odds, Mapping):
                where = f"{key}.{level.value}"
                problems.append(
                    _missing(where)
                    if odds is None
                    else ModelProblem(where, "should have m and u", "devrait avoir m et u")
                )
                continue
            m = _number_at(odds, "m", f"{key}.{level.value}.m", problems)
            u = _number_at(odds, "u", f"{key}.{level.value}.u", problems)
            if m is not None and u is not None:
                parsed[level] = LevelProbabilities(m, u)
        if len(parsed) + len(added) == len(LEVELS[comparison]):
            comparisons[comparison] = _with_defaults_of(comparison, parsed, added)
    return comparisons


# Levels added after model files were first written, by comparison: a file written before (by `estimate`, or by
# hand) still loads, each taking the configured m and u, the file's other levels scaled to leave them room.
LATER_LEVELS: Mapping[Comparison, tuple[Level, ...]] = MappingProxyType(
    {
        Comparison.FIRST_NAME: (Level.IN_MAILBOX,),
        Comparison.LAST_NAME: (Level.IN_MAILBOX,),
        Comparison.EMAIL: (Level.TYPO,),
    }
)


def _with_defaults_of(
    comparison: Comparison, parsed: Mapping[Level, LevelProbabilities], added: Sequence[Level]
) -> dict[Level, LevelProbabilities]:
    if not added:
        return dict(parsed)
    defaults = DEFAULT_MODEL.comparisons[comparison]
    m_left = 1 - sum(defaults[level].m for level in added)
    u_left = 1 - sum(defaults[level].u for level in added)
    return {
        level: defaults[level]
        if level in added
        else LevelProbabilities(parsed[level].m * m_left, parsed[level].u * u_left)
        for level in LEVELS[comparison]
    }


def _model_problems(
    prior: float, swapped_names_penalty: float, comparisons: Mapping[Comparison, Mapping[Level, LevelProbabilities]]
) -> list[ModelProblem]:
    problems = _settings_problems(prior, swapped_names_penalty)
    for comparison in COMPARISONS:
        key = f"comparisons.{comparison.value}"
        levels = comparisons.get(comparison)
        if levels is None:
            problems.append(_missing(key))
            continue
        unknown = set(levels) - set(LEVELS[comparison])
        problems.extend(
            ModelProblem(
                f"{key}.{level}",
                f"is not a level of {comparison.value}",
                f"n'est pas un niveau de {comparison.value}",
            )
            for level in sorted(unknown)
        )
        missing = [level for level in LEVELS[comparison] if level not in levels]
        problems.extend(_missing(f"{key}.{level.value}") for level in missing)
        if not missing:
            problems.extend(_level_problems(comparison, levels))
    return problems


def _missing(key: str) -> ModelProblem:
    return ModelProblem(key, "is missing", "manque")


def _settings_problems(prior: float | None, swapped_names_penalty: float | None) -> list[ModelProblem]:
    problems: list[ModelProblem] = []
    if prior is not None and not 0 < prior < 1:
        problems.append(
            ModelProblem(
                "prior",
                f"should be a probability strictly between 0 and 1, not {prior}",
                f"devrait être une probabilité strictement entre 0 et 1, pas {prior}",
            )
        )
    if swapped_names_penalty is not None and not 0 <= swapped_names_penalty < math.inf:
        problems.append(
            ModelProblem(
                "swapped_names_penalty",
                f"should be a number of bits, 0 or more, not {swapped_names_penalty}",
                f"devrait être un nombre de bits, 0 ou plus, pas {swapped_names_penalty}",
            )
        )
    return problems


def _level_problems(comparison: Comparison, levels: Mapping[Level, LevelProbabilities]) -> list[ModelProblem]:
    key = f"comparisons.{comparison.value}"
    problems: list[ModelProblem] = []
    for level in LEVELS[comparison]:
        for name in ("m", "u"):
            value = getattr(levels[level], name)
            # Zero would let one level veto or prove a match alone, whatever every other field says.
            if not 0 < value <= 1:
                problems.append(
                    ModelProblem(
                        f"{key}.{level.value}.{name}",
                        f"should be in (0, 1], not {value}",
                        # French writes the interval open at 0 as ]0, 1].
                        f"devrait être dans ]0, 1], pas {value}",
                    )
                )
    for name in ("m", "u"):
        total = sum(getattr(levels[level], name) for level in LEVELS[comparison])
        if abs(total - 1) > _SUM_TOLERANCE:
            problems.append(
                ModelProblem(
                    key,
                    f"{name} sums to {total:.6g} over the levels; it should sum to 1",
                    f"a des {name} dont la somme sur les niveaux vaut {total:.6g} ; elle devrait valoir 1",
                )
            )
    return problems


def _model(prior: float, table: Mapping[Comparison, Mapping[Level, tuple[float, float]]]) -> MatchModel:
    return MatchModel(
        prior=prior,
        comparisons={
            comparison: {level: LevelProbabilities(m, u) for level, (m, u) in levels.items()}
            for comparison, levels in table.items()
        },
    )


# Configured values, before any data: each (m, u) is reasoned below; EM and random-pair u estimates refine them.
# m is the share of one person's record pairs at that level (typo, nickname and move rates of box-office data);
# u the share of two people's pairs (how common names, places and dates are among a Québec audience).
DEFAULT_MODEL = _model(
    # About 100,000 distinct patrons: a pair drawn at random is one person's about once in 100,000.
    prior=1e-5,
    table={
        Comparison.FIRST_NAME: {
            # First names repeat more than one would think (Nathalie, Isabelle, Martin, Éric each ~1% of a
            # generation): two people share one ~0.6% of the time. One person's records agree once folded ~90%.
            Level.EXACT: (0.89, 0.006),
            # Read from one record's mailbox name (`Tremblay`, `marie.tremblay@`): 1.0% of one person's pairs and
            # 0.028% of two people's, measured as for typos below (5.2 bits, against 7.2 for an exact name).
            Level.IN_MAILBOX: (0.01, 0.00028),
            # Nicknames, initials and a compound's start: ~4% of one person's pairs, rare by chance (0.0011 of the
            # pairs of people measured as for typos below).
            Level.NICKNAME_OR_INITIAL: (0.04, 0.0015),
            # Typos (~1 in 30 hand-typed names) and spelling variants. Two people's first names fall within a typo
            # of each other about a quarter as often as they are equal: 0.24 over 2 million pairs of distinct people
            # in the benchmark's synthetic audience, whose names follow Québec's frequencies (bench/identity).
            Level.CLOSE: (0.035, 0.0015),
            # Mostly two names (Sylvie, Sylvain), rarely a bad typo: weak evidence against.
            Level.SIMILAR: (0.01, 0.03),
            # One person's records name them differently ~1.5% of the time (usual name vs legal name).
            Level.DIFFERENT: (0.015, 0.96072),
        },
        Comparison.LAST_NAME: {
            # Québec surnames are concentrated (Tremblay ~1.2%, Gagnon ~0.8%), a Montréal audience less so: ~0.2%.
            Level.EXACT: (0.897, 0.002),
            # As for first names: 2.3% and 0.020% (6.8 bits).
            Level.IN_MAILBOX: (0.023, 0.0002),
            # Compound names written whole or in part (Gagnon-Tremblay, Gagnon): rare between two people (0.00018 of
            # the pairs of people measured as for typos below).
            Level.COMPOUND_PART: (0.02, 0.0002),
            # Gagnon and Gagné, Bélanger and Béranger: about a quarter as often as equal ones (0.27, measured as for
            # first names).
            Level.CLOSE: (0.035, 0.0005),
            Level.SIMILAR: (0.01, 0.02),
            Level.DIFFERENT: (0.015, 0.9771),
        },
        Comparison.ADDRESS: {
            # One home holds ~2.3 people among ~100,000 patrons: two people share one ~2 times in 100,000.
            # One person's records share it unless they moved (~12% of Canadians a year) or one lacks a street.
            Level.SAME_ADDRESS: (0.55, 0.00002),
            # A postal code covers one side of a block, ~20-50 homes: two people share one ~5 times in 100,000.
            # One person's records land here mostly when one is a walk-up's, with no street.
            Level.SAME_POSTAL_CODE: (0.25, 0.00005),
            Level.SAME_STREET: (0.01, 0.0005),
            # An audience concentrates in ~100 of Québec's ~420 areas: two people share one ~1.5% of the time.
            Level.SAME_AREA: (0.05, 0.015),
            # Half an arts audience lives in Montréal: sharing only the city is weak evidence against.
            Level.SAME_CITY: (0.05, 0.25),
            Level.DIFFERENT: (0.09, 0.73443),
        },
        Comparison.PHONE: {
            # Numbers change and people give home or mobile: ~65% agree. Households share a line: u ~2/100,000.
            Level.EXACT: (0.65, 0.00002),
            Level.DIFFERENT: (0.35, 0.99998),
        },
        Comparison.EMAIL: {
            # A personal address, or a household's shared one (2/100,000 between two people).
            Level.EXACT: (0.70, 0.00002),
            # One slip (~8% of hand-typed records have a typo, the address one field in six): ~2% of one person's
            # pairs. Between two people it needs namesakes whose mailboxes differ by one letter and nothing else
            # (no digit, no dot), or one slip apart at two providers: rarer than a shared family address.
            Level.TYPO: (0.02, 0.00002),
            # Mailbox names are made of the person's names (claudehebert, jtremblay, famille.roy), and each provider
            # hands one out once: namesakes hold the same one at two providers. Among the 100,000 people of the
            # benchmark's audience, record pairs with equal full names and the same mailbox name at two providers
            # are one person's one time in 19. The comparisons are weighed as if independent, so the level that
            # goes with the names counts for nothing (m = u): it neither proves nor disproves.
            Level.SAME_LOCAL_PART: (0.05, 0.05),
            Level.DIFFERENT: (0.23, 0.94996),
        },
        Comparison.BIRTH_DATE: {
            # An audience spans ~60 birth years: two people share a birth date ~1 time in 20,000.
            Level.EXACT: (0.95, 0.00005),
            # Day and month swapped, or one digit off: ~2.5% of one person's pairs; ~40 such dates for any date.
            Level.NEAR: (0.025, 0.002),
            Level.SAME_YEAR: (0.01, 0.016),
            Level.DIFFERENT: (0.015, 0.98195),
        },
    },
)


@dataclass(frozen=True)
class EstimationResult:
    """What EM found: the model, how many iterations it ran, whether it converged, the log-likelihood of each."""

    model: MatchModel
    iterations: int
    converged: bool
    log_likelihoods: tuple[float, ...]


# Estimated probabilities never fall below this: a level unseen among matches would otherwise veto one forever.
_FLOOR = 1e-6


def estimate_model(
    vectors: Iterable[ComparisonVector],
    *,
    start: MatchModel,
    max_iterations: int = 50,
    tolerance: float = 1e-5,
    estimate_u: bool = True,
    held: Collection[Comparison] = (),
    prior_pairs: float = 0.0,
) -> EstimationResult:
    """Expectation-maximisation of the two-class Fellegi-Sunter mixture over `vectors`, from `start`.

    Comparisons are taken as independent given the class; a MISSING level says nothing. The result's m, u and
    λ describe the pairs given. Two recipes:

    - Pairs drawn from all records (or a known model's sample): estimate everything, or fix u from random pairs
      (`estimate_u_from_random_pairs`, then `estimate_u=False`) so that EM cannot settle on a split other than
      same person / two people.
    - Pairs from blocking: their non-matches are not random pairs: a block holds a household's members, who
      share an address, a phone and a last name. Against u from random pairs those look like matches, and EM
      then pulls λ and the m of disagreement up. Estimate m and u together on the blocked pairs, and keep only
      the m: `with_u.with_m_of(result.model)` scores with u from random pairs and the configured prior.

    `held` comparisons keep their start values and are left out: those a block was made on, which agree in
    every pair of the block and so say nothing there (Splink's per-blocking-rule training).
    `prior_pairs` adds that many pairs' worth of `start`'s m and u to each iteration's counts (a Dirichlet prior):
    a level seldom seen among a small history's pairs keeps some of its configured weight, where EM alone may drive
    it to the floor and let it veto a match (a birth date one digit off, at 10,000 people).
    Convergence: no parameter moved more than `tolerance` in an iteration.
    """
    patterns = list(Counter(vector.levels() for vector in vectors).items())
    active = [index for index, comparison in enumerate(COMPARISONS) if comparison not in held]
    m = [{level: odds.m for level, odds in start.comparisons[c].items()} for c in COMPARISONS]
    u = [{level: odds.u for level, odds in start.comparisons[c].items()} for c in COMPARISONS]
    start_m, start_u = [dict(levels) for levels in m], [dict(levels) for levels in u]
    prior = start.prior
    total = sum(count for _, count in patterns)
    log_likelihoods: list[float] = []
    converged = False
    iterations = 0
    while total and iterations < max_iterations and not converged:
        iterations += 1
        match_mass = [{level: prior_pairs * odds for level, odds in levels.items()} for levels in start_m]
        other_mass = [{level: prior_pairs * odds for level, odds in levels.items()} for levels in start_u]
        matches = 0.0
        log_likelihood = 0.0
        for levels, count in patterns:
            given_match, given_other = prior, 1 - prior
            for index in active:
                level = levels[index]
                if level is not Level.MISSING:
                    given_match *= m[index][level]
                    given_other *= u[index][level]
            likelihood = given_match + given_other
            log_likelihood += count * math.log(likelihood)
            as_match = count * given_match / likelihood
            matches += as_match
            for index in active:
                level = levels[index]
                if level is not Level.MISSING:
                    match_mass[index][level] += as_match
                    other_mass[index][level] += count - as_match
        log_likelihoods.append(log_likelihood)
        change = abs(matches / total - prior)
        prior = min(max(matches / total, _FLOOR), 1 - _FLOOR)
        for index in active:
            change = max(change, _maximise(m[index], match_mass[index]))
            if estimate_u:
                change = max(change, _maximise(u[index], other_mass[index]))
        converged = change < tolerance
    model = replace(
        start,
        prior=prior,
        comparisons={
            comparison: {level: LevelProbabilities(m[index][level], u[index][level]) for level in m[index]}
            for index, comparison in enumerate(COMPARISONS)
        },
    )
    return EstimationResult(model, iterations, converged, tuple(log_likelihoods))


def _maximise(probabilities: dict[Level, float], mass: Mapping[Level, float]) -> float:
    """Sets `probabilities` to `mass` normalised (floored), returning the largest change; unseen comparisons stay."""
    total = sum(mass.values())
    if total <= 0:
        return 0.0
    floored = {level: max(value / total, _FLOOR) for level, value in mass.items()}
    norm = sum(floored.values())
    change = 0.0
    for level, value in floored.items():
        change = max(change, abs(value / norm - probabilities[level]))
        probabilities[level] = value / norm
    return change


# Levels random pairs cannot estimate u for: they go with the names, and random pairs are seldom namesakes. Two
# Claude Héberts hold claudehebert at two providers as often as one does (see the default model).
NAME_BOUND_LEVELS: Mapping[Comparison, frozenset[Level]] = MappingProxyType(
    {Comparison.EMAIL: frozenset({Level.SAME_LOCAL_PART})}
)


def estimate_u_from_random_pairs(
    records: Sequence[NormalisedRecord], *, start: MatchModel, pairs: int = 100_000, seed: int = 0
) -> MatchModel:
    """`start` with each u replaced by its level's share among `pairs` random pairs of `records`.

    Two records drawn at random are almost never one person's (λ ~ 1e-5), so their levels are the u
    distribution, as Splink estimates it. Counts are smoothed by half a pair per level so that a level never
    seen by chance (an exact phone) gets a small u, not zero. `seed` makes the estimate repeatable.
    A level that goes with the names (`NAME_BOUND_LEVELS`) keeps `start`'s u, the others sharing the rest.
    """
    if len(records) < 2:
        raise ValueError("estimating u needs at least two records")
    draw = random.Random(seed)  # noqa: S311 (sampling pairs, not a secret)
    counts = [Counter[Level]() for _ in COMPARISONS]
    for _ in range(pairs):
        first, second = draw.sample(range(len(records)), 2)
        for index, level in enumerate(compare(records[first], records[second]).levels()):
            counts[index][level] += 1
    comparisons: dict[Comparison, dict[Level, LevelProbabilities]] = {}
    for index, comparison in enumerate(COMPARISONS):
        levels = LEVELS[comparison]
        seen = sum(counts[index][level] for level in levels)
        current = start.comparisons[comparison]
        if not seen:
            comparisons[comparison] = dict(current)
            continue
        estimated = {level: (counts[index][level] + 0.5) / (seen + 0.5 * len(levels)) for level in levels}
        bound = NAME_BOUND_LEVELS.get(comparison, frozenset())
        kept = sum(current[level].u for level in bound)
        free = sum(u for level, u in estimated.items() if level not in bound)
        comparisons[comparison] = {
            level: LevelProbabilities(
                current[level].m, current[level].u if level in bound else estimated[level] * (1 - kept) / free
            )
            for level in levels
        }
    return replace(start, comparisons=comparisons)


class Band(StrEnum):
    """What to do with a candidate match."""

    LINK = "link"
    REVIEW = "review"
    DISTINCT = "distinct"


@dataclass(frozen=True)
class MatchBands:
    """Probability thresholds: at or above `link_at` records are linked; at or above `review_at` a person decides.

    A wrong merge costs more than a missed one: it shows one patron another's history and sends them another's
    mail, and undoing it needs a person; a missed merge only leaves a duplicate for later. So linking asks for
    0.99, the precision targeted; the review band starts at 0.80, below which a reviewer would mostly be
    shown two different people.
    """

    link_at: float = 0.99
    review_at: float = 0.80

    def __post_init__(self) -> None:
        if not 0 < self.review_at <= self.link_at < 1:
            raise BilingualValueError(
                en=f"bands need 0 < review_at <= link_at < 1, not {self.review_at} and {self.link_at}",
                fr=f"les seuils demandent 0 < review_at <= link_at < 1, pas {self.review_at} et {self.link_at}",
            )

    def classify(self, probability: float) -> Band:
        if probability >= self.link_at:
            return Band.LINK
        if probability >= self.review_at:
            return Band.REVIEW
        return Band.DISTINCT

    @property
    def link_margin(self) -> float:
        """The bits by which the best person must beat the runner-up to be linked: the link odds, log2(p / (1-p))."""
        return math.log2(self.link_at / (1 - self.link_at))


@quick_init
@dataclass(frozen=True)
class Candidate:
    """The known person a record most likely belongs to, and why; `vector` shows which fields agreed."""

    person_id: str
    probability: float
    match_weight: float
    band: Band
    vector: ComparisonVector
    # Another person scored too close to tell apart: why a link was turned into a review.
    ambiguous_with: str | None = None

    @property
    def agreements(self) -> dict[str, str]:
        """Each comparison's level, for a reviewer: `{"first_name": "nickname_or_initial", "address": ...}`, and
        `name_order`: `swapped` when the names agree only crossed, else `straight`."""
        levels = zip(COMPARISONS, self.vector.levels(), strict=True)
        order = "swapped" if self.vector.names_swapped else "straight"
        return {comparison.value: level.value for comparison, level in levels} | {"name_order": order}


_PERSONAL_BIRTH_DATES = frozenset({Level.EXACT, Level.NEAR})


def best_candidate(
    record: NormalisedRecord,
    candidates: Sequence[tuple[str, Sequence[NormalisedRecord]]],
    model: MatchModel,
    bands: MatchBands,
) -> Candidate | None:
    """The candidate person `record` most likely belongs to, or None when no known record could be theirs.

    Each candidate is a person id with the records known of them; a person scores as their best record. The band
    follows the probability, with three safeguards a household needs, since its members share an address, a
    phone, often an e-mail and a last name, evidence that independent comparisons multiply into near-certainty:
    - a known record whose first name clearly differs is another person's (`first_names_clearly_differ`) and
      is not weighed at all;
    - a link needs what tells a household's members apart to agree: the birth date, or else the first name
      (more than an initial) with a last name that does not differ; otherwise the pair goes to review;
    - a link needs the best person to beat the runner-up by the link odds (`MatchBands.link_margin`): two
      persons both likely are a duplicate to resolve by hand, not a record to attach to either.
    """
    scored: list[tuple[float, str, ComparisonVector, NormalisedRecord]] = []
    for person_id, known_records in candidates:
        best: tuple[float, ComparisonVector, NormalisedRecord] | None = None
        for known in known_records:
            vector = compare(record, known)
            if vector.first_name in _DISAGREEING_NAMES:
                continue
            weight = model.match_weight(vector)
            if best is None or weight > best[0]:
                best = (weight, vector, known)
        if best is not None:
            scored.append((best[0], person_id, best[1], best[2]))
    if not scored:
        return None
    scored.sort(key=lambda entry: (-entry[0], entry[1]))
    weight, person_id, vector, known = scored[0]
    probability = probability_of_weight(weight)
    band = bands.classify(probability)
    ambiguous_with = None
    if band is Band.LINK:
        if len(scored) > 1 and weight - scored[1][0] < bands.link_margin:
            band, ambiguous_with = Band.REVIEW, scored[1][1]
        elif not _tells_household_members_apart(record, known, vector):
            band = Band.REVIEW
    return Candidate(person_id, probability, weight, band, vector, ambiguous_with)


def birth_dates_differ(a: NormalisedRecord, b: NormalisedRecord) -> bool:
    """Whether both records give a birth date and the dates are not one person's (equal, or one slip apart)."""
    return (
        a.birth_date is not None
        and b.birth_date is not None
        and (_birth_date_level(a.birth_date, b.birth_date) not in _PERSONAL_BIRTH_DATES)
    )


def _tells_household_members_apart(record: NormalisedRecord, known: NormalisedRecord, vector: ComparisonVector) -> bool:
    if vector.birth_date in _PERSONAL_BIRTH_DATES:
        return True
    # A father and the son named after him at the same address: everything agrees but the birth dates.
    if vector.birth_date in (Level.SAME_YEAR, Level.DIFFERENT):
        return False
    if vector.first_name not in _AGREEING_NAMES or vector.last_name in _DISAGREEING_NAMES:
        return False
    names = [record.first_name, known.first_name]
    if vector.names_swapped:
        names += [record.last_name, known.last_name]
    # An initial is shared by about one household member in ten.
    return not any(_initials(name) for name in names if name)
