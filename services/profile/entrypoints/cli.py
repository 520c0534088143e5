"""`parterre profile sweep`: visit now the profiles that time alone has changed, as the service does every minute;
`parterre profile reindex-lookups`: file stored profiles under the look-up keys they are missing;
`parterre profile recompute`: fold stored profiles again from their facts, for what the fold learnt since."""

import argparse
import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from typing import Any

from aiokafka.errors import KafkaError
from prometheus_client import CollectorRegistry
from pymongo.errors import PyMongoError

from services.profile.adapters.mongo import MongoProfileStore
from services.profile.context import ProfileContext, ProfileMetrics, SystemClock, load_rules
from services.profile.domain.schedule import slot_of, slots_to_sweep
from services.profile.entrypoints.sweeper import sweep_once
from services.profile.handlers import (
    RECOMPUTE_RUN,
    STORING_ALL,
    ProfileDeps,
    ProfileRules,
    RecomputeReport,
    ReindexReport,
    SweepReport,
    new_recompute_run,
    recompute_profiles,
    reindex_lookups,
)
from services.profile.settings import ProfileSettings
from shared.bilingual import format_count, french_count, in_language, language_of_environment, os_error, quoted
from shared.events import Language
from shared.kafka import BulkKafkaPublisher
from shared.mongo import mongo_client
from shared.progress import with_progress
from shared.tokens import organisation_option_accepted
from shared.yaml_models import ConfigFileError


def register(commands: Any) -> None:
    profile = commands.add_parser("profile", help="the audience profiles").add_subparsers(dest="action", required=True)
    sweep = profile.add_parser(
        "sweep",
        help="visit now the profiles time alone has changed (lapsed, consent expiring, renewal due)",
        description="The profile service sweeps every `PARTERRE_PROFILE_SWEEP_INTERVAL_SECONDS`; this runs one "
        "sweep at once, for example to catch up after a long stop. Publishes what changed to Kafka, and records "
        "today's segment sizes (for their trends) unless a sweep recorded them already.",
    )
    sweep.set_defaults(run=_run_sweep)
    reindex = profile.add_parser(
        "reindex-lookups",
        help="file every stored profile under the look-up keys it is missing (names' sounds, upstream ids alone, "
        "emails as identity links them)",
        description="Profiles stored before a kind of look-up key existed cannot be found by it (the search box "
        "finds them by name through these keys) until they change again. This walks the stored profiles and files "
        "each under the keys it is missing; running it again files nothing. The service may keep running.",
    )
    reindex.add_argument("--organisation", metavar="ORG", help="only this organisation's profiles (default: all)")
    reindex.set_defaults(run=_run_reindex)
    recompute = profile.add_parser(
        "recompute",
        help="fold every stored profile again from its facts, for what the fold learnt since it was stored (after an "
        "upgrade whose notes say profiles learn something new), and judge it by the segments and triggers files as "
        "they are now (after an edit of them)",
        description="A profile is folded from its facts as they arrive: what a release teaches the fold (a new field, "
        "such as the addresses that bounced hard) reaches the profiles stored before only when they are folded "
        "again. This walks the stored profiles and folds each again from its facts and those of the profiles merged "
        "into it (a profile merged into another is left to that one); each profile that changes is stored and "
        "announced on Kafka as any change is, and no trigger fires. Running it again changes nothing. The service "
        "may keep running.",
    )
    recompute.add_argument("--organisation", metavar="ORG", help="only this organisation's profiles (default: all)")
    recompute.add_argument(
        "--resume",
        metavar="RUN",
        help="carry on the run RUN (named on the first line it wrote) that was cut short: what it stored is "
        "announced again, with the same ids, for the profiles that have not changed since, and the profiles it did "
        "not reach are recomputed",
    )
    recompute.add_argument(
        "--store-all",
        action="store_true",
        help="store every profile again, those the run does not change and those merged into another too, in the "
        "form PARTERRE_PROFILE_COMPRESSED_STATES sets, announcing nothing for them: with it false (set on every "
        "running profile service first), the way back to a release before 2026-12, which reads only the uncompressed "
        "form. The run's name ends with -all: carried on with --resume, it stores every profile still",
    )
    recompute.set_defaults(run=_run_recompute)


# What became of a profile a sweep visited, as French says it (singular, plural); an outcome it does not name yet is
# shown as the service counts it.
_SWEEP_OUTCOMES_FR = {
    "swept": ("balayé", "balayés"),
    "refiled": ("reporté", "reportés"),
    "erased_person": ("effacé", "effacés"),
    "failed": ("en échec", "en échec"),
    "unchanged": ("inchangé", "inchangés"),
    "republished": ("annoncé de nouveau", "annoncés de nouveau"),
    "duplicate": ("déjà visité", "déjà visités"),
}


