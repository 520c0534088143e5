"""Builds the notify service: settings, clients, adapters, subscribers, worker and routes; nothing happens at import."""

from fastapi import FastAPI

from services.notify.adapters.http import SafeOutbound
from services.notify.adapters.mongo import INDEXES, MongoNotifyStore
from services.notify.context import NotifyContext, SystemClock, notify_rules, outbound_policy, settings_secret_box
from services.notify.entrypoints.consumer import handle_profile_event, handle_profile_events
from services.notify.entrypoints.http import router
from services.notify.handlers import NotifyDeps
from services.notify.metrics import NotifyMetrics
from services.notify.settings import NotifySettings
from services.notify.worker import DeliveryWorker
from shared.events import Envelope
from shared.kafka import ConsumedRecord, KafkaPublisher
from shared.service import Runtime, ServiceParts, create_service_app, subscribe_to_events
from shared.settings import ServiceSettings
from shared.topics import CONSUMER_GROUPS, PROFILE_CHANGES, PROFILE_TRIGGERS

CHANGES_GROUP = next(group for group in CONSUMER_GROUPS if group.group_id == "parterre-notify-changes")
TRIGGERS_GROUP = next(group for group in CONSUMER_GROUPS if group.group_id == "parterre-notify-triggers")


def create_app(
    settings: ServiceSettings | None = None,
    *,
    changes_topic: str = PROFILE_CHANGES.name,
    triggers_topic: str = PROFILE_TRIGGERS.name,
    group_prefix: str = "",
) -> FastAPI:
    """The notify service; topics and groups default to the catalog's (tests isolate themselves)."""
    notify_settings = (
        settings
        if isinstance(settings, NotifySettings)
        else NotifySettings(**(settings or NotifySettings()).model_dump())
    )
    rules = notify_rules(notify_settings)
    box = settings_secret_box(notify_settings)

    def wire(runtime: Runtime) -> None:
        context = NotifyContext(
            settings=notify_settings,
            deps=NotifyDeps(store=MongoNotifyStore(runtime.database, box), clock=SystemClock(), rules=rules),
            outbound=SafeOutbound(
                outbound_policy(notify_settings), timeout_seconds=notify_settings.notify_attempt_timeout_seconds
            ),
            publisher=KafkaPublisher(runtime.broker, runtime.settings.kafka_namespace),
            metrics=metrics,
        )
        runtime.extras["notify"] = context

        async def handle(consumed: ConsumedRecord[Envelope]) -> None:
            await handle_profile_event(consumed, context)

        async def handle_batch(batch: list[ConsumedRecord[Envelope]]) -> list[ConsumedRecord[Envelope]]:
            return await handle_profile_events(batch, context)

        for topic, group in ((changes_topic, CHANGES_GROUP), (triggers_topic, TRIGGERS_GROUP)):
            subscribe_to_events(
                runtime,
                topic=topic,
                group_id=group_prefix + group.group_id,
                handle=handle,
                handle_batch=handle_batch,
                concurrency=notify_settings.notify_consumer_concurrency,
            )

    async def on_start(runtime: Runtime) -> None:
        context = runtime.extras["notify"]
        assert isinstance(context, NotifyContext)
        await context.outbound.start()
        context.worker = DeliveryWorker(
            context.deps,
            context.outbound,
            context.metrics,
            context.announce,
            max_in_flight=notify_settings.notify_max_in_flight_per_subscription,
            poll_seconds=notify_settings.notify_poll_seconds,
        )
        await context.worker.start()

    async def on_stop(runtime: Runtime) -> None:
        context = runtime.extras["notify"]
        assert isinstance(context, NotifyContext)
        if context.worker is not None:
            await context.worker.stop()
        await context.outbound.close()

    app = create_service_app(
        notify_settings,
        ServiceParts(
            title="Parterre notify",
            description="Delivers triggers and profile changes to marketing tools: signed, retried, consent-checked.",
            routers=[router],
            indexes=INDEXES,
            wire=wire,
            on_start=on_start,
            on_stop=on_stop,
        ),
    )
    metrics = NotifyMetrics(app.state.runtime.registry)
    return app
