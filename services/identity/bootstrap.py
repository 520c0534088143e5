"""Builds the identity service: settings, clients, adapters, subscriber and routes; nothing happens at import."""

import asyncio
import logging
from typing import cast

from fastapi import FastAPI

from services.identity.adapters.mongo import INDEXES, MongoIdentityStore
from services.identity.context import IdentityContext, SystemClock
from services.identity.entrypoints.consumer import handle_fact, handle_facts
from services.identity.entrypoints.http import router
from services.identity.handlers import IdentityDeps
from services.identity.metrics import IdentityMetrics
from services.identity.rules import development_salt_warning, load_rules
from services.identity.settings import IdentitySettings
from services.identity.upgrades import ADDRESS_FORM, BLOCK_FILING, STORED_FORMS, StoredForm, outdated
from shared.events import Envelope
from shared.kafka import ConsumedRecord, KafkaPublisher
from shared.service import Runtime, ServiceParts, create_service_app, subscribe_to_events
from shared.tasks import cancel_and_wait
from shared.topics import AUDIENCE_FACTS, CONSUMER_GROUPS

log = logging.getLogger(__name__)

IDENTITY_GROUP = next(group for group in CONSUMER_GROUPS if group.service == "identity")


def create_app(
    settings: IdentitySettings | None = None,
    *,
    facts_topic: str = AUDIENCE_FACTS.name,
    group_id: str = IDENTITY_GROUP.group_id,
) -> FastAPI:
    """The identity service; `facts_topic` and `group_id` default to the catalog's (tests isolate themselves)."""
    identity_settings = settings or IdentitySettings()
    # Read before anything connects: a bad policy or model file stops the start with the line to fix.
    rules = load_rules(identity_settings)
    if (warning := development_salt_warning(identity_settings, "en")) is not None:
        log.warning(warning)

    def wire(runtime: Runtime) -> None:
        context = IdentityContext(
            settings=identity_settings,
            deps=IdentityDeps(
                store=MongoIdentityStore(
                    runtime.database,
                    on_fresh_reads=lambda organisation, cause: metrics.fresh_reads.labels(organisation, cause).inc(),
                    salt=rules.suppression_salt,
                    cached_patrons=identity_settings.identity_cached_patrons,
                ),
                rules=rules,
                clock=SystemClock(),
            ),
            publisher=KafkaPublisher(runtime.broker, runtime.settings.kafka_namespace),
            metrics=metrics,
        )
        runtime.extras["identity"] = context

        async def handle(consumed: ConsumedRecord[Envelope]) -> None:
            await handle_fact(consumed, context)

        async def handle_batch(batch: list[ConsumedRecord[Envelope]]) -> list[ConsumedRecord[Envelope]]:
            return await handle_facts(batch, context)

        subscribe_to_events(
            runtime,
            topic=facts_topic,
            group_id=group_id,
            handle=handle,
            concurrency=identity_settings.identity_consumer_concurrency,
            handle_batch=handle_batch,
        )

    async def watch_stored_forms(runtime: Runtime) -> None:
        store = cast(IdentityContext, runtime.extras["identity"]).deps.store
        # Before any fact: with another salt than the store's, every fact would be filed where no one looks.
        await store.confirm_salt()
        gauges = {BLOCK_FILING.name: metrics.blocks_outdated, ADDRESS_FORM.name: metrics.identifiers_outdated}

        async def still_outdated(form: StoredForm) -> bool:
            found = await outdated(store, form)
            gauges[form.name].set(1 if found else 0)
            return found

        async def until_up_to_date(form: StoredForm) -> None:
            while True:
                await asyncio.sleep(identity_settings.identity_blocks_check_seconds)
                try:
                    if not await still_outdated(form):
                        log.info(form.done)
                        return
                except Exception as exc:  # the store away: checked again at the next turn
                    log.warning("could not check whether %s are up to date: %r", form.name, exc)

        # Every form checked before any watch starts: a check that fails stops the start with no watch left running.
        for form in [form for form in STORED_FORMS if await still_outdated(form)]:
            log.warning(form.warning)
            runtime.extras[f"{form.name}-watch"] = asyncio.create_task(
                until_up_to_date(form), name=f"{form.name}-watch"
            )

    async def stop_watching_stored_forms(runtime: Runtime) -> None:
        watches = [runtime.extras.pop(f"{form.name}-watch", None) for form in STORED_FORMS]
        await cancel_and_wait([watch for watch in watches if isinstance(watch, asyncio.Task)])

    app = create_service_app(
        identity_settings,
        ServiceParts(
            title="Parterre identity",
            description=(
                "Resolves every upstream fact to one person per organisation: exact identifiers first, then a "
                "probabilistic match for walk-up buyers; merges are recorded with their evidence and can be undone."
            ),
            routers=[router],
            indexes=INDEXES,
            wire=wire,
            on_start=watch_stored_forms,
            on_stop=stop_watching_stored_forms,
        ),
    )
    metrics = IdentityMetrics(app.state.runtime.registry)
    return app
