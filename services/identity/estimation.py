"""Estimating an organisation's matching model from its history: u from random pairs, m by EM on blocked pairs."""

import hashlib
import json
import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import IO

from services.identity.batch import MAX_REPORTED_PROBLEMS
from services.identity.domain.batch_input import (
    BatchLineError,
    ignored_blocked_values,
    ignored_unknown_fields,
    ignored_unusable,
    names_nobody,
    on_line,
    read_batch_line,
    skipped_because,
    values_as_given,
)
from services.identity.domain.identifiers import IdentifierPolicy, identifiers_of, without_blocked
from services.identity.domain.matching import (
    ComparisonVector,
    MatchModel,
    blocking_keys,
    compare,
    estimate_model,
    estimate_u_from_random_pairs,
)
from services.identity.domain.normalise import normalise_record
from services.identity.domain.records import NormalisedRecord
from shared.bilingual import format_count
from shared.events import Language

# A blocking key shared by more records than this is a common name in a big city, not a person: its pairs are
# nearly all two people's, which would teach EM that agreement is what strangers do, and their number grows as
# the square of the block's.
MAX_BLOCK_MEMBERS = 50
# Records kept, chosen uniformly from the whole input, to draw the random pairs that u is estimated on.
RANDOM_PAIR_RECORDS = 20_000
# Below this, a pair drawn at random is one person's often enough (two records of ten people: every time) that the
# u estimated from them says names agree between strangers as often as within one person.
MIN_RECORDS = 100
_HASH_SPAN = 1 << 64


class NotEnoughDataError(ValueError):
    """The records cannot support an estimate: too few of them, or no two sharing a blocking key. The message is
    English, `fr` French."""

    def __init__(self, en: str, fr: str) -> None:
        super().__init__(en)
        self.fr = fr


@dataclass(frozen=True)
class EstimationReport:
    """The estimated model and the figures to judge it by."""

    # u from random pairs and the prior of `start`, with m from EM on the blocked pairs.
    model: MatchModel
    records: int
    random_pairs: int
    blocked_pairs: int
    # The share of blocking keys whose pairs were used: 1.0 unless the caps forced a sample of the blocks.
    blocks_share: float
    iterations: int
    converged: bool
    # EM's λ: the share of the blocked pairs it took for one person's, not the prior of the model (over all pairs).
    blocked_match_share: float


@dataclass
class LineTally:
    """What reading a JSON Lines file found: lines, records read, lines skipped, warnings and the first problems,
    worded in `language`."""

    lines: int = 0
    records: int = 0
    skipped: int = 0
    warnings: int = 0
    problems: list[str] = field(default_factory=list)
    language: Language = "en"
    # Every problem, each as a JSON string on a line of its own, for `--report` (as `BatchReport.problem_log`).
    problem_log: IO[str] | None = field(default=None, repr=False, compare=False)

    def skip(self, line_number: int, reason: str) -> None:
        self.skipped += 1
        self._note(line_number, skipped_because(reason, self.language))

    def warn(self, line_number: int, warning: str) -> None:
        self.warnings += 1
        self._note(line_number, warning)

    def _note(self, line_number: int, message: str) -> None:
        problem = on_line(line_number, message, self.language)
        if len(self.problems) < MAX_REPORTED_PROBLEMS:
            self.problems.append(problem)
        if self.problem_log is not None:
            self.problem_log.write(json.dumps(problem) + "\n")


def records_of_lines(
    lines: Iterable[str | bytes],
    tally: LineTally,
    *,
    today: date,
    default_region: str,
    policy: IdentifierPolicy,
    organisation_id: str,
) -> Iterator[NormalisedRecord]:
    """Each usable line's record, normalised; unusable lines are counted in `tally` and skipped, never fatal, and
    the problems worded in the tally's language.

    Lines are read as `resolve` reads them, and a record is the evidence `resolve` compares: without the values the
    `policy` blocks (the box office's own address, given for every walk-up buyer, would teach EM that strangers share
    an email). Duplicate record ids are not looked for, which would need every id in memory, and a line repeated by
    mistake only adds a pair that agrees on everything.
    """
    language = tally.language
    for line_number, line in enumerate(lines, start=1):
        tally.lines = line_number
        try:
            batch_record = read_batch_line(line, language)
        except BatchLineError as exc:
            tally.skip(line_number, str(exc))
            continue
        if batch_record is None:
            continue
        for warning in batch_record.warnings:
            tally.warn(line_number, warning)
        if batch_record.unknown_fields:
            tally.warn(line_number, ignored_unknown_fields(batch_record.unknown_fields, language))
        normalised = normalise_record(
            batch_record.record, today=today, default_region=default_region, language=language
        )
        for warning in normalised.warnings:
            tally.warn(line_number, ignored_unusable(warning, language))
        identifiers, blocked = identifiers_of(normalised, policy, organisation_id)
        record = without_blocked(normalised, blocked)
        blocked_values = values_as_given(batch_record.record, blocked)
        if not identifiers and not (record.first_name and record.last_name):
            # As `resolve` does: such a record is never matched, so it says nothing of how records match.
            tally.skip(line_number, names_nobody(blocked_values, language))
            continue
        if blocked_values:
            tally.warn(line_number, ignored_blocked_values(blocked_values, language))
        tally.records += 1
        yield record


