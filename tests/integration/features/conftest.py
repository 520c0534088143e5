"""One platform for the feature tests of a module: started once (it takes seconds), on the shared servers with a
Kafka namespace and a database of its own. Each test brings patrons of its own, so the tests stay independent."""

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from demo.credentials import demo_credentials
from demo.season import SourceIds
from infra.platform.isolated import isolated_platform
from shared.mongo import mongo_client
from shared.tokens import TOKENS_COLLECTION, Scope, TokenStore
from tests.conftest import Servers
from tests.integration.demo.platform import TO_THE_DEMO_RECEIVER
from tests.integration.features.theatre import FeatureReceiver, Theatre, subscribe_webhook

ORGANISATION = "theatre-des-features"


@pytest.fixture(scope="module")
async def theatre(servers: Servers, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Theatre]:
    database_name = f"test_{uuid.uuid4().hex[:12]}"
    sources = SourceIds.for_organisation(ORGANISATION)
    receiver = FeatureReceiver()
    receiver.start()
    try:
        async with mongo_client(servers.mongo_url, app_name="parterre-tests") as client:
            try:
                async with isolated_platform(
                    tmp_path_factory.mktemp("features"),
                    servers.kafka_bootstrap,
                    servers.mongo_url,
                    database=database_name,
                    extra_environment=TO_THE_DEMO_RECEIVER,
                ) as platform:
                    database = client[database_name]
                    # Sources, their keys and the API token, made as `parterre sources create` and `parterre tokens
                    # create` make them (the demo's way).
                    credentials = await demo_credentials(database, ORGANISATION, sources)
                    privacy = await TokenStore(database[TOKENS_COLLECTION]).issue(
                        ORGANISATION, {Scope.PRIVACY_ERASE}, "privacy officer"
                    )
                    async with (
                        httpx.AsyncClient(base_url=platform.url("ingest"), timeout=30) as ingest,
                        httpx.AsyncClient(base_url=platform.url("identity"), timeout=30) as identity,
                        httpx.AsyncClient(base_url=platform.url("profile"), timeout=30) as profile,
                        httpx.AsyncClient(base_url=platform.url("notify"), timeout=30) as notify,
                    ):
                        subscription_id, secret = await subscribe_webhook(notify, credentials.token, receiver.url)
                        receiver.secret = secret
                        yield Theatre(
                            organisation_id=ORGANISATION,
                            sources=sources,
                            credentials=credentials,
                            privacy_token=privacy.token,
                            ingest=ingest,
                            identity=identity,
                            profile=profile,
                            notify=notify,
                            receiver=receiver,
                            subscription_id=subscription_id,
                        )
            finally:
                # Once the services have stopped, so none of them writes to it again.
                await client.drop_database(database_name)
    finally:
        receiver.stop()
