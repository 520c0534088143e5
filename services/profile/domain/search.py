"""One search box for staff: what the text typed is (an email, a phone, an upstream id or names), the look-ups that
find its candidates, and how well each candidate matches it."""

import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from itertools import combinations

from rapidfuzz.distance import JaroWinkler

from services.profile.domain.lookups import (
    START_LENGTHS,
    email_lookups,
    name_lookup,
    names_lookup,
    part_sound,
    phone_lookups,
    phone_readings,
    searchable_parts,
    start_lookup,
    upstream_id_as_compared,
    upstream_ids,
    upstream_lookup,
)
from services.profile.domain.profile import DEFAULT_PHONE_REGION, ProfileState
from shared.names import JOINING_PARTICLES, fold_name, name_parts
from shared.phones import without_extension

# A search word matches a part of a name at this Jaro-Winkler similarity or more, both folded: one typo in a
# name of five letters or more (Tremblai, Elyse, Gauthier for Gautier), but not two short names one letter apart
# (Léo and Léa: 0.82). Three first letters or more match the name they begin at this score at least.
WORD_MATCH = 0.88
SHORTEST_QUERY = 2
LONGEST_QUERY = 200
# Phone numbers have 7 (local) to 15 (E.164's longest) digits; fewer is an upstream id (`4521`), never a phone.
_FEWEST_PHONE_DIGITS = 7
_MOST_PHONE_DIGITS = 15
# Digits and what people write between them: `+1 (514) 555-0199`; then perhaps an extension, which profiles drop.
_PHONE_SHAPE = re.compile(r"\+?[0-9\s().\-/]+")


class QueryKind(StrEnum):
    """What the text typed looks like, which decides the look-ups that find its candidates."""

    EMAIL = "email"
    PHONE = "phone"
    UPSTREAM_ID = "upstream_id"
    NAME = "name"


class MatchedBy(StrEnum):
    """How a candidate matched the text typed."""

    EMAIL = "email"
    PHONE = "phone"
    UPSTREAM_ID = "upstream_id"
    NAME = "name"


class Unsearchable(StrEnum):
    """Why a text cannot be searched for."""

    TOO_SHORT = "too_short"
    TOO_LONG = "too_long"
    NO_LETTERS_OR_DIGITS = "no_letters_or_digits"


class UnsearchableQueryError(ValueError):
    def __init__(self, reason: Unsearchable) -> None:
        super().__init__(reason.value)
        self.reason = reason


@dataclass(frozen=True)
class SearchQuery:
    """A text typed in the search box, read: `words` are its name parts, folded, for a name search; a phone without
    its country code is read as dialled from `phone_region`."""

    text: str
    kind: QueryKind
    words: tuple[str, ...] = ()
    # The same words with no particle joined to the next: `Le Thi` may be the family name Le typed first.
    plain_words: tuple[str, ...] = ()
    phone_region: str = DEFAULT_PHONE_REGION

    @property
    def lookup_stages(self) -> tuple[tuple[str, ...], ...]:
        """The look-up keys that find the candidates, in stages: a later stage is read only while the earlier
        ones found no more matches than were asked for.

        A name search reads the lists of its words taken two by two first (few people share two names), then the
        list of each word's sound, which finds the typos that sound the same and the people known by one name, then
        the list of the names each word begins (a name typed halfway). A word shorter than the longest start is more
        likely a name typed halfway than a whole one, and its sound is often a common one (`Gau` sounds as Côté
        does), whose list alone could fill the search: the list of the names it begins is read before the sounds.
        Every search but an email's also reads the text as an upstream id: ids are often digits or plain words.
        """
        if self.kind is QueryKind.EMAIL:
            return (email_lookups(self.text),)
        if self.kind is QueryKind.PHONE:
            return ((*phone_lookups(self.text, self.phone_region), upstream_lookup(self.text)),)
        if self.kind is QueryKind.UPSTREAM_ID:
            return ((upstream_lookup(self.text),),)
        words = (*self.words, *self.plain_words)
        sounds = list(dict.fromkeys(sound for word in words if (sound := part_sound(word))))
        pairs = tuple(names_lookup(sound, other) for sound, other in combinations(sounds, 2))
        starts = {word: key for word in words if (key := start_lookup(word))}
        halfway = tuple(dict.fromkeys(key for word, key in starts.items() if len(word) < START_LENGTHS[-1]))
        whole = tuple(dict.fromkeys(key for word, key in starts.items() if len(word) >= START_LENGTHS[-1]))
        return ((upstream_lookup(self.text), *pairs), (*halfway, *(name_lookup(sound) for sound in sounds)), whole)

    @property
    def has_several_words(self) -> bool:
        """A name of two words or more: each word must match (`rank`), so the patrons asked for are in the lists of
        each of its words alone, and the shortest of those lists holds them in few."""
        return self.kind is QueryKind.NAME and len(dict.fromkeys((*self.words, *self.plain_words))) > 1


