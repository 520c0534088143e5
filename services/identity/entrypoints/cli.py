"""`parterre identity resolve` and `estimate`: resolve an organisation's history offline, or fit its matching model;
`parterre identity refile-blocks`: file stored persons under the blocking keys they are missing;
`parterre identity rekey-identifiers`: claim as written today the addresses an older release kept in another form."""

import argparse
import asyncio
import contextlib
import csv
import json
import os
import re
import shutil
import sys
import tempfile
import textwrap
from collections.abc import Callable, Coroutine, Iterable, Iterator, MutableMapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, TypeVar

import yaml

from services.identity.adapters.memory import InMemoryIdentityStore
from services.identity.adapters.spilled import cached_entries_within, spilled_maps
from services.identity.batch import (
    BatchAbortedError,
    BatchReport,
    LineOrderClock,
    resolve_lines,
    write_final_assignments,
)
from services.identity.batch_file import file_lines
from services.identity.domain.batch_input import opens_an_array_over_lines, wide_encoding
from services.identity.domain.identifiers import IdentifierPolicy, load_identifier_policy
from services.identity.domain.match_settings import load_match_settings
from services.identity.domain.resolution import Matching
from services.identity.estimation import (
    MIN_RECORDS,
    EstimationReport,
    LineTally,
    NotEnoughDataError,
    estimate_from_records,
    records_of_lines,
)
from services.identity.handlers import IdentityDeps, IdentityRules
from services.identity.prepared_input import PreparationError, prepared_input
from services.identity.refiling import RefileReport, refile_blocks
from services.identity.rekeying import Conflict, RekeyReport, rekey_identifiers
from services.identity.rules import development_salt_warning, load_rules
from services.identity.settings import IdentitySettings
from shared.bilingual import (
    LANGUAGES,
    chosen_language,
    format_count,
    french_count,
    in_language,
    is_singular,
    language_of_environment,
    os_error,
    quoted,
)
from shared.events import Language
from shared.gc_tuning import collections_paused_keeping_what_is_made
from shared.memo import caches_within
from shared.progress import ProgressLine, with_progress
from shared.signals import StoppedError, stopped_as_by_ctrl_c
from shared.tokens import OrganisationIdError, organisation_option_accepted, validate_organisation_id
from shared.yaml_models import ConfigFileError, read_config_file

DEFAULT_ORGANISATION = "default"
# About 120,000 persons with their records, resolved all in memory; a longer history spills the rest to a temporary
# file, at about a third of the speed.
DEFAULT_BATCH_MEMORY_MB = 1024

Report = TypeVar("Report")


# What the commands end with, for scripts to branch on; argparse's own refusals end with 2 too.
_NOT_JSON_LINES = "an input in UTF-16 or UTF-32, or written as a JSON array over several lines"
_REFUSED_BEFORE_ANY_WORK = (
    "the command was refused before any work: an option or a setting, an --input that is no file, an --output{} "
    "that cannot be written, a --policy or --model file missing or invalid"
)
_RESOLVE_EXIT_CODES = (
    (0, "the CSV was written (lines skipped, if any, are named above the summary)"),
    (
        1,
        f"the input was refused or the run failed, and nothing was written: {_NOT_JSON_LINES}, no record to resolve, "
        "a line --strict stops at, a full disk",
    ),
    (2, _REFUSED_BEFORE_ANY_WORK.format(" or --report")),
    (130, "interrupted by Ctrl-C, nothing written; stopped by SIGTERM or SIGHUP, 128 + its number (143, 129)"),
)
_ESTIMATE_EXIT_CODES = (
    (0, "the model file was written, and the report with --report"),
    (
        1,
        f"the input was refused or the estimate failed, and no model was written: {_NOT_JSON_LINES}, fewer than "
        f"{MIN_RECORDS} records, EM that did not converge (the report, with --report, is written all the same), a "
        "full disk",
    ),
    (2, _REFUSED_BEFORE_ANY_WORK.format(" or --report")),
    (130, "interrupted by Ctrl-C, nothing written"),
)
# Filing only adds persons to blocks: a run cut short keeps what it filed, and running it again finishes the work.
_REFILE_EXIT_CODES = (
    (0, "every stored person (of --organisation, when given) was filed under the blocking keys it was missing"),
    (1, "the store could not be reached or failed midway; run the command again to finish"),
    (
        2,
        "the command was refused before any work: an option or a setting, a store whose blocking keys were hashed "
        "with another PARTERRE_IDENTITY_SUPPRESSION_SALT",
    ),
    (130, "interrupted by Ctrl-C; run the command again to finish"),
)
# Claiming only adds, and a suggestion is filed once: a run cut short keeps what it did, and running it again finishes.
_REKEY_EXIT_CODES = (
    (
        0,
        "every address an older release stored in another form (of --organisation, when given) is claimed as "
        "written today, but those another person holds so (named above, left for review) and those the identifier "
        "policy blocks so",
    ),
    (1, "the store could not be reached or failed midway; run the command again to finish"),
    (
        2,
        "the command was refused before any work: an option or a setting, the identifier policy or matching model "
        "file missing or invalid",
    ),
    (130, "interrupted by Ctrl-C; run the command again to finish"),
)


def _exit_codes(codes: Iterable[tuple[int, str]]) -> str:
    return "exit codes:\n" + "\n".join(f"  {code:<4} {meaning}" for code, meaning in codes)