def _say_error(language: Language, *, en: str, fr: str) -> None:
    print(in_language(language, en=f"error: {en}", fr=f"erreur : {fr}"), file=sys.stderr)


def _loaded_rules(settings: ProfileSettings, language: Language) -> ProfileRules | None:
    """The segments and triggers files, or None after saying, in `language`, what is wrong with one of them."""
    try:
        return load_rules(settings)
    except ConfigFileError as exc:
        _say_error(language, en=str(exc), fr=exc.said_in("fr"))
    except OSError as exc:
        _say_error(language, en=str(exc), fr=os_error(exc, "fr"))
    return None


def _run_sweep(_arguments: argparse.Namespace) -> int:
    language = language_of_environment()
    settings = ProfileSettings()
    if (rules := _loaded_rules(settings, language)) is None:
        return 2
    try:
        report = asyncio.run(_sweep(settings, rules, language))
    except KafkaError as exc:
        _say_error(
            language,
            en=f"Kafka: {exc}; running the command again sweeps on from where this one stopped",
            fr=f"Kafka : {exc} ; relancer la commande reprend le balayage là où celle-ci s'est arrêtée",
        )
        return 1
    except PyMongoError as exc:
        _say_error(
            language,
            en=f"the store: {exc}; running the command again sweeps on from where this one stopped",
            fr=f"la base de données : {exc} ; relancer la commande reprend le balayage là où celle-ci s'est arrêtée",
        )
        return 1
    print(sweep_summary(report, language))
    if failed := report.outcomes.get("failed", 0):
        if failed == 1:
            who, filed, tried = "1 profil n'a pas pu être visité", "il est classé", "l'essaie"
        else:
            who = f"{format_count(failed, 'fr')} profils n'ont pas pu être visités"
            filed, tried = "ils sont classés", "les essaie"
        _say_error(
            language,
            en=f"{failed:,} profiles could not be visited (see above); they are filed again, for a sweep to try"
            " again in a quarter of an hour, and less often after each failure in a row (a day apart at most)",
            fr=f"{who} (voir plus haut) ; {filed} de nouveau, pour qu'un balayage {tried} encore dans un quart "
            "d'heure, puis moins souvent après chaque échec consécutif (un jour d'écart au plus)",
        )
        return 1
    return 0


def sweep_summary(report: SweepReport, language: Language = "en") -> str:
    """The line a sweep ends with: the slots of time it swept, and what became of each profile visited."""
    if language == "en":
        outcomes = ", ".join(f"{count:,} {outcome}" for outcome, count in sorted(report.outcomes.items())) or "none"
        return f"swept {report.slots:,} slots of time; profiles visited: {outcomes}"
    said = []
    for outcome, count in sorted(report.outcomes.items()):
        one, more = _SWEEP_OUTCOMES_FR.get(outcome, (outcome, outcome))
        said.append(french_count(count, one, more))
    slots = french_count(report.slots, "tranche de temps balayée", "tranches de temps balayées")
    return f"{slots} ; profils visités : {', '.join(said) or 'aucun'}"


@contextlib.asynccontextmanager
async def _publishing_context(settings: ProfileSettings, rules: ProfileRules) -> AsyncIterator[ProfileContext]:
    """The service's context for a command that changes profiles: the store, and Kafka for what it announces."""
    async with mongo_client(settings.mongo_url, app_name="parterre-cli") as client:
        store = MongoProfileStore(client[settings.mongo_database], compressed_states=settings.profile_compressed_states)
        deps = ProfileDeps(store=store, rules=rules, clock=SystemClock())
        publisher = BulkKafkaPublisher(settings)
        await publisher.start()
        try:
            yield ProfileContext(settings, deps, publisher, ProfileMetrics(CollectorRegistry()))
        finally:
            await publisher.stop()


async def _sweep(settings: ProfileSettings, rules: ProfileRules, language: Language = "en") -> SweepReport:
    async with _publishing_context(settings, rules) as context:
        now = context.deps.clock.now()
        position = await context.deps.store.sweep_position() or slot_of(now)
        slots = sum(1 for _ in slots_to_sweep(position, now))
        return await with_progress(
            lambda show: sweep_once(context, progress=show),
            total=slots,
            unit=in_language(language, en="profiles", fr="profils"),
            unit_one=in_language(language, en="profiles", fr="profil"),
            language=language,
            done=lambda report: report.visited,
            details=lambda report: slots_swept(report.slots, slots, language),
            position=lambda report: report.slots,
        )


def slots_swept(done: int, slots: int, language: Language) -> str:
    """How far a sweep has got, for its progress line: `3 of 96 slots`, `1 tranche sur 96`."""
    return in_language(
        language,
        en=f"{done:,} of {slots:,} slots",
        fr=f"{french_count(done, 'tranche', 'tranches')} sur {format_count(slots, 'fr')}",
    )


