"""Builds the profile service: settings, clients, adapters, subscriber and routes; nothing happens at import."""

import asyncio

from fastapi import FastAPI

from services.profile.adapters.mongo import INDEXES, MongoProfileStore
from services.profile.context import ProfileContext, ProfileMetrics, SystemClock, load_rules
from services.profile.domain.schedule import slot_of
from services.profile.entrypoints.consumer import handle_resolution, handle_resolutions
from services.profile.entrypoints.http import router
from services.profile.entrypoints.overview import router as overview_router
from services.profile.entrypoints.sweeper import sweep_forever
from services.profile.handlers import Clock, ProfileDeps, RecentProfiles
from services.profile.settings import ProfileSettings
from shared.events import Envelope
from shared.kafka import ConsumedRecord, KafkaPublisher
from shared.service import Runtime, ServiceParts, create_service_app, subscribe_to_events
from shared.tasks import cancel_and_wait
from shared.topics import CONSUMER_GROUPS, IDENTITY_RESOLUTIONS

PROFILE_GROUP = next(group for group in CONSUMER_GROUPS if group.service == "profile")
# Every route the service answers: the app and the tests of its routes take them from here, so neither misses one.
ROUTERS = (router, overview_router)


def create_app(
    settings: ProfileSettings | None = None,
    *,
    resolutions_topic: str = IDENTITY_RESOLUTIONS.name,
    group_id: str = PROFILE_GROUP.group_id,
    clock: Clock | None = None,
) -> FastAPI:
    """The profile service; the topic and group default to the catalog's (tests isolate themselves, and move
    time on with a clock of their own)."""
    profile_settings = settings or ProfileSettings()
    # Read before anything connects: a bad segments or triggers file stops the start with the line to fix.
    rules = load_rules(profile_settings)
    sweeping: list[asyncio.Task[None]] = []

    def wire(runtime: Runtime) -> None:
        recent = RecentProfiles(
            profile_settings.profile_kept_profiles, memory_bytes=profile_settings.profile_kept_profiles_mb * 1024 * 1024
        )
        metrics.kept_profiles.set_function(lambda: len(recent))
        metrics.kept_profiles_bytes.set_function(lambda: recent.kept_bytes)
        context = ProfileContext(
            settings=profile_settings,
            deps=ProfileDeps(
                store=MongoProfileStore(runtime.database, compressed_states=profile_settings.profile_compressed_states),
                rules=rules,
                clock=clock or SystemClock(),
                recent=recent,
            ),
            publisher=KafkaPublisher(runtime.broker, runtime.settings.kafka_namespace),
            metrics=metrics,
        )
        runtime.extras["profile"] = context

        async def handle(consumed: ConsumedRecord[Envelope]) -> None:
            await handle_resolution(consumed, context)

        async def handle_batch(batch: list[ConsumedRecord[Envelope]]) -> list[ConsumedRecord[Envelope]]:
            return await handle_resolutions(batch, context)

        subscribe_to_events(
            runtime,
            topic=resolutions_topic,
            group_id=group_id,
            handle=handle,
            concurrency=profile_settings.profile_consumer_concurrency,
            handle_batch=handle_batch if profile_settings.profile_batch_writes else None,
        )

    async def start_sweeping(runtime: Runtime) -> None:
        context = runtime.extras["profile"]
        assert isinstance(context, ProfileContext)
        # From the first start on, every profile filed lies in a slot at or after this position.
        await context.deps.store.start_sweep(slot_of(context.deps.clock.now()))
        if profile_settings.profile_sweep_interval_seconds > 0:
            sweeping.append(asyncio.create_task(sweep_forever(context), name="profile-sweep"))

    async def stop_sweeping(_runtime: Runtime) -> None:
        await cancel_and_wait(sweeping)
        sweeping.clear()

    app = create_service_app(
        profile_settings,
        ServiceParts(
            title="Parterre profile",
            description="Keeps the 360° audience profile, segments and consent-aware triggers.",
            routers=ROUTERS,
            indexes=INDEXES,
            wire=wire,
            on_start=start_sweeping,
            on_stop=stop_sweeping,
        ),
    )
    metrics = ProfileMetrics(app.state.runtime.registry)
    return app