class _LinesKept(argparse.HelpFormatter):
    """Help whose description and epilog keep their lines, each wrapped to the terminal: a line that starts with a
    code (the exit codes) goes on under its text, not under the code."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        filled = []
        for line in text.splitlines():
            code = re.match(r"\s*\d+\s+", line)
            hanging = indent + " " * (code.end() if code else 0)
            filled.append(textwrap.fill(line, width, initial_indent=indent, subsequent_indent=hanging))
        return "\n".join(filled)


def register(commands: Any) -> None:
    identity = commands.add_parser("identity", help="resolve records to persons").add_subparsers(
        dest="action", required=True
    )
    resolve = identity.add_parser(
        "resolve",
        help="resolve a JSON Lines file of person records; writes record_id,person_id as CSV",
        description="Each input line is a JSON object with `record_id` and any of source, external_id, first_name, "
        "last_name, email, phone, street, address_2, city, region, postal_code, country, birth_date. "
        "The same matching as the identity service, on this machine's memory: nothing is written to the store.",
        epilog=_exit_codes(_RESOLVE_EXIT_CODES),
        formatter_class=_LinesKept,
    )
    resolve.add_argument("--input", type=Path, required=True, help="the JSON Lines file")
    resolve.add_argument("--output", type=Path, required=True, help="the CSV file to write")
    resolve.add_argument("--org", default=DEFAULT_ORGANISATION, help="the organisation (default: %(default)s)")
    resolve.add_argument("--strict", action="store_true", help="stop at the first unusable line instead of skipping")
    resolve.add_argument("--policy", type=Path, help="an identifier policy file instead of the configured one")
    resolve.add_argument("--model", type=Path, help="a matching model file instead of the configured one")
    resolve.add_argument("--report", type=Path, help="also write the run's report as JSON, naming every problem")
    resolve.add_argument(
        "--memory-mb",
        type=int,
        default=DEFAULT_BATCH_MEMORY_MB,
        help="megabytes for the persons, blocks, merges, record ids and matching caches held in memory; the rest "
        "waits in a temporary file (default: %(default)s)",
    )
    _add_language_option(resolve)
    resolve.set_defaults(run=_run_resolve)
    refile = identity.add_parser(
        "refile-blocks",
        help="file every stored person under the blocking keys its records are missing (after an upgrade)",
        description="A record is compared with the persons filed under one of its blocking keys. When a release "
        "changes the keys, the persons stored before are found only through the keys of their day until they are "
        "seen again; this walks the stored persons and files each under the keys it is missing. Running it again "
        "files nothing. The identity service may keep running.",
        epilog=_exit_codes(_REFILE_EXIT_CODES),
        formatter_class=_LinesKept,
    )
    refile.add_argument("--organisation", metavar="ORG", help="only this organisation's persons (default: all)")
    refile.set_defaults(run=_run_refile)
    rekey = identity.add_parser(
        "rekey-identifiers",
        help="link stored persons again by the addresses an older release kept in another form (after an upgrade)",
        description="Releases before 2026-12 kept an address whose domain was written in the DNS's form "
        "(marie@xn--thtre-4qa2c.qc.ca) as given; an address is now read with the accented name it stands for "
        "(marie@théâtre.qc.ca), so a fact naming it either way found no one by it. This claims each such address as "
        "written today for the person who holds it. An address another person holds as written today merges no "
        "one: both are named, and left to a reviewer as a suggestion (GET /v1/review). Running it again does "
        "nothing more. The identity service may keep running.",
        epilog=_exit_codes(_REKEY_EXIT_CODES),
        formatter_class=_LinesKept,
    )
    rekey.add_argument("--organisation", metavar="ORG", help="only this organisation's persons (default: all)")
    rekey.set_defaults(run=_run_rekey)
    estimate = identity.add_parser(
        "estimate",
        help="estimate the matching model from a JSON Lines file of person records; writes a model file",
        description="Reads the same lines as `resolve` and estimates each comparison level's u from random pairs "
        "of records and its m by expectation-maximisation on the pairs that share a blocking key, counting the "
        "starting model as 1,000 pairs more so that a level a small history seldom shows keeps some weight. Writes a "
        "complete model file (the configured bands, the estimated model) to use with `resolve --model` or "
        "PARTERRE_IDENTITY_MATCH_MODEL_FILE. Nothing is written when EM does not converge.",
        epilog=_exit_codes(_ESTIMATE_EXIT_CODES),
        formatter_class=_LinesKept,
    )
    estimate.add_argument("--input", type=Path, required=True, help="the JSON Lines file")
    estimate.add_argument("--output", type=Path, required=True, help="the model file (YAML) to write")
    estimate.add_argument(
        "--report",
        type=Path,
        help="also write the run's report as JSON, naming every problem; written too when no model is",
    )
    estimate.add_argument("--seed", type=int, default=0, help="the same seed gives the same model (default: 0)")
    estimate.add_argument(
        "--model", type=Path, help="the model file to start from and take the bands of, instead of the configured one"
    )
    estimate.add_argument(
        "--random-pairs",
        type=int,
        default=200_000,
        help="random pairs u is estimated on; fewer is faster and rougher on rare levels (default: %(default)s)",
    )
    estimate.add_argument(
        "--max-iterations", type=int, default=200, help="EM iterations before giving up (default: %(default)s)"
    )
    estimate.add_argument(
        "--org",
        default=DEFAULT_ORGANISATION,
        help="the organisation, whose blocked values are its own (default: %(default)s)",
    )
    estimate.add_argument("--policy", type=Path, help="an identifier policy file instead of the configured one")
    _add_language_option(estimate)
    estimate.set_defaults(run=_run_estimate)


def _add_language_option(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--language",
        metavar="{fr,en}",
        help="the language of its messages, problems and summary (default: French when LC_ALL, LC_MESSAGES or LANG, "
        "the first set, starts with fr; English otherwise); the JSON summary, the CSV and the model file are the "
        "same in both",
    )


def _language(arguments: argparse.Namespace) -> Language | None:
    """The language the command speaks, or None after refusing a `--language` it does not speak."""
    try:
        return chosen_language(arguments.language)
    except ValueError:
        # Said in both: which one the reader reads is what is not known.
        print(
            f"error: --language: {quoted(arguments.language, 'en')} is not a language these commands speak: "
            f"{' or '.join(LANGUAGES)}\n"
            f"erreur : --language : {quoted(arguments.language, 'fr')} n'est pas une langue de ces commandes : "
            f"{' ou '.join(LANGUAGES)}",
            file=sys.stderr,
        )
        return None


def _say_error(language: Language, *, en: str, fr: str) -> None:
    print(in_language(language, en=f"error: {en}", fr=f"erreur : {fr}"), file=sys.stderr)


def _progress(total: int, position: Callable[[], int], language: Language) -> ProgressLine:
    """A progress line counting records, in `language`."""
    if language == "fr":
        return ProgressLine(total, position, unit="fiches", unit_one="fiche", language=language)
    return ProgressLine(total, position, unit="records")


def _skipped_count(skipped: int, language: Language) -> str:
    if language == "en":
        return f"{skipped:,} skipped"
    lines = "ligne écartée" if is_singular(skipped, language) else "lignes écartées"
    return f"{format_count(skipped, language)} {lines}"


def _more_problems_fr(hidden: int, *, report: Path | None = None, can_report: bool = False) -> str:
    """The line after the problems shown, for the `hidden` ones: where they are, or how to have them all."""
    one = is_singular(hidden, "fr")
    more = f"… et {format_count(hidden, 'fr')} {'autre problème' if one else 'autres problèmes'}"
    if report is not None:
        return f"{more}, voir {report}"
    if can_report:
        return f"{more} ; --report FICHIER " + ("l'écrit" if one else "les écrit tous")
    return more


def _run_refile(arguments: argparse.Namespace) -> int:
    # The store's modules are imported by the one command that opens it: the others start a fifth of a second sooner.
    from services.identity.adapters.mongo import SaltMismatchError

    language = language_of_environment()
    if not organisation_option_accepted(arguments.organisation, language):
        return 2
    try:
        report = _carried_out(
            lambda: _refile(IdentitySettings(), arguments.organisation, language),
            language,
            kept="what was filed stays filed",
            kept_fr="ce qui a été classé le reste",
        )
    except SaltMismatchError as exc:
        _say_error(language, en=str(exc), fr=exc.fr)
        return 2
    if isinstance(report, int):
        return report
    if language == "fr":
        keys = french_count(report.filed, "clé de blocage manquante ajoutée", "clés de blocage manquantes ajoutées")
        full = french_count(report.full, "bloc était plein", "blocs étaient pleins")
        print(
            f"{french_count(report.persons, 'personne visitée', 'personnes visitées')} ; {keys}"
            + (f" ; {full}" if report.full else "")
        )
        return 0
    print(
        f"visited {report.persons:,} persons; filed them under {report.filed:,} blocking keys they were missing"
        + (f"; {report.full:,} blocks were full" if report.full else "")
    )
    return 0


def _carried_out(
    work: Callable[[], Coroutine[Any, Any, Report]], language: Language, *, kept: str, kept_fr: str
) -> Report | int:
    """The report of a maintenance command's `work` over the store, or the exit code it ends with: 1 when the store
    failed, 130 when stopped by Ctrl-C; either way what it did (`kept`, `kept_fr` say so) stays done, and running it
    again finishes."""
    from pymongo.errors import PyMongoError

    try:
        return asyncio.run(work())
    except PyMongoError as exc:
        _say_error(
            language,
            en=f"the store: {exc}; {kept}: run the command again to finish",
            fr=f"la base de données : {exc} ; {kept_fr} : relancez la commande pour terminer",
        )
        return 1
    except KeyboardInterrupt:
        print(
            in_language(
                language,
                en=f"interrupted: {kept}: run the command again to finish",
                fr=f"interrompu : {kept_fr} : relancez la commande pour terminer",
            ),
            file=sys.stderr,
        )
        return 130


def _persons_progress(language: Language) -> dict[str, Any]:
    """The progress line's words for a command that walks the stored persons."""
    return {
        "unit": in_language(language, en="persons", fr="personnes"),
        "unit_one": in_language(language, en="persons", fr="personne"),
        "language": language,
    }