# Pairs' worth of the start model added to EM's counts (see `estimate_model`). At 10,000 people, EM alone drove the m
# of a birth date one digit off to its floor (-12 bits: a veto) and scored F1 0.9793 against the configured model's
# 0.9813; with 1,000 pairs, 0.9800, and 0.9805 at 100,000 people (0.9802 alone). 100 pairs lifted the veto but
# changed no person.
PRIOR_PAIRS = 1_000.0


def estimate_from_records(
    records: Iterable[NormalisedRecord],
    *,
    start: MatchModel,
    sample_pairs: int = 200_000,
    max_blocked_pairs: int = 500_000,
    max_block_memberships: int = 200_000,
    max_iterations: int = 200,
    seed: int = 0,
    progress: Callable[[int], None] = lambda _records: None,
) -> EstimationReport:
    """The model `records` support: `start` with u from random pairs and m from EM on blocked pairs.

    Reads `records` once and holds a bounded amount whatever their number:
    - a uniform sample of at most `RANDOM_PAIR_RECORDS` records (reservoir sampling), for `sample_pairs` random
      pairs;
    - an index of blocking key → the records under it, holding at most `max_block_memberships` entries (a key
      that gathered more than `MAX_BLOCK_MEMBERS` records is dropped and counts as one entry) and implying at
      most `max_blocked_pairs` pairs. When either cap would be passed, half of the keys are let go, chosen by a
      seeded hash, so the blocks kept are a random sample of all blocks, each block whole from the first
      record to the last.
    So at most `RANDOM_PAIR_RECORDS + max_block_memberships` records are held (a normalised record with its keys
    takes about 1 KB: some 220 MB at the defaults, whatever the input's size), and the pairs are compared one at
    a time into EM's pattern counts: no pair or vector is stored. `progress` is told how many records were read.

    Raises `NotEnoughDataError` when fewer than two records were read or no pair shares a blocking key.
    """
    draw = random.Random(seed)  # noqa: S311 (sampling records, not a secret)
    sample: list[NormalisedRecord] = []
    index = _BlockIndex(seed=seed, max_pairs=max_blocked_pairs, max_memberships=max_block_memberships)
    read = 0
    for record in records:
        read += 1
        if len(sample) < RANDOM_PAIR_RECORDS:
            sample.append(record)
        else:
            slot = draw.randrange(read)
            if slot < RANDOM_PAIR_RECORDS:
                sample[slot] = record
        index.add(record)
        progress(read)
    if read < MIN_RECORDS:
        raise NotEnoughDataError(
            f"{read:,} record(s) read: estimating needs at least {MIN_RECORDS:,}; with fewer, pairs drawn at random "
            "are too often one person's to say how often two people agree, and the model would keep duplicates "
            "apart (keep the configured one)",
            f"{format_count(read, 'fr')} fiche(s) lue(s) : l'estimation en demande au moins {MIN_RECORDS} ; avec "
            "moins, les paires tirées au hasard sont trop souvent d'une même personne pour dire à quelle fréquence "
            "deux personnes concordent, et le modèle laisserait les doublons séparés (gardez celui configuré)",
        )
    if index.pairs == 0:
        raise NotEnoughDataError(
            f"no two of the {read:,} records share a blocking key (an email, a phone, a name with a postal code "
            f"or a birth year) of at most {MAX_BLOCK_MEMBERS} records: there are no candidate pairs to estimate m on",
            f"aucune des {format_count(read, 'fr')} fiches ne partage avec une autre une clé de blocage (un courriel, "
            "un téléphone, un nom avec un code postal ou une année de naissance) comptant au plus "
            f"{MAX_BLOCK_MEMBERS} fiches : il n'y a aucune paire candidate sur laquelle estimer m",
        )
    counted = _Counted(index.vectors())
    result = estimate_model(counted, start=start, max_iterations=max_iterations, prior_pairs=PRIOR_PAIRS)
    if counted.count == 0:
        raise NotEnoughDataError(
            f"the blocks sampled from the {read:,} records hold no pair of their own: raise the caps on blocked pairs",
            f"les blocs tirés des {format_count(read, 'fr')} fiches ne contiennent aucune paire qui leur soit propre : "
            "relevez les plafonds de paires bloquées",
        )
    with_u = estimate_u_from_random_pairs(sample, start=start, pairs=sample_pairs, seed=seed)
    return EstimationReport(
        model=with_u.with_m_of(result.model),
        records=read,
        random_pairs=sample_pairs,
        blocked_pairs=counted.count,
        blocks_share=index.kept_share,
        iterations=result.iterations,
        converged=result.converged,
        blocked_match_share=result.model.prior,
    )


