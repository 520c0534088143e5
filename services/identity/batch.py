"""Batch resolution of an organisation's history: the streaming code path, fed from a file instead of Kafka."""

import asyncio
import csv
import json
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from time import time_ns
from typing import IO, TypeVar

from services.identity.adapters.memory import InMemoryIdentityStore
from services.identity.domain.batch_input import (
    PreparedLine,
    already_used,
    ignored_blocked_values,
    ignored_unknown_fields,
    ignored_unusable,
    names_nobody,
    on_line,
    prepare_line,
    skipped_because,
)
from services.identity.handlers import IdentityDeps, IdentityRules, active_person, settle
from shared.events import Language

# Problems kept word for word in the report to show; beyond that they are only counted (and written to its
# `problem_log`, when it has one), so memory stays flat.
MAX_REPORTED_PROBLEMS = 100
# The batch has no redeliveries: applied journal entries are dropped this often to keep memory flat.
JOURNAL_FLUSH_RECORDS = 10_000
# The in-memory store answers without ever waiting, so the loop would see a cancellation (Ctrl-C) only at the end.
PAUSE_EVERY_LINES = 256
FOLLOWED_PERSONS_KEPT = 10_000


class LineOrderClock:
    """Now, to the millisecond, but never the same moment twice: the persons a batch creates are created in the
    order of their lines however many fall in one millisecond, so a merge's survivor (the earliest created, ties
    to the smaller id) is the same on every run of a file, whatever the machine's speed."""

    def __init__(self) -> None:
        # Milliseconds since the epoch, the last moment given: rounding a `datetime` took about 1 µs of the 115 µs a
        # record takes to resolve.
        self._last = -1

    def now(self) -> datetime:
        milliseconds = max(time_ns() // 1_000_000, self._last + 1)
        self._last = milliseconds
        # Exact: a float holds a millisecond count divided by 1,000 within far less than the microsecond it is
        # rounded to.
        return datetime.fromtimestamp(milliseconds / 1000, UTC)


class BatchAbortedError(Exception):
    """`--strict`: the first unusable line stops the run; the message is in the language of `reason`."""

    def __init__(self, line_number: int, reason: str, language: Language = "en") -> None:
        super().__init__(on_line(line_number, reason, language))
        self.line_number = line_number


@dataclass
class BatchReport:
    lines: int = 0
    resolved: int = 0
    skipped: int = 0
    # Of the lines skipped, those that are no JSON object: a file in another format shows here.
    unreadable: int = 0
    warnings: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    # Every problem, each as a JSON string on a line of its own (a field's name may hold a line break).
    problem_log: IO[str] | None = field(default=None, repr=False, compare=False)
    # The language of `problems` and of the log: the one the lines were prepared in.
    language: Language = "en"

    def note(self, line_number: int, message: str) -> None:
        problem = on_line(line_number, message, self.language)
        if len(self.problems) < MAX_REPORTED_PROBLEMS:
            self.problems.append(problem)
        if self.problem_log is not None:
            self.problem_log.write(json.dumps(problem) + "\n")


def prepare_lines(
    lines: Iterable[str | bytes],
    *,
    organisation_id: str,
    rules: IdentityRules,
    today: date,
    language: Language = "en",
) -> Iterator[PreparedLine]:
    """Each line of a batch file prepared in this process (see `prepared_input` for a second one)."""
    for line_number, line in enumerate(lines, start=1):
        yield prepare_line(
            line_number,
            line,
            today=today,
            default_region=rules.default_region,
            policy=rules.policy,
            organisation_id=organisation_id,
            language=language,
        )


async def resolve_lines(
    lines: Iterable[PreparedLine],
    assignments: IO[str],
    *,
    organisation_id: str,
    deps: IdentityDeps,
    strict: bool = False,
    progress: Callable[[BatchReport], None] = lambda _report: None,
    first_lines: MutableMapping[str, int] | None = None,
    problem_log: IO[str] | None = None,
    language: Language = "en",
) -> BatchReport:
    """Resolves each line's record and writes `record_id,person_id` as decided at that moment to `assignments`.

    A later record can merge two earlier persons, so `write_final_assignments` rewrites these with the
    persons that survive. `first_lines` keeps the line of each record id seen (a dict unless given: a spilled
    mapping keeps memory bounded). `lines` come from `prepare_lines`, or from `prepared_input`, with the
    organisation and rules of `deps`, in `language`, which the report's problems are said in too. `problem_log`
    receives every problem, not only the first ones the report keeps.
    """
    report = BatchReport(problem_log=problem_log, language=language)
    store = deps.store
    writer = csv.writer(assignments)
    # Each record's decision is keyed by its id: a second line with the same id would silently get the first's.
    first_line_of: MutableMapping[str, int] = {} if first_lines is None else first_lines
    # Told after every line, those skipped too: a long run of lines skipped shows its progress as well.
    for prepared in _each_then(lines, lambda: progress(report)):
        line_number = report.lines = prepared.line_number
        if line_number % PAUSE_EVERY_LINES == 0:
            await asyncio.sleep(0)
        if prepared.problem is not None:
            if strict:
                raise BatchAbortedError(line_number, prepared.problem, language)
            report.skipped += 1
            if prepared.unreadable:
                report.unreadable += 1
            report.note(line_number, skipped_because(prepared.problem, language))
            continue
        if not prepared.record_id:
            continue
        first_line = first_line_of.get(prepared.record_id)
        if first_line is not None:
            message = already_used(prepared.record_id, first_line, language)
            if strict:
                raise BatchAbortedError(line_number, message, language)
            report.skipped += 1
            report.note(line_number, skipped_because(message, language))
            continue
        for warning in prepared.warnings:
            report.warnings += 1
            report.note(line_number, warning)
        if prepared.unknown_fields:
            report.warnings += 1
            report.note(line_number, ignored_unknown_fields(prepared.unknown_fields, language))
        record = prepared.record
        for warning in record.warnings:
            report.warnings += 1
            report.note(line_number, ignored_unusable(warning, language))
        if not prepared.identifiers and not (record.first_name and record.last_name):
            message = names_nobody(prepared.blocked_values, language)
            if strict:
                raise BatchAbortedError(line_number, message, language)
            report.skipped += 1
            report.note(line_number, skipped_because(message, language))
            continue
        if prepared.blocked_values:
            report.warnings += 1
            report.note(line_number, ignored_blocked_values(prepared.blocked_values, language))
        first_line_of[prepared.record_id] = line_number
        entry, outcome, _merge = await settle(
            organisation_id, f"batch|{prepared.record_id}", record, prepared.identifiers, deps, keys=prepared.keys
        )
        report.outcomes[outcome] = report.outcomes.get(outcome, 0) + 1
        if entry is not None:
            writer.writerow((prepared.record_id, entry.decision.person_id))
            report.resolved += 1
        if isinstance(store, InMemoryIdentityStore) and report.resolved % JOURNAL_FLUSH_RECORDS == 0:
            store.forget_journal()
    return report


T = TypeVar("T")


def _each_then(items: Iterable[T], after: Callable[[], None]) -> Iterator[T]:
    """`items`, with `after` called once the loop is done with each, whichever way its turn ended (`continue`)."""
    for item in items:
        yield item
        after()


async def write_final_assignments(
    assignments: Iterable[list[str]],
    output: IO[str],
    *,
    organisation_id: str,
    deps: IdentityDeps,
    progress: Callable[[int], None] = lambda _written: None,
) -> int:
    """Writes `record_id,person_id` with each person followed through the merges made after it was assigned.

    `progress` is given the number of rows written after each one.
    """
    writer = csv.writer(output, lineterminator="\n")
    # Python 3.11's writer quotes a field for the characters of its line terminator only: a carriage return in a
    # record id would go out bare, and every reader would end the row there.
    quoted = csv.writer(output, lineterminator="\n", quoting=csv.QUOTE_ALL)
    writer.writerow(("record_id", "person_id"))
    # The persons followed most recently: a person's records are mostly near each other, and memory stays bounded.
    final: OrderedDict[str, str] = OrderedDict()
    written = 0
    for record_id, person_id in assignments:
        if written % PAUSE_EVERY_LINES == PAUSE_EVERY_LINES - 1:
            # As while resolving: the in-memory store never waits, and a Ctrl-C would be seen only at the end.
            await asyncio.sleep(0)
        if person_id in final:
            final.move_to_end(person_id)
        else:
            person = await active_person(deps.store, organisation_id, person_id)
            final[person_id] = person.person_id if person is not None else person_id
            if len(final) > FOLLOWED_PERSONS_KEPT:
                final.popitem(last=False)
        # An id is written as given, spaces at its ends included; quoted, no reader that trims bare fields loses them.
        (quoted if "\r" in record_id or record_id != record_id.strip() else writer).writerow(
            (record_id, final[person_id])
        )
        written += 1
        progress(written)
    return written