def _run_reindex(arguments: argparse.Namespace) -> int:
    language = language_of_environment()
    if not organisation_option_accepted(arguments.organisation, language):
        return 2
    try:
        report = asyncio.run(_reindex(ProfileSettings(), arguments.organisation, language))
    except PyMongoError as exc:
        _say_error(
            language,
            en=f"the store: {exc}; running the command again files what this one did not",
            fr=f"la base de données : {exc} ; relancer la commande ajoute ce que celle-ci n'a pas ajouté",
        )
        return 1
    keys = french_count(report.filed, "clé de recherche manquante ajoutée", "clés de recherche manquantes ajoutées")
    print(
        in_language(
            language,
            en=f"visited {report.profiles:,} profiles; filed {report.filed:,} missing look-up keys",
            fr=f"{french_count(report.profiles, 'profil visité', 'profils visités')} ; {keys}",
        )
    )
    return 0


async def _reindex(settings: ProfileSettings, organisation_id: str | None, language: Language = "en") -> ReindexReport:
    async with mongo_client(settings.mongo_url, app_name="parterre-cli") as client:
        store = MongoProfileStore(client[settings.mongo_database], compressed_states=settings.profile_compressed_states)
        return await with_progress(
            lambda show: reindex_lookups(store, organisation_id, progress=show),
            total=await store.count_profiles(organisation_id),
            unit=in_language(language, en="profiles", fr="profils"),
            unit_one=in_language(language, en="profiles", fr="profil"),
            language=language,
            done=lambda report: report.profiles,
            details=lambda report: in_language(
                language,
                en=f"{report.filed:,} keys filed",
                fr=french_count(report.filed, "clé ajoutée", "clés ajoutées"),
            ),
        )


def _run_recompute(arguments: argparse.Namespace) -> int:
    language = language_of_environment()
    if not organisation_option_accepted(arguments.organisation, language):
        return 2
    if arguments.resume is not None and not RECOMPUTE_RUN.fullmatch(arguments.resume):
        _say_error(
            language,
            en=f"--resume: {arguments.resume!r} names no run: a run is named as it begins, on the first line it "
            "writes, e.g. 20261203T195200Z-1a2b3c4d",
            fr=f"--resume : {quoted(arguments.resume, 'fr')} ne nomme aucune exécution : une exécution est nommée dès "
            "son début, sur la première ligne qu'elle écrit, par exemple 20261203T195200Z-1a2b3c4d",
        )
        return 2
    # A run storing every profile is named so: carried on, it goes on doing so, and one that did not cannot begin.
    store_all = arguments.store_all or (arguments.resume is not None and arguments.resume.endswith(STORING_ALL))
    if arguments.resume is not None and store_all and not arguments.resume.endswith(STORING_ALL):
        _say_error(
            language,
            en=f"--store-all: the run {arguments.resume} did not store every profile: carry it on without "
            "--store-all, then begin a new run with it",
            fr=f"--store-all : l'exécution {arguments.resume} n'enregistrait pas tous les profils : poursuivez-la sans "
            "--store-all, puis commencez-en une nouvelle avec cette option",
        )
        return 2
    settings = ProfileSettings()
    if (rules := _loaded_rules(settings, language)) is None:
        return 2
    run = arguments.resume or new_recompute_run(SystemClock().now(), store_all=store_all)
    # Said first: a run cut short (Kafka or the store away, the command stopped) is carried on by name.
    print(
        in_language(
            language,
            en=f"recompute run {run}; should it be cut short, carry it on with --resume {run}",
            fr=f"exécution du recalcul {run} ; si elle est interrompue, poursuivez-la avec --resume {run}",
        ),
        file=sys.stderr,
    )
    try:
        report = asyncio.run(
            _recompute(settings, rules, arguments.organisation, run, store_all=store_all, language=language)
        )
    except KafkaError as exc:
        _say_error(
            language,
            en=f"Kafka: {exc}; carry the run on with --resume {run}",
            fr=f"Kafka : {exc} ; poursuivez l'exécution avec --resume {run}",
        )
        return 1
    except PyMongoError as exc:
        _say_error(
            language,
            en=f"the store: {exc}; carry the run on with --resume {run}",
            fr=f"la base de données : {exc} ; poursuivez l'exécution avec --resume {run}",
        )
        return 1
    print(recompute_summary(report, resumed=arguments.resume is not None, language=language))
    if report.failed:
        if report.failed == 1:
            who, them = "1 profil n'a pas pu être recalculé", "l'"
        else:
            who, them = f"{format_count(report.failed, 'fr')} profils n'ont pas pu être recalculés", "les "
        _say_error(
            language,
            en=f"{report.failed:,} profiles could not be recomputed (see above); "
            + (
                f"carrying the run on with --resume {run} stores them"
                if store_all
                else "running the command again recomputes them"
            ),
            fr=f"{who} (voir plus haut) ; "
            + (
                f"poursuivre l'exécution avec --resume {run} {them}enregistre"
                if store_all
                else f"relancer la commande {'le ' if report.failed == 1 else 'les '}recalcule"
            ),
        )
        return 1
    return 0