async def _refile(settings: IdentitySettings, organisation_id: str | None, language: Language = "en") -> RefileReport:
    from services.identity.adapters.mongo import MongoIdentityStore
    from shared.mongo import mongo_client

    async with mongo_client(settings.mongo_url, app_name="parterre-cli") as client:
        store = MongoIdentityStore(client[settings.mongo_database], salt=settings.salt())
        await store.confirm_salt()
        return await with_progress(
            lambda show: refile_blocks(store, organisation_id, progress=show),
            total=await store.count_persons(organisation_id),
            done=lambda report: report.persons,
            details=lambda report: in_language(
                language,
                en=f"{report.filed:,} keys filed",
                fr=french_count(report.filed, "clé ajoutée", "clés ajoutées"),
            ),
            **_persons_progress(language),
        )


def _run_rekey(arguments: argparse.Namespace) -> int:
    language = language_of_environment()
    if not organisation_option_accepted(arguments.organisation, language):
        return 2
    settings = IdentitySettings()
    try:
        # The policy says which addresses may be claimed; the suggestions' certainty is that of a link by one.
        rules = load_rules(settings)
    except ConfigFileError as exc:
        _say_error(language, en=str(exc), fr=exc.said_in("fr"))
        return 2
    except OSError as exc:
        _say_error(language, en=str(exc), fr=os_error(exc, "fr"))
        return 2
    report = _carried_out(
        lambda: _rekey(settings, rules, arguments.organisation, language),
        language,
        kept="what was claimed stays claimed",
        kept_fr="ce qui a été revendiqué le reste",
    )
    if isinstance(report, int):
        return report
    for conflict in report.conflicts:
        print(_conflict_line(conflict, language))
    if language == "fr":
        print(_rekey_summary_fr(report))
        return 0
    summary = f"visited {report.persons:,} persons; linked {_counted(report.rekeyed, 'address', 'addresses')} again"
    summary += " as written today"
    if report.conflicts:
        summary += f"; {len(report.conflicts):,} held by another person, named above"
        summary += f"; {_counted(report.suggested, 'suggestion', 'suggestions')} filed for review"
    if report.blocked:
        summary += f"; {report.blocked:,} blocked by the identifier policy as written today, not claimed"
    if report.suppressed:
        summary += f"; {report.suppressed:,} given by someone erased not to be added again, not claimed"
    print(summary)
    return 0


