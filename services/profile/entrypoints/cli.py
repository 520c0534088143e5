"""`parterre profile sweep`: visit now the profiles that time alone has changed, as the service does every minute;
`parterre profile reindex-lookups`: file stored profiles under the look-up keys they are missing."""

import argparse
import asyncio
import sys
from typing import Any

from prometheus_client import CollectorRegistry

from services.profile.adapters.mongo import MongoProfileStore
from services.profile.context import ProfileContext, ProfileMetrics, SystemClock, load_rules
from services.profile.domain.schedule import slot_of, slots_to_sweep
from services.profile.entrypoints.sweeper import sweep_once
from services.profile.handlers import ProfileDeps, ProfileRules, ReindexReport, SweepReport, reindex_lookups
from services.profile.settings import ProfileSettings
from shared.kafka import BulkKafkaPublisher
from shared.mongo import mongo_client
from shared.progress import with_progress
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


def _run_sweep(_arguments: argparse.Namespace) -> int:
    settings = ProfileSettings()
    try:
        rules = load_rules(settings)
    except (ConfigFileError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    report = asyncio.run(_sweep(settings, rules))
    outcomes = ", ".join(f"{count:,} {outcome}" for outcome, count in sorted(report.outcomes.items())) or "none"
    print(f"swept {report.slots:,} slots of time; profiles visited: {outcomes}")
    return 0


async def _sweep(settings: ProfileSettings, rules: ProfileRules) -> SweepReport:
    async with mongo_client(settings.mongo_url, app_name="parterre-cli") as client:
        store = MongoProfileStore(client[settings.mongo_database])
        deps = ProfileDeps(store=store, rules=rules, clock=SystemClock())
        publisher = BulkKafkaPublisher(settings)
        await publisher.start()
        try:
            context = ProfileContext(settings, deps, publisher, ProfileMetrics(CollectorRegistry()))
            now = deps.clock.now()
            position = await store.sweep_position() or slot_of(now)
            slots = sum(1 for _ in slots_to_sweep(position, now))
            return await with_progress(
                lambda show: sweep_once(context, progress=show),
                total=slots,
                unit="profiles",
                done=lambda report: report.visited,
                details=lambda report: f"{report.slots:,} of {slots:,} slots",
                position=lambda report: report.slots,
            )
        finally:
            await publisher.stop()


def _run_reindex(arguments: argparse.Namespace) -> int:
    report = asyncio.run(_reindex(ProfileSettings(), arguments.organisation))
    print(f"visited {report.profiles:,} profiles; filed {report.filed:,} missing look-up keys")
    return 0


async def _reindex(settings: ProfileSettings, organisation_id: str | None) -> ReindexReport:
    async with mongo_client(settings.mongo_url, app_name="parterre-cli") as client:
        store = MongoProfileStore(client[settings.mongo_database])
        return await with_progress(
            lambda show: reindex_lookups(store, organisation_id, progress=show),
            total=await store.count_profiles(organisation_id),
            unit="profiles",
            done=lambda report: report.profiles,
            details=lambda report: f"{report.filed:,} keys filed",
        )
