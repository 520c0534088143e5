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


def _run_sweep(_arguments: argparse.Namespace) -> int:
    settings = ProfileSettings()
    try:
        rules = load_rules(settings)
    except (ConfigFileError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        report = asyncio.run(_sweep(settings, rules))
    except KafkaError as exc:
        print(f"error: Kafka: {exc}; running the command again sweeps on from where this one stopped", file=sys.stderr)
        return 1
    except PyMongoError as exc:
        print(
            f"error: the store: {exc}; running the command again sweeps on from where this one stopped", file=sys.stderr
        )
        return 1
    outcomes = ", ".join(f"{count:,} {outcome}" for outcome, count in sorted(report.outcomes.items())) or "none"
    print(f"swept {report.slots:,} slots of time; profiles visited: {outcomes}")
    if failed := report.outcomes.get("failed", 0):
        print(
            f"error: {failed:,} profiles could not be visited (see above); they are filed again, for a sweep to try"
            " again in a quarter of an hour, and less often after each failure in a row (a day apart at most)",
            file=sys.stderr,
        )
        return 1
    return 0


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


async def _sweep(settings: ProfileSettings, rules: ProfileRules) -> SweepReport:
    async with _publishing_context(settings, rules) as context:
        now = context.deps.clock.now()
        position = await context.deps.store.sweep_position() or slot_of(now)
        slots = sum(1 for _ in slots_to_sweep(position, now))
        return await with_progress(
            lambda show: sweep_once(context, progress=show),
            total=slots,
            unit="profiles",
            done=lambda report: report.visited,
            details=lambda report: f"{report.slots:,} of {slots:,} slots",
            position=lambda report: report.slots,
        )


def _run_reindex(arguments: argparse.Namespace) -> int:
    if not organisation_option_accepted(arguments.organisation):
        return 2
    try:
        report = asyncio.run(_reindex(ProfileSettings(), arguments.organisation))
    except PyMongoError as exc:
        print(f"error: the store: {exc}; running the command again files what this one did not", file=sys.stderr)
        return 1
    print(f"visited {report.profiles:,} profiles; filed {report.filed:,} missing look-up keys")
    return 0


async def _reindex(settings: ProfileSettings, organisation_id: str | None) -> ReindexReport:
    async with mongo_client(settings.mongo_url, app_name="parterre-cli") as client:
        store = MongoProfileStore(client[settings.mongo_database], compressed_states=settings.profile_compressed_states)
        return await with_progress(
            lambda show: reindex_lookups(store, organisation_id, progress=show),
            total=await store.count_profiles(organisation_id),
            unit="profiles",
            done=lambda report: report.profiles,
            details=lambda report: f"{report.filed:,} keys filed",
        )


def _run_recompute(arguments: argparse.Namespace) -> int:
    if not organisation_option_accepted(arguments.organisation):
        return 2
    if arguments.resume is not None and not RECOMPUTE_RUN.fullmatch(arguments.resume):
        print(
            f"error: --resume: {arguments.resume!r} names no run: a run is named as it begins, on the first line it "
            "writes, e.g. 20261203T195200Z-1a2b3c4d",
            file=sys.stderr,
        )
        return 2
    # A run storing every profile is named so: carried on, it goes on doing so, and one that did not cannot begin.
    store_all = arguments.store_all or (arguments.resume is not None and arguments.resume.endswith(STORING_ALL))
    if arguments.resume is not None and store_all and not arguments.resume.endswith(STORING_ALL):
        print(
            f"error: --store-all: the run {arguments.resume} did not store every profile: carry it on without "
            "--store-all, then begin a new run with it",
            file=sys.stderr,
        )
        return 2
    settings = ProfileSettings()
    try:
        rules = load_rules(settings)
    except (ConfigFileError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    run = arguments.resume or new_recompute_run(SystemClock().now(), store_all=store_all)
    # Said first: a run cut short (Kafka or the store away, the command stopped) is carried on by name.
    print(f"recompute run {run}; should it be cut short, carry it on with --resume {run}", file=sys.stderr)
    try:
        report = asyncio.run(_recompute(settings, rules, arguments.organisation, run, store_all=store_all))
    except KafkaError as exc:
        print(f"error: Kafka: {exc}; carry the run on with --resume {run}", file=sys.stderr)
        return 1
    except PyMongoError as exc:
        print(f"error: the store: {exc}; carry the run on with --resume {run}", file=sys.stderr)
        return 1
    print(recompute_summary(report, resumed=arguments.resume is not None))
    if report.failed:
        print(
            f"error: {report.failed:,} profiles could not be recomputed (see above); "
            + (
                f"carrying the run on with --resume {run} stores them"
                if store_all
                else "running the command again recomputes them"
            ),
            file=sys.stderr,
        )
        return 1
    return 0


def recompute_summary(report: RecomputeReport, *, resumed: bool = False) -> str:
    """The line a run ends with: what became of each profile visited, and for a run carried on (`resumed`) that
    found none of its changes, why that may be."""
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


async def _recompute(
    settings: ProfileSettings, rules: ProfileRules, organisation_id: str | None, run: str, *, store_all: bool = False
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
            unit="profiles",
            done=lambda report: report.visited,
            details=lambda report: (
                f"{report.recomputed:,} recomputed" + (f", {report.stored_again:,} stored again" if store_all else "")
            ),
        )