def _counted(count: int, one: str, more: str) -> str:
    return f"{count:,} {one if count == 1 else more}"


def _rekey_summary_fr(report: RekeyReport) -> str:
    """The line `rekey-identifiers` ends with, in French, whose words agree with their counts."""
    summary = f"{french_count(report.persons, 'personne visitée', 'personnes visitées')} ; " + french_count(
        report.rekeyed,
        "adresse reliée de nouveau telle qu'écrite aujourd'hui",
        "adresses reliées de nouveau telles qu'écrites aujourd'hui",
    )
    if report.conflicts:
        held = french_count(
            len(report.conflicts),
            "détenue par une autre personne, nommée plus haut",
            "détenues par une autre personne, nommées plus haut",
        )
        summary += f" ; {held} ; " + french_count(report.suggested, "suggestion à vérifier", "suggestions à vérifier")
    if report.blocked:
        summary += " ; " + french_count(
            report.blocked,
            "bloquée par la politique d'identifiants telle qu'écrite aujourd'hui, non revendiquée",
            "bloquées par la politique d'identifiants telles qu'écrites aujourd'hui, non revendiquées",
        )
    if report.suppressed:
        summary += " ; " + french_count(
            report.suppressed,
            "donnée par une personne effacée pour ne plus être ajoutée, non revendiquée",
            "données par une personne effacée pour ne plus être ajoutées, non revendiquées",
        )
    return summary


def _conflict_line(conflict: Conflict, language: Language = "en") -> str:
    if language == "fr":
        return _conflict_line_fr(conflict)
    both = (
        f"{conflict.organisation_id}: {conflict.person_id} and {conflict.holder_id} hold one address written two ways"
    )
    if conflict.review_id is not None:
        return f"{both}: left for review as {conflict.review_id}"
    if conflict.kept_apart:
        return f"{both}, and are kept apart (by an unmerge or a reviewer): left as they are"
    return f"{both}, and {conflict.holder_id} is no active person (being created, or erased): run the command again"


def _conflict_line_fr(conflict: Conflict) -> str:
    both = (
        f"{conflict.organisation_id} : {conflict.person_id} et {conflict.holder_id} détiennent une même adresse "
        "écrite de deux façons"
    )
    if conflict.review_id is not None:
        return f"{both} : laissées à vérifier sous {conflict.review_id}"
    if conflict.kept_apart:
        return (
            f"{both}, et sont gardées séparées (par l'annulation d'une fusion ou par une vérification) : laissées "
            "telles quelles"
        )
    return (
        f"{both}, et {conflict.holder_id} n'est pas une personne active (en cours de création, ou effacée) : relancez "
        "la commande"
    )


async def _rekey(
    settings: IdentitySettings, rules: IdentityRules, organisation_id: str | None, language: Language = "en"
) -> RekeyReport:
    from services.identity.adapters.mongo import MongoIdentityStore
    from services.identity.context import SystemClock
    from shared.mongo import mongo_client

    async with mongo_client(settings.mongo_url, app_name="parterre-cli") as client:
        store = MongoIdentityStore(client[settings.mongo_database], salt=settings.salt())
        deps = IdentityDeps(store=store, rules=rules, clock=SystemClock())
        return await with_progress(
            lambda show: rekey_identifiers(deps, organisation_id, progress=show),
            total=await store.count_persons(organisation_id),
            done=lambda report: report.persons,
            details=lambda report: in_language(
                language,
                en=f"{report.rekeyed:,} addresses linked again",
                fr=french_count(report.rekeyed, "adresse reliée de nouveau", "adresses reliées de nouveau"),
            ),
            **_persons_progress(language),
        )