class _Counted:
    """An iterable that counts what passes through it."""

    def __init__(self, items: Iterable[ComparisonVector]) -> None:
        self._items = items
        self.count = 0

    def __iter__(self) -> Iterator[ComparisonVector]:
        for item in self._items:
            self.count += 1
            yield item


class _BlockIndex:
    """Blocking key → its records, for a seeded random sample of the keys, within caps on entries and pairs.

    Invariant: a key is held iff its hash is below `_keep_below` and it has not passed `MAX_BLOCK_MEMBERS`, and a
    held key holds every record read under it. `_keep_below` only falls, so a key let go never comes back.
    """

    def __init__(self, *, seed: int, max_pairs: int, max_memberships: int) -> None:
        self._salt = seed.to_bytes(8, "big", signed=True)
        self._max_pairs = max_pairs
        self._max_memberships = max_memberships
        self._keep_below = _HASH_SPAN
        # Each entry is a record with its blocking keys, shared by the blocks it is in.
        self._blocks: dict[str, list[tuple[NormalisedRecord, tuple[str, ...]]]] = {}
        self._crowded: set[str] = set()
        self._memberships = 0
        self.pairs = 0

    @property
    def kept_share(self) -> float:
        return self._keep_below / _HASH_SPAN

    def add(self, record: NormalisedRecord) -> None:
        keys = blocking_keys(record)
        entry = (record, keys)
        for key in keys:
            if key in self._crowded or self._hash(key) >= self._keep_below:
                continue
            members = self._blocks.setdefault(key, [])
            if len(members) == MAX_BLOCK_MEMBERS:
                self._crowded.add(key)
                del self._blocks[key]
                self._memberships -= len(members)
                self.pairs -= _pairs_among(len(members))
                continue
            self.pairs += len(members)
            self._memberships += 1
            members.append(entry)
        # A crowded key is remembered so that it is not started again: it counts as one membership.
        while self.pairs > self._max_pairs or self._memberships + len(self._crowded) > self._max_memberships:
            self._halve()

    def vectors(self) -> Iterator[ComparisonVector]:
        """Each pair's comparison, once: in the block of the first key its two records share that is not crowded.

        A pair sharing several keys (an email and a phone) belongs to one of them whether or not it is held, so
        a pair is in the sample as often as any other, not as often as it has keys in common: matches share
        more keys than strangers and would otherwise be over-represented when only some blocks are held. (Only
        the crowded keys that are held are known: a pair whose first shared key is crowded and was let go is lost.)
        """
        for key, members in self._blocks.items():
            for position, (record, keys) in enumerate(members):
                for other, other_keys in members[:position]:
                    if self._owning_key(keys, other_keys) == key:
                        yield compare(other, record)

    def _owning_key(self, keys: tuple[str, ...], other_keys: tuple[str, ...]) -> str | None:
        shared = set(other_keys)
        return next((key for key in keys if key in shared and key not in self._crowded), None)

    def _halve(self) -> None:
        self._keep_below //= 2
        for key in [key for key in self._blocks if self._hash(key) >= self._keep_below]:
            members = self._blocks.pop(key)
            self._memberships -= len(members)
            self.pairs -= _pairs_among(len(members))
        self._crowded = {key for key in self._crowded if self._hash(key) < self._keep_below}

    def _hash(self, key: str) -> int:
        digest = hashlib.blake2b(key.encode(), digest_size=8, salt=self._salt).digest()
        return int.from_bytes(digest, "big")


def _pairs_among(members: int) -> int:
    return members * (members - 1) // 2
