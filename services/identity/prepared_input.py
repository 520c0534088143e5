"""A batch file read and prepared (parsed, normalised, keyed) in a second process while this one resolves.

Preparing a line does not depend on the lines before it, and takes about a third of a batch's work; resolving
must follow the file's order. So a child process prepares, and the lines reach the resolver in order, a chunk at
a time, through a pipe whose small buffer keeps the child at most a few chunks ahead: memory stays flat.
"""

import contextlib
import multiprocessing
import operator
import pickle
import signal
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, fields
from datetime import date
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from services.identity.batch_file import file_lines
from services.identity.domain.batch_input import PreparedLine, prepare_line
from services.identity.domain.identifiers import Identifier, IdentifierPolicy, IdentifierType
from services.identity.domain.records import NormalisedRecord
from shared.events import Language
from shared.memo import caches_within

# Lines per message: enough to make the pipe's cost per line small, few enough to show progress often.
CHUNK_LINES = 256
_IDENTIFIER_TYPES = {member.value: member for member in IdentifierType}
_record_values = operator.attrgetter(*(field.name for field in fields(NormalisedRecord)))


class PreparationError(RuntimeError):
    """The process preparing the lines failed (its traceback ends the message) or ended without finishing; the
    message is English, `fr` French."""

    def __init__(self, en: str, fr: str) -> None:
        super().__init__(en)
        self.fr = fr


@dataclass(frozen=True)
class _Preparation:
    path: Path
    organisation_id: str
    policy: IdentifierPolicy
    default_region: str
    today: date
    cache_entries: int | None
    language: Language


class PreparedInput:
    """The prepared lines of one file, in order, and how many of its bytes they hold up to the last one taken.

    The resolver takes a line once done with the one before, so when it reports, `bytes_taken` is the share of the
    file it has resolved: not how far the child has read, which is chunks ahead, and all of a small file at once.
    """

    def __init__(self, receiving: Connection) -> None:
        self._receiving = receiving
        self.bytes_taken = 0

    def __iter__(self) -> Iterator[PreparedLine]:
        while True:
            try:
                message = self._receiving.recv()
            except EOFError:
                raise PreparationError(
                    "the process preparing the lines ended before the end of the file",
                    "le processus qui prépare les lignes s'est arrêté avant la fin du fichier",
                ) from None
            kind, payload = message
            if kind == "lines":
                ends, lines = payload
                for end, line in zip(ends, lines, strict=True):
                    self.bytes_taken = end
                    yield _decode(line)
            elif kind == "failed":
                raise PreparationError(
                    f"preparing the lines failed:\n{payload}",
                    # Without the traceback's last line break, what follows it ends its last line.
                    f"la préparation des lignes a échoué :\n{payload.rstrip()}",
                )
            else:
                return


@contextlib.contextmanager
def prepared_input(
    path: Path,
    *,
    organisation_id: str,
    policy: IdentifierPolicy,
    default_region: str,
    today: date,
    cache_entries: int | None = None,
    language: Language = "en",
) -> Iterator[PreparedInput]:
    """`path`'s lines as `prepare_line` makes them, their problems worded in `language`, prepared by a child
    process; it is stopped on leaving.

    `cache_entries`: the child's share of a memory budget, as `caches_within` takes it.
    """
    # Fork shares what this process has loaded already (start-up is a second here); spawn where fork is unsafe.
    forking = "fork" in multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork") if forking else multiprocessing.get_context("spawn")
    receiving, sending = context.Pipe(duplex=False)
    preparation = _Preparation(path, organisation_id, policy, default_region, today, cache_entries, language)
    child = context.Process(target=_prepare, args=(preparation, sending), name="parterre-prepare-lines", daemon=True)
    child.start()
    # Only the child writes: with this end closed here, the child's exit is seen as the end of the pipe.
    sending.close()
    try:
        yield PreparedInput(receiving)
    finally:
        receiving.close()
        if child.is_alive():
            child.terminate()
        child.join()


def _prepare(preparation: _Preparation, sending: Connection) -> None:
    # Its parent stops it (`terminate`) whenever the run ends before it has: by the signal's default effect, at once
    # and without a word. A forked child inherits the command's handlers, which raise wherever it is, its exit
    # included, where multiprocessing prints the exception as a traceback among the run's messages.
    for number in (signal.SIGTERM, *([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])):
        signal.signal(number, signal.SIG_DFL)
    try:
        with caches_within(preparation.cache_entries), preparation.path.open("rb") as raw:
            # Where each line of the chunk ends in the file.
            ends: list[int] = []
            chunk: list[tuple[Any, ...]] = []
            end = 0
            for line_number, line in enumerate(file_lines(raw), start=1):
                prepared = prepare_line(
                    line_number,
                    line,
                    today=preparation.today,
                    default_region=preparation.default_region,
                    policy=preparation.policy,
                    organisation_id=preparation.organisation_id,
                    language=preparation.language,
                )
                end += len(line)
                ends.append(end)
                chunk.append(_encode(prepared))
                if len(chunk) == CHUNK_LINES:
                    sending.send(("lines", (ends, chunk)))
                    ends, chunk = [], []
            sending.send(("lines", (ends, chunk)))
        sending.send(("end", None))
    except (BrokenPipeError, KeyboardInterrupt):
        # The resolver stopped reading (`--strict` stopped it, or it was interrupted): nothing to report.
        pass
    except BaseException:
        # Whatever it is, the resolver must hear of it rather than wait.
        with contextlib.suppress(OSError, pickle.PicklingError):
            sending.send(("failed", traceback.format_exc()))
    finally:
        sending.close()


# Plain tuples: a frozen dataclass or an enum member costs several times more to unpickle, per line. The fields are
# in the order the classes declare them, so that they are passed back by position, as keywords cost more.
def _encode(line: PreparedLine) -> tuple[Any, ...]:
    return (
        line.line_number,
        line.problem,
        line.unreadable,
        line.record_id,
        line.unknown_fields,
        line.warnings,
        _record_values(line.record),
        tuple([(identifier.type._value_, identifier.value, identifier.source) for identifier in line.identifiers]),
        line.keys,
        line.blocked_values,
    )


def _decode(encoded: tuple[Any, ...]) -> PreparedLine:
    line_number, problem, unreadable, record_id, unknown_fields, warnings, record, identifiers, keys, blocked_values = (
        encoded
    )
    return PreparedLine(
        line_number,
        problem,
        unreadable,
        record_id,
        unknown_fields,
        warnings,
        NormalisedRecord(*record),
        tuple([Identifier(_IDENTIFIER_TYPES[kind], value, source) for kind, value, source in identifiers]),
        keys,
        blocked_values,
    )