def _run_resolve(arguments: argparse.Namespace) -> int:
    language = _language(arguments)
    if language is None:
        return 2
    try:
        validate_organisation_id(arguments.org)
    except OrganisationIdError as exc:
        _say_error(language, en=f"--org: {exc}", fr=f"--org : {exc.fr}")
        return 2
    if not arguments.input.is_file():
        _say_error(language, en=f"{arguments.input} is not a file", fr=f"{arguments.input} n'est pas un fichier")
        return 2
    if (encoding := _wide_encoding(arguments.input)) is not None:
        en, fr = _WIDE_ENCODING_ERRORS[encoding]
        print(in_language(language, en=en, fr=fr).format(path=arguments.input), file=sys.stderr)
        return 1
    if _an_array_over_lines(arguments.input):
        print(in_language(language, en=_ARRAY_ERROR, fr=_ARRAY_ERROR_FR).format(path=arguments.input), file=sys.stderr)
        return 1
    # Said before the work, not after hours of it.
    if (
        problem := _unwritable(
            arguments.input,
            ("--output", arguments.output),
            ("--report", arguments.report),
            read=(("--policy", arguments.policy), ("--model", arguments.model)),
            language=language,
        )
    ) is not None:
        print(problem, file=sys.stderr)
        return 2
    settings = IdentitySettings()
    if arguments.policy:
        settings = settings.model_copy(update={"identity_policy_file": str(arguments.policy)})
    if arguments.model:
        settings = settings.model_copy(update={"identity_match_model_file": str(arguments.model)})
    try:
        rules = load_rules(settings)
    except ConfigFileError as exc:
        _say_error(language, en=str(exc), fr=exc.said_in("fr"))
        return 2
    except OSError as exc:
        _say_error(language, en=str(exc), fr=os_error(exc, "fr"))
        return 2
    if arguments.memory_mb < 16:
        _say_error(language, en="--memory-mb: at least 16", fr="--memory-mb : au moins 16")
        return 2
    if (warning := development_salt_warning(settings, language)) is not None:
        print(in_language(language, en=f"warning: {warning}", fr=f"avertissement : {warning}"), file=sys.stderr)
    # Every problem waits on disk for the report file, however many there are; the terminal shows the first ones.
    # The output and the report are put in place together, once both are whole.
    staged = _StagedFiles()
    with (
        # Set before the process preparing the lines starts, which inherits them and puts SIGTERM and SIGHUP back to
        # their default effect, to be stopped quietly (see `_prepare`).
        stopped_as_by_ctrl_c(),
        tempfile.TemporaryFile("w+", encoding="utf-8", prefix="parterre-problems-") as problem_log,
        contextlib.closing(staged),
    ):
        try:
            with (
                tempfile.TemporaryDirectory(prefix="parterre-resolve-") as scratch,
                spilled_maps(Path(scratch), arguments.memory_mb) as large,
            ):
                deps = IdentityDeps(store=InMemoryIdentityStore(large), rules=rules, clock=LineOrderClock())
                with caches_within(cached_entries_within(arguments.memory_mb)):
                    report = asyncio.run(
                        _resolve(
                            arguments,
                            deps,
                            first_lines=large("first_lines"),
                            problem_log=problem_log if arguments.report else None,
                            staged=staged,
                            language=language,
                        )
                    )
        except BatchAbortedError as exc:
            # The message is in the language the lines were read in.
            _say_error(language, en=f"{exc} (--strict)", fr=f"{exc} (--strict)")
            return 1
        except _NothingResolvedError as exc:
            report, nothing_resolved = exc.report, True
        except PreparationError as exc:
            _say_error(language, en=f"{exc}; nothing written", fr=f"{exc.fr} ; rien n'a été écrit")
            return 1
        except KeyboardInterrupt as exc:
            _say_error(language, en=_INTERRUPTED, fr=_INTERRUPTED_FR)
            return exc.exit_code if isinstance(exc, StoppedError) else 130
        except OSError as exc:
            # A disk full or a file refused: the output stays as it was.
            _say_error(language, en=f"{exc}; nothing written", fr=f"{os_error(exc, 'fr')} ; rien n'a été écrit")
            return 1
        else:
            nothing_resolved = False
        for problem in report.problems:
            print(problem, file=sys.stderr)
        hidden = report.skipped + report.warnings - len(report.problems)
        if hidden > 0:
            where = f"see {arguments.report}" if arguments.report else "--report FILE writes them all"
            print(
                in_language(
                    language,
                    en=f"… and {hidden:,} more problem{'s' if hidden > 1 else ''}, {where}",
                    fr=_more_problems_fr(hidden, report=arguments.report, can_report=True),
                ),
                file=sys.stderr,
            )
        # Said alike in every language: programs read it.
        summary = {
            "lines": report.lines,
            "resolved": report.resolved,
            "skipped": report.skipped,
            "warnings": report.warnings,
            "outcomes": report.outcomes,
        }
        print(json.dumps(summary), file=sys.stderr)
        try:
            if arguments.report:
                problem_log.seek(0)
                with staged.file(arguments.report) as report_file:
                    _write_report(report_file, summary, problem_log)
            staged.put_in_place()
        except KeyboardInterrupt as exc:
            _say_error(language, en=_INTERRUPTED, fr=_INTERRUPTED_FR)
            return exc.exit_code if isinstance(exc, StoppedError) else 130
        except OSError as exc:
            # Neither is put in place: a new output beside the report of an older run would contradict it.
            _say_error(
                language,
                en=f"--report: {exc}; nothing written",
                fr=f"--report : {os_error(exc, 'fr')} ; rien n'a été écrit",
            )
            return 1
    if nothing_resolved:
        _say_error(language, en=_nothing_resolved(report), fr=_nothing_resolved_fr(report))
        return 1
    return 0


def _nothing_resolved(report: BatchReport) -> str:
    """Why nothing was written. The format is named only when it may be the cause: lines that were records, but none
    of them usable (every one naming nobody, say), are no sign of a wrong format."""
    if report.skipped == 0:
        # A failed export's empty file: written out, its header alone would pass for a result and replace the last one.
        return "the input holds no record, only blank lines if any; nothing written"
    why = (
        ". The input is JSON Lines: one JSON object per line, not a JSON array nor an object spread over several lines"
        if report.unreadable
        else ": the reason each was skipped is above"
    )
    return f"none of the {report.lines:,} lines held a record to resolve; nothing written{why}"


def _nothing_resolved_fr(report: BatchReport) -> str:
    """`_nothing_resolved` in French, which says a single line otherwise than several."""
    if report.skipped == 0:
        return "l'entrée ne contient aucune fiche, tout au plus des lignes vides ; rien n'a été écrit"
    one = report.lines == 1
    if report.unreadable:
        why = (
            ". L'entrée est en JSON Lines : un objet JSON par ligne, ni un tableau JSON ni un objet réparti sur "
            "plusieurs lignes"
        )
    else:
        why = f" : la raison pour laquelle {'elle' if one else 'chacune'} a été écartée est donnée plus haut"
    if one:
        return f"la seule ligne ne contenait aucune fiche à résoudre ; rien n'a été écrit{why}"
    return (
        f"aucune des {format_count(report.lines, 'fr')} lignes ne contenait de fiche à résoudre ; rien n'a été "
        f"écrit{why}"
    )


class _NothingResolvedError(Exception):
    """No line of the input was resolved (every one skipped, or none there): an output of its header alone would pass
    for a result."""

    def __init__(self, report: BatchReport) -> None:
        super().__init__(f"nothing resolved among {report.lines} lines")
        self.report = report


