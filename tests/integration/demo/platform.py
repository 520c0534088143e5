"""The demo run against a platform of its own (`infra.platform.isolated`), as the end-to-end and failure tests do."""

from typing import Any

from demo.run import DemoConfig
from infra.platform.isolated import IsolatedPlatform
from shared.settings import ServiceSettings

# The demo's receiver listens on 127.0.0.1 over plain HTTP, which notify refuses unless told otherwise.
TO_THE_DEMO_RECEIVER = (("PARTERRE_NOTIFY_ALLOW_LOOPBACK", "true"), ("PARTERRE_NOTIFY_ALLOW_PLAIN_HTTP", "true"))


def demo_config(platform: IsolatedPlatform, settings: ServiceSettings, **season: Any) -> DemoConfig:
    """The demo pointed at `platform`; `season` sets the rest (patrons, seed, pace, drain timeout)."""
    return DemoConfig(
        ingest_url=platform.url("ingest"),
        identity_url=platform.url("identity"),
        profile_url=platform.url("profile"),
        notify_url=platform.url("notify"),
        console_url=platform.url("console"),
        kafka_bootstrap=settings.kafka_bootstrap,
        kafka_namespace=platform.namespace,
        mongo_url=settings.mongo_url,
        mongo_database=platform.database,
        receiver_port=0,
        show_progress=False,
        **season,
    )