def recompute_summary(report: RecomputeReport, *, resumed: bool = False, language: Language = "en") -> str:
    """The line a run ends with: what became of each profile visited, and for a run carried on (`resumed`) that
    found none of its changes, why that may be."""
    if language == "fr":
        return _recompute_summary_fr(report, resumed=resumed)
    outcomes = [f"{report.recomputed:,} recomputed", f"{report.unchanged:,} unchanged"]
    if report.announced_again:
        outcomes.append(f"{report.announced_again:,} recomputed before the run was cut short, announced again")
    if report.stored_again:
        outcomes.append(f"{report.stored_again:,} stored again as they were")
    outcomes.append(
        f"{report.skipped:,} skipped ({report.merged_away:,} merged into another profile, {report.erased:,} erased)"
    )
    if report.failed:
        outcomes.append(f"{report.failed:,} failed")
    summary = f"visited {report.visited:,} profiles: " + ", ".join(outcomes)
    # A run's name cannot be checked: one cut short before it stored anything left no trace. A mistyped name
    # recomputes as well, but would not announce again what the named run stored. A profile that failed was not read
    # to the end: it may hold one of the run's changes, so nothing can be said then.
    if resumed and not report.announced_again and not report.stored_again and not report.failed:
        summary += (
            "; no profile still holds a change of this run: it stored none before it was cut short, the profiles it "
            "changed have changed again since, or --resume or --organisation is not what the run began with (its "
            "first line gives its name)"
        )
    return summary


def _recompute_summary_fr(report: RecomputeReport, *, resumed: bool) -> str:
    """`recompute_summary` in French, whose words agree with their counts."""
    outcomes = [
        french_count(report.recomputed, "recalculé", "recalculés"),
        french_count(report.unchanged, "inchangé", "inchangés"),
    ]
    if report.announced_again:
        outcomes.append(
            french_count(
                report.announced_again,
                "recalculé avant l'interruption de l'exécution, annoncé de nouveau",
                "recalculés avant l'interruption de l'exécution, annoncés de nouveau",
            )
        )
    if report.stored_again:
        outcomes.append(
            french_count(report.stored_again, "enregistré de nouveau tel quel", "enregistrés de nouveau tels quels")
        )
    merged = french_count(report.merged_away, "fusionné dans un autre profil", "fusionnés dans un autre profil")
    erased = french_count(report.erased, "effacé", "effacés")
    outcomes.append(f"{french_count(report.skipped, 'écarté', 'écartés')} ({merged}, {erased})")
    if report.failed:
        outcomes.append(french_count(report.failed, "en échec", "en échec"))
    summary = f"{french_count(report.visited, 'profil visité', 'profils visités')} : " + ", ".join(outcomes)
    if resumed and not report.announced_again and not report.stored_again and not report.failed:
        summary += (
            " ; aucun profil ne porte encore de changement de cette exécution : elle n'en avait enregistré aucun "
            "avant d'être interrompue, les profils qu'elle a changés ont changé de nouveau depuis, ou --resume ou "
            "--organisation n'est pas celui avec lequel elle a commencé (sa première ligne donne son nom)"
        )
    return summary


async def _recompute(
    settings: ProfileSettings,
    rules: ProfileRules,
    organisation_id: str | None,
    run: str,
    *,
    store_all: bool = False,
    language: Language = "en",
) -> RecomputeReport:
    async with _publishing_context(settings, rules) as context:
        return await with_progress(
            lambda show: recompute_profiles(
                context.deps,
                organisation_id,
                run,
                context.publish,
                concurrency=settings.profile_consumer_concurrency,
                progress=show,
                store_all=store_all,
            ),
            total=await context.deps.store.count_profiles(organisation_id),
            unit=in_language(language, en="profiles", fr="profils"),
            unit_one=in_language(language, en="profiles", fr="profil"),
            language=language,
            done=lambda report: report.visited,
            details=lambda report: in_language(
                language,
                en=f"{report.recomputed:,} recomputed"
                + (f", {report.stored_again:,} stored again" if store_all else ""),
                fr=french_count(report.recomputed, "recalculé", "recalculés")
                + (
                    ", " + french_count(report.stored_again, "enregistré de nouveau", "enregistrés de nouveau")
                    if store_all
                    else ""
                ),
            ),
        )