class _StagedFiles:
    """Files each written beside its place, then put in place together once every one is whole: an interruption or
    a failure while any is written leaves every previous file as it was, never a cut one, nor a new output beside
    the report of an older run. A file there already keeps its permissions, and a link there stays a link: the file
    it points to is the one replaced."""

    def __init__(self) -> None:
        self._whole: list[tuple[Path, Path]] = []
        self._partials: list[Path] = []

    @contextlib.contextmanager
    def file(self, path: Path) -> Iterator[IO[str]]:
        target = path.resolve() if path.is_symlink() else path
        partial = target.with_name(f".{target.name}.partial")
        self._partials.append(partial)
        try:
            with partial.open("w", encoding="utf-8", newline="") as written:
                yield written
        except OSError as exc:
            # Said of the file asked for, not of the one beside it.
            raise OSError(exc.errno, exc.strerror, str(path)) from None
        self._whole.append((partial, target))

    def put_in_place(self) -> None:
        for partial, target in self._whole:
            if target.exists():
                shutil.copymode(target, partial)
            partial.replace(target)
        self._whole.clear()

    def discard(self) -> None:
        """Removes what was not put in place."""
        for partial in self._partials:
            partial.unlink(missing_ok=True)
        self._partials.clear()
        self._whole.clear()

    close = discard


@contextlib.contextmanager
def _written_whole(path: Path) -> Iterator[IO[str]]:
    """`path` opened for writing through a file beside it, put in its place once whole (see `_StagedFiles`)."""
    staged = _StagedFiles()
    try:
        with staged.file(path) as written:
            yield written
        staged.put_in_place()
    finally:
        staged.discard()


def _write_report(report: IO[str], summary: dict[str, Any], problem_log: Iterable[str]) -> None:
    """`summary` and every problem of `problem_log` (a JSON string a line) as one JSON object, a line at a time."""
    report.write("{\n")
    for key, value in summary.items():
        report.write(f"  {json.dumps(key)}: {json.dumps(value)},\n")
    report.write('  "problems": [')
    first = True
    for problem in problem_log:
        report.write(("\n    " if first else ",\n    ") + problem.rstrip("\n"))
        first = False
    report.write("]\n}\n" if first else "\n  ]\n}\n")


async def _resolve(
    arguments: argparse.Namespace,
    deps: IdentityDeps,
    *,
    first_lines: MutableMapping[str, int],
    problem_log: IO[str] | None,
    staged: _StagedFiles,
    language: Language,
) -> BatchReport:
    total = arguments.input.stat().st_size
    with (
        prepared_input(
            arguments.input,
            organisation_id=arguments.org,
            policy=deps.rules.policy,
            default_region=deps.rules.default_region,
            today=deps.clock.now().date(),
            cache_entries=cached_entries_within(arguments.memory_mb),
            language=language,
        ) as lines,
        tempfile.TemporaryFile("w+", encoding="utf-8", newline="") as assignments,
    ):
        progress = _progress(total, lambda: lines.bytes_taken, language)

        def show(report: BatchReport) -> None:
            progress.update(report.resolved, _skipped_count(report.skipped, language))

        try:
            # What the run makes is kept to the end or freed as it goes (spilled, resolved): a collection finds nothing
            # to free. At 100,000 people the collections took 3.5 s of 39 (the run, 5% faster without them).
            with collections_paused_keeping_what_is_made():
                report = await resolve_lines(
                    lines,
                    assignments,
                    organisation_id=arguments.org,
                    deps=deps,
                    strict=arguments.strict,
                    progress=show,
                    first_lines=first_lines,
                    problem_log=problem_log,
                    language=language,
                )
        except BaseException:
            progress.abandon()
            raise
        progress.finish(report.resolved, _skipped_count(report.skipped, language))
        if report.resolved == 0:
            raise _NothingResolvedError(report)
        assignments.seek(0)
        # Following each person through later merges reads every record again: on a large history, a long job too.
        written = 0
        writing = _progress(report.resolved, lambda: written, language)

        def what(rows: int) -> str:
            # French agrees with the count the line shows: `1 fiche … écrite`, `2 fiches … écrites`.
            done = "écrite" if is_singular(rows, "fr") else "écrites"
            return in_language(
                language, en=f"written to {arguments.output.name}", fr=f"{done} dans {arguments.output.name}"
            )

        def show_written(rows: int) -> None:
            nonlocal written
            written = rows
            writing.update(rows, what(rows))

        try:
            with staged.file(arguments.output) as output:
                await write_final_assignments(
                    csv.reader(assignments), output, organisation_id=arguments.org, deps=deps, progress=show_written
                )
        except BaseException:
            writing.abandon()
            raise
        writing.finish(written, what(written))
    return report


_ARRAY_ERROR = (
    "error: {path} holds a JSON array written over several lines, not JSON Lines: write one object per line, with no "
    "brackets or commas between (`jq -c '.[]'` does it); nothing read"
)
_ARRAY_ERROR_FR = (
    "erreur : {path} contient un tableau JSON écrit sur plusieurs lignes, et non du JSON Lines : écrivez un objet par "
    "ligne, sans crochets ni virgules entre eux (`jq -c '.[]'` le fait) ; rien n'a été lu"
)
# Refused as the input's other unreadable shapes are (exit 1), not as a misused option (2): the file is wrong.
_UTF16_ERROR = (
    "error: {path} is UTF-16 (as Windows PowerShell's > writes); the input is read as UTF-8: save it as UTF-8, for "
    "instance with Out-File -Encoding utf8; nothing read"
)
_UTF16_ERROR_FR = (
    "erreur : {path} est en UTF-16 (comme l'écrit le > de Windows PowerShell) ; l'entrée est lue en UTF-8 : "
    "enregistrez-le en UTF-8, par exemple avec Out-File -Encoding utf8 ; rien n'a été lu"
)
_UTF32_ERROR = (
    "error: {path} is UTF-32; the input is read as UTF-8: save it as UTF-8, for instance with Out-File -Encoding utf8; "
    "nothing read"
)
_UTF32_ERROR_FR = (
    "erreur : {path} est en UTF-32 ; l'entrée est lue en UTF-8 : enregistrez-le en UTF-8, par exemple avec Out-File "
    "-Encoding utf8 ; rien n'a été lu"
)
_WIDE_ENCODING_ERRORS = {"UTF-16": (_UTF16_ERROR, _UTF16_ERROR_FR), "UTF-32": (_UTF32_ERROR, _UTF32_ERROR_FR)}
_INTERRUPTED = "interrupted; nothing written"
_INTERRUPTED_FR = "interrompu ; rien n'a été écrit"


