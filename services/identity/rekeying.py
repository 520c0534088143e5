"""Linking stored persons again by the addresses an older release kept in another form than today's normalisation
gives (a domain in the DNS's `xn--` form, before 2026-12): each is claimed as written today too."""

from collections.abc import Callable
from dataclasses import dataclass, field

from services.identity.domain.identifiers import Identifier, as_written_today
from services.identity.domain.matching import Comparison, Level
from services.identity.domain.merges import ReviewItem
from services.identity.domain.persons import Person, PersonStatus, kept_apart, review_id_for
from services.identity.handlers import IdentityDeps, active_person, any_suppressed, file_review
from services.identity.upgrades import ADDRESS_FORM
from shared.moments import to_the_millisecond

# What a suggestion this files names where a fact's id would be: no fact made it.
REKEYING = "rekey-identifiers"


@dataclass(frozen=True)
class Conflict:
    """An address a person holds as an older release wrote it, which another person holds as written today."""

    organisation_id: str
    # The active person holding the address as an older release wrote it.
    person_id: str
    # The person holding it as written today: the active one they are, when merged into someone.
    holder_id: str
    # The suggestion a reviewer accepts (one person) or rejects (two); None when none is filed: the two are kept apart
    # already, or the holder is no active person (being created, or erased).
    review_id: str | None
    kept_apart: bool = False

    @property
    def unsettled(self) -> bool:
        """Neither left for review nor kept apart: the holder was no active person yet, for a later run to settle."""
        return self.review_id is None and not self.kept_apart


@dataclass
class RekeyReport:
    """Persons visited; addresses linked again as written today; those the policy blocks as written today; those
    someone erased with `do_not_readd` gave as written today; suggestions filed for a reviewer; and the addresses
    someone else holds as written today."""

    persons: int = 0
    rekeyed: int = 0
    blocked: int = 0
    suppressed: int = 0
    suggested: int = 0
    conflicts: list[Conflict] = field(default_factory=list)


async def rekey_identifiers(
    deps: IdentityDeps,
    organisation_id: str | None,
    *,
    progress_every: int = 256,
    progress: Callable[[RekeyReport], None] | None = None,
) -> RekeyReport:
    """Claims, as written today, each address an active person (of one organisation, or of all) holds as an older
    release wrote it (`as_written_today`), for whoever claimed it: a fact naming it either way links them again.

    The address as stored stays claimed and held: the records kept of the person name it so, and an erasure or an
    unmerge finds them by it. Another person holding the address as written today merges no one: the two are left to a
    reviewer as a suggestion, unless kept apart already. An address the policy blocks as written today is not
    claimed. Running it again claims and files nothing more, and a run cut short is finished by the next; identity may
    keep running, since claiming is what resolving does. Once every organisation's persons are visited, with no
    conflict left unsettled, the store records that their addresses are claimed as written today (see
    `upgrades.outdated`).
    """
    report = RekeyReport()
    async for person in deps.store.active_persons(organisation_id):
        await _rekey(person, deps, report)
        report.persons += 1
        if progress is not None and report.persons % progress_every == 0:
            progress(report)
    if progress is not None and report.persons % progress_every:
        progress(report)
    if organisation_id is None and not any(conflict.unsettled for conflict in report.conflicts):
        # Persons stored meanwhile had their addresses claimed as written today as they were resolved.
        await ADDRESS_FORM.record_current(deps.store)
    return report


async def _rekey(person: Person, deps: IdentityDeps, report: RekeyReport) -> None:
    store, organisation_id = deps.store, person.organisation_id
    for stored in sorted(person.identifiers):
        today = as_written_today(stored)
        if today == stored:
            continue
        # The address linked whoever claimed it, who may be merged into this person. Held by no one, it linked no one;
        # held by someone this person is not, it is theirs to re-key.
        claimant = await store.owner_of(organisation_id, stored)
        if claimant is None or await _active_id(deps, organisation_id, claimant) != person.person_id:
            continue
        if deps.rules.policy.is_blocked(today, organisation_id):
            report.blocked += 1
            continue
        if await any_suppressed(store, organisation_id, [today], deps.rules):
            # Someone erased with `do_not_readd` gave it so: a fact naming it is refused, and no one is to hold it.
            report.suppressed += 1
            continue
        holder = await store.owner_of(organisation_id, today) or await store.claim(organisation_id, today, claimant)
        if holder != claimant and await _erased(deps, organisation_id, holder):
            # Claimed for someone as they were erased (an erasure releases identifiers one by one, and a fact decided
            # in between may claim one again): nobody else would ever free it, so it is freed as resolving frees it.
            await store.release(organisation_id, today, holder)
            holder = await store.claim(organisation_id, today, claimant)
        if holder == claimant:
            # Claimed first, held then: a run stopped between the two is finished by the next.
            claimed_by = await store.person(organisation_id, claimant)
            if claimed_by is not None and today not in claimed_by.identifiers:
                await store.add_to_person(organisation_id, claimant, identifiers=[today])
                report.rekeyed += 1
        elif await _active_id(deps, organisation_id, holder) != person.person_id:
            report.conflicts.append(await _left_for_review(person, today, holder, deps, report))


async def _erased(deps: IdentityDeps, organisation_id: str, person_id: str) -> bool:
    person = await deps.store.person(organisation_id, person_id)
    return person is not None and person.status is PersonStatus.ERASED


async def _active_id(deps: IdentityDeps, organisation_id: str, person_id: str) -> str | None:
    active = await active_person(deps.store, organisation_id, person_id)
    return None if active is None else active.person_id


async def _left_for_review(
    person: Person, today: Identifier, holder_id: str, deps: IdentityDeps, report: RekeyReport
) -> Conflict:
    organisation_id = person.organisation_id
    holder = await active_person(deps.store, organisation_id, holder_id)
    if holder is None:
        return Conflict(organisation_id, person.person_id, holder_id, None)
    if kept_apart(person, holder):
        # An unmerge split them, or a reviewer rejected them as one: that stands.
        return Conflict(organisation_id, person.person_id, holder.person_id, None, kept_apart=True)
    review_id = review_id_for(organisation_id, holder.person_id, person.person_id)
    if await deps.store.review(organisation_id, review_id) is None:
        await file_review(
            ReviewItem(
                review_id=review_id,
                organisation_id=organisation_id,
                person_id=holder.person_id,
                candidate_id=person.person_id,
                # One address, written two ways: as sure as a link by it.
                probability=deps.rules.policy.rule(today).confidence,
                agreements={Comparison.EMAIL.value: Level.EXACT.value},
                event_id=REKEYING,
                created_at=to_the_millisecond(deps.clock.now()),
            ),
            deps,
        )
        report.suggested += 1
    return Conflict(organisation_id, person.person_id, holder.person_id, review_id)