def read_query(text: str, *, phone_region: str = DEFAULT_PHONE_REGION) -> SearchQuery:
    """What `text` asks for; raises `UnsearchableQueryError` for fewer than 2 characters or more than 200, or no
    letter or digit. A phone without its country code is read as dialled from `phone_region`.

    An `@` makes an email; digits and phone punctuation alone, seven to fifteen digits, a phone (an extension after
    it is dropped, as profiles drop it); any other digit an upstream id (`C-004521`); anything else names, in any
    order, any case, with or without accents.
    """
    trimmed = " ".join(text.split())
    if len(trimmed) < SHORTEST_QUERY:
        raise UnsearchableQueryError(Unsearchable.TOO_SHORT)
    if len(trimmed) > LONGEST_QUERY:
        raise UnsearchableQueryError(Unsearchable.TOO_LONG)
    if not any(char.isalnum() for char in trimmed):
        raise UnsearchableQueryError(Unsearchable.NO_LETTERS_OR_DIGITS)
    if "@" in trimmed:
        return SearchQuery(trimmed, QueryKind.EMAIL, phone_region=phone_region)
    number = without_extension(trimmed)
    if (
        _PHONE_SHAPE.fullmatch(number)
        and _FEWEST_PHONE_DIGITS <= sum(char.isdigit() for char in number) <= _MOST_PHONE_DIGITS
    ):
        return SearchQuery(number, QueryKind.PHONE, phone_region=phone_region)
    if any(char.isdigit() for char in trimmed):
        return SearchQuery(trimmed, QueryKind.UPSTREAM_ID, phone_region=phone_region)
    words, plain_words = _query_words(trimmed)
    return SearchQuery(
        trimmed, QueryKind.NAME, words, plain_words if plain_words != words else (), phone_region=phone_region
    )


def _query_words(text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The text's name parts with particles joined to the word after them, and its plain words."""
    folded = fold_name(text)
    parts = list(name_parts(folded)) if folded else []
    plain = folded.split() if folded else []
    # `Marie de` is a search typed halfway: a particle left at the end has no word to belong to yet.
    for words in (parts, plain):
        if len(words) > 1 and words[-1] in JOINING_PARTICLES:
            words.pop()
    return tuple(parts), tuple(plain)


@dataclass(frozen=True)
class Candidate:
    """A patron a look-up found, as the search compares them: emails and phones as profiles keep them."""

    person_id: str
    first_name: str | None = None
    last_name: str | None = None
    emails: Collection[str] = ()
    phones: Collection[str] = ()
    upstream_ids: Collection[str] = ()

    @classmethod
    def of(cls, person_id: str, state: ProfileState) -> "Candidate":
        return cls(
            person_id=person_id,
            first_name=None if state.first_name is None else state.first_name.value,
            last_name=None if state.last_name is None else state.last_name.value,
            emails=tuple(state.emails),
            phones=tuple(state.phones),
            upstream_ids=tuple(upstream_ids(state)),
        )


@dataclass(frozen=True)
class Found:
    candidate: Candidate
    # 1 for an email, a phone or an upstream id held; for names, the mean over the words of their best similarity.
    score: float
    matched_by: MatchedBy


def rank(query: SearchQuery, candidates: Iterable[Candidate]) -> list[Found]:
    """The candidates that match `query`, best first, each once: by score, then by last and first name (folded),
    then by person id, so that equal candidates come in the same order whatever order the look-ups found them in.

    - An email matches a candidate holding it as identity links addresses (case, Gmail's dots, `+tags` aside) or
      as profiles keep it; a phone one holding it as profiles keep numbers, read as dialled from the query's
      `phone_region` when it has no country code (spacing, +1 do not matter).
    - An upstream id matches a candidate holding it from any source, case and surrounding spaces aside.
    - Names match when every word typed matches some part of the first or last name (`searchable_parts`) at
      `WORD_MATCH` or more, in any order; a single letter matches a part it begins (an initial). A name search
      matches an upstream id too, scoring 1.
    """
    found: dict[str, Found] = {}
    for candidate in candidates:
        match = _match(query, candidate)
        if match is not None and (candidate.person_id not in found or match.score > found[candidate.person_id].score):
            found[candidate.person_id] = match
    return sorted(found.values(), key=_order)


def _order(found: Found) -> tuple[float, str, str, str]:
    candidate = found.candidate
    return (
        -found.score,
        fold_name(candidate.last_name or "") or "",
        fold_name(candidate.first_name or "") or "",
        candidate.person_id,
    )


def _match(query: SearchQuery, candidate: Candidate) -> Found | None:
    if query.kind is QueryKind.EMAIL:
        wanted_keys = set(email_lookups(query.text))
        held = any(wanted_keys.intersection(email_lookups(email)) for email in candidate.emails)
        return Found(candidate, 1.0, MatchedBy.EMAIL) if held else None
    if query.kind is QueryKind.PHONE and any(
        number in candidate.phones for number in phone_readings(query.text, query.phone_region)
    ):
        return Found(candidate, 1.0, MatchedBy.PHONE)
    wanted = upstream_id_as_compared(query.text)
    if any(upstream_id_as_compared(held) == wanted for held in candidate.upstream_ids):
        return Found(candidate, 1.0, MatchedBy.UPSTREAM_ID)
    if query.kind is not QueryKind.NAME or not query.words:
        return None
    parts = (*searchable_parts(candidate.first_name), *searchable_parts(candidate.last_name))
    scores = [score for words in (query.words, query.plain_words) if (score := name_score(words, parts)) is not None]
    return Found(candidate, max(scores), MatchedBy.NAME) if scores else None


def name_score(words: Sequence[str], parts: Sequence[str]) -> float | None:
    """The mean over `words` of each one's best similarity to a part of `parts`; None if a word matches no part."""
    if not words or not parts:
        return None
    total = 0.0
    for word in words:
        best = max(_similarity(word, part) for part in parts)
        if best < WORD_MATCH:
            return None
        total += best
    return total / len(words)


def _similarity(word: str, part: str) -> float:
    if len(word) == 1 and word.isascii() and word != part:
        return WORD_MATCH if part.startswith(word) else 0.0
    similarity = JaroWinkler.similarity(word, part)
    if len(word) >= START_LENGTHS[0] and part.startswith(word):
        # A name typed halfway, however long the name: Jaro-Winkler alone lets `Trem` find Tremblay but not `Gau`
        # Gauthier, nor `Trem` Tremblay-Lavoie.
        return max(similarity, WORD_MATCH)
    return similarity