def _unwritable(
    source: Path,
    *outputs: tuple[str, Path | None],
    read: Sequence[tuple[str, Path | None]] = (),
    language: Language = "en",
) -> str | None:
    """What stops writing the `outputs` (option, path), said in `language` before any work: a missing directory or
    one this user may not write in, a directory in the way, the input itself or another file the command `read`s
    (option, path: a policy, a model; each would be lost), or another output."""

    def refused(option: str, en: str, fr: str) -> str:
        return in_language(language, en=f"error: {option}: {en}", fr=f"erreur : {option} : {fr}")

    written: dict[Path, str] = {source.resolve(): "--input"}
    for option, path in read:
        if path is not None:
            written.setdefault(path.resolve(), option)
    for option, path in outputs:
        if path is None:
            continue
        if path.is_dir():
            return refused(option, f"{path} is a directory", f"{path} est un dossier")
        if path.exists() and not path.is_file():
            # A pipe or a device (`/dev/stdout` piped on): the output is written beside it, then renamed into place.
            return refused(
                option,
                f"{path} is not a regular file (a pipe or a device): name a file",
                f"{path} n'est pas un fichier ordinaire (un tube ou un périphérique) : nommez un fichier",
            )
        try:
            resolved = path.resolve()
        except (RuntimeError, OSError):
            # A loop of links: writing into it would fail (ELOOP) only after the work.
            return refused(
                option, f"{path} is a link that leads back to itself", f"{path} est un lien qui mène à lui-même"
            )
        # Written through a link, into the file it points to (see `_written_whole`).
        target = resolved if path.is_symlink() else path
        if not target.parent.is_dir():
            return refused(option, f"{target.parent} is not a directory", f"{target.parent} n'est pas un dossier")
        # The file is written beside its place and then renamed into it: that takes the directory, not the file.
        if not os.access(target.parent, os.W_OK | os.X_OK):
            return refused(
                option,
                f"{target.parent} is not a directory you may write in",
                f"{target.parent} est un dossier où vous ne pouvez pas écrire",
            )
        same = written.get(resolved)
        if same is not None:
            return refused(
                option,
                f"{path} is also {same}; name another file",
                f"{path} est aussi {same} ; nommez un autre fichier",
            )
        written[resolved] = option
    return None


def _wide_encoding(path: Path) -> str | None:
    with path.open("rb") as start:
        return wide_encoding(start.read(4))


def _an_array_over_lines(path: Path) -> bool:
    with path.open("rb") as raw:
        for line in file_lines(raw):
            text = line.decode("utf-8", errors="replace").lstrip("\ufeff")
            if text.strip():
                return opens_an_array_over_lines(text)
    return False


def _run_estimate(arguments: argparse.Namespace) -> int:
    language = _language(arguments)
    if language is None:
        return 2
    try:
        validate_organisation_id(arguments.org)
    except OrganisationIdError as exc:
        _say_error(language, en=f"--org: {exc}", fr=f"--org : {exc.fr}")
        return 2
    if not arguments.input.is_file():
        _say_error(language, en=f"{arguments.input} is not a file", fr=f"{arguments.input} n'est pas un fichier")
        return 2
    if (encoding := _wide_encoding(arguments.input)) is not None:
        en, fr = _WIDE_ENCODING_ERRORS[encoding]
        print(in_language(language, en=en, fr=fr).format(path=arguments.input), file=sys.stderr)
        return 1
    if _an_array_over_lines(arguments.input):
        print(in_language(language, en=_ARRAY_ERROR, fr=_ARRAY_ERROR_FR).format(path=arguments.input), file=sys.stderr)
        return 1
    # The estimate may replace the model it starts from (`--output` as `--model`), never the policy.
    if (
        problem := _unwritable(
            arguments.input,
            ("--output", arguments.output),
            ("--report", arguments.report),
            read=(("--policy", arguments.policy),),
            language=language,
        )
    ) is not None or (
        # Nor may the report replace the model the estimate starts from.
        problem := _unwritable(
            arguments.input,
            ("--report", arguments.report),
            read=(("--policy", arguments.policy), ("--model", arguments.model)),
            language=language,
        )
    ) is not None:
        print(problem, file=sys.stderr)
        return 2
    for option, value in (("--random-pairs", arguments.random_pairs), ("--max-iterations", arguments.max_iterations)):
        if value < 1:
            _say_error(
                language,
                en=f"{option} should be at least 1, not {value}",
                fr=f"{option} doit valoir au moins 1, pas {value}",
            )
            return 2
    settings = IdentitySettings()
    start_path = arguments.model or settings.match_model_path()
    policy_path = arguments.policy or settings.policy_path()
    try:
        configured = load_match_settings(read_config_file(start_path), file_name=str(start_path))
        policy = load_identifier_policy(read_config_file(policy_path), file_name=str(policy_path))
    except ConfigFileError as exc:
        _say_error(language, en=str(exc), fr=exc.said_in("fr"))
        return 2
    except OSError as exc:
        _say_error(language, en=str(exc), fr=os_error(exc, "fr"))
        return 2
    # Every problem waits on disk for the report file, however many there are; the terminal shows the first ones.
    with tempfile.TemporaryFile("w+", encoding="utf-8", prefix="parterre-problems-") as problem_log:
        tally = LineTally(language=language, problem_log=problem_log if arguments.report else None)
        return _estimated(arguments, configured, policy, tally, settings.identity_default_region, problem_log)


def _estimated(
    arguments: argparse.Namespace,
    configured: Matching,
    policy: IdentifierPolicy,
    tally: LineTally,
    default_region: str,
    problem_log: IO[str],
) -> int:
    """Estimates, then writes the model file when the estimate is one, and the report when asked; the exit code."""
    language = tally.language
    try:
        report = _estimate(arguments, configured, policy, tally, default_region)
    except NotEnoughDataError as exc:
        _print_problems(tally, arguments.report)
        _say_error(language, en=f"{exc}; nothing written", fr=f"{exc.fr} ; rien n'a été écrit")
        counts = {"lines": tally.lines, "records": tally.records, "skipped": tally.skipped, "warnings": tally.warnings}
        return _put_in_place(arguments, counts, problem_log, None, language) or 1
    except KeyboardInterrupt:
        _say_error(language, en=_INTERRUPTED, fr=_INTERRUPTED_FR)
        return 130
    _print_problems(tally, arguments.report)
    # Said alike in every language: programs read it.
    summary = {
        "lines": tally.lines,
        "records": report.records,
        "skipped": tally.skipped,
        "warnings": tally.warnings,
        "random_pairs": report.random_pairs,
        "blocked_pairs": report.blocked_pairs,
        "blocks_share": report.blocks_share,
        "iterations": report.iterations,
        "converged": report.converged,
        "blocked_match_share": round(report.blocked_match_share, 6),
    }
    if not report.converged:
        iterations = "itération" if is_singular(report.iterations, "fr") else "itérations"
        _say_error(
            language,
            en=f"EM did not converge in {report.iterations} iterations on {report.blocked_pairs:,} blocked "
            "pairs: its m would not be an estimate; nothing written (try more --max-iterations)",
            fr=f"l'EM n'a pas convergé en {report.iterations} {iterations} sur "
            f"{format_count(report.blocked_pairs, 'fr')} paires bloquées : son m ne serait pas une estimation ; rien "
            "n'a été écrit (essayez un --max-iterations plus grand)",
        )
        print(json.dumps(summary), file=sys.stderr)
        return _put_in_place(arguments, summary, problem_log, None, language) or 1
    failed = _put_in_place(
        arguments, summary, problem_log, _model_file(report, configured, arguments.input.name), language
    )
    if failed is not None:
        return failed
    print(
        in_language(language, en=f"wrote {arguments.output}", fr=f"fichier écrit : {arguments.output}"), file=sys.stderr
    )
    print(json.dumps(summary), file=sys.stderr)
    return 0


def _put_in_place(
    arguments: argparse.Namespace,
    summary: dict[str, Any],
    problem_log: IO[str],
    model_text: str | None,
    language: Language,
) -> int | None:
    """Writes the model file (when there is one) and the report (when asked) beside their places, then puts them in
    place together; the exit code when that failed, else None. A report is written when no model is too: it says
    why, line by line."""
    staged = _StagedFiles()
    try:
        with contextlib.closing(staged):
            if model_text is not None:
                # The file is read back as identity will read it before it replaces anything.
                load_match_settings(model_text, file_name=str(arguments.output))
                with staged.file(arguments.output) as output:
                    output.write(model_text)
            if arguments.report:
                problem_log.seek(0)
                with staged.file(arguments.report) as report_file:
                    _write_report(report_file, summary, problem_log)
            staged.put_in_place()
    except KeyboardInterrupt:
        _say_error(language, en=_INTERRUPTED, fr=_INTERRUPTED_FR)
        return 130
    except OSError as exc:
        _say_error(language, en=f"{exc}; nothing written", fr=f"{os_error(exc, 'fr')} ; rien n'a été écrit")
        return 1
    except ConfigFileError as exc:
        # The model would not read back as identity reads it: nothing replaces the file the organisation has.
        _say_error(language, en=f"{exc}; nothing written", fr=f"{exc.said_in('fr')} ; rien n'a été écrit")
        return 1
    return None


def _estimate(
    arguments: argparse.Namespace,
    configured: Matching,
    policy: IdentifierPolicy,
    tally: LineTally,
    default_region: str,
) -> EstimationReport:
    total = arguments.input.stat().st_size
    language = tally.language
    with arguments.input.open("rb") as raw:
        progress = _progress(total, raw.tell, language)

        def lines() -> Iterator[bytes]:
            for line in file_lines(raw):
                yield line
                # Every line, those skipped too: a long run of lines skipped shows its progress as well.
                progress.update(tally.records, _skipped_count(tally.skipped, language))
            progress.finish(tally.records, _skipped_count(tally.skipped, language))
            print(
                in_language(
                    language,
                    en="comparing random and blocked pairs, then EM…",
                    fr="comparaison des paires aléatoires et des paires bloquées, puis EM…",
                ),
                file=sys.stderr,
            )

        records = records_of_lines(
            lines(),
            tally,
            today=datetime.now(UTC).date(),
            default_region=default_region,
            policy=policy,
            organisation_id=arguments.org,
        )
        try:
            return estimate_from_records(
                records,
                start=configured.model,
                sample_pairs=arguments.random_pairs,
                seed=arguments.seed,
                max_iterations=arguments.max_iterations,
            )
        except BaseException:
            progress.abandon()
            raise


def _print_problems(tally: LineTally, report: Path | None) -> None:
    for problem in tally.problems:
        print(problem, file=sys.stderr)
    hidden = tally.skipped + tally.warnings - len(tally.problems)
    if hidden > 0:
        where = f"see {report}" if report else "--report FILE writes them all"
        print(
            in_language(
                tally.language,
                en=f"… and {hidden:,} more problem{'s' if hidden > 1 else ''}, {where}",
                fr=_more_problems_fr(hidden, report=report, can_report=True),
            ),
            file=sys.stderr,
        )


def _model_file(report: EstimationReport, configured: Matching, input_name: str) -> str:
    # One comment line: a character that does not print (a newline in the file's name) is written escaped.
    shown = "".join(character if character.isprintable() else repr(character)[1:-1] for character in input_name)
    header = (
        f"# Estimated by `parterre identity estimate` from {shown} ({report.records:,} records): u from\n"
        f"# {report.random_pairs:,} random pairs, m by EM on {report.blocked_pairs:,} blocked pairs "
        f"({report.iterations} iterations).\n"
        "# The bands and the prior are those of the model it started from.\n"
    )
    bands = {"link_at": configured.bands.link_at, "review_at": configured.bands.review_at}
    return header + yaml.safe_dump({"bands": bands, "model": report.model.to_dict()}, sort_keys=False)
