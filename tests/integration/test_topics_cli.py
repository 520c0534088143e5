"""`parterre topics create` says in French, under a French locale, what it created, what was there, and what falls
short of the catalog."""

import asyncio

import pytest

from shared.cli import main
from shared.settings import ServiceSettings
from shared.topic_admin import delete_namespace_topics, ensure_topics
from shared.topics import all_topic_partitions

pytestmark = [pytest.mark.kafka]


@pytest.mark.usefixtures("french_locale")
async def test_topics_created_there_already_or_short_of_partitions_are_said_in_french(
    settings: ServiceSettings,
    unique_name: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    namespace = f"{unique_name}."
    catalog = all_topic_partitions(namespace)
    facts = f"{namespace}parterre.audience.facts.v1"
    await ensure_topics(settings.kafka_bootstrap, {facts: 1})
    monkeypatch.setenv("PARTERRE_KAFKA_BOOTSTRAP", settings.kafka_bootstrap)
    monkeypatch.setenv("PARTERRE_KAFKA_NAMESPACE", namespace)
    try:
        # The command runs its own event loop.
        assert await asyncio.to_thread(main, ["topics", "create"]) == 0
        first = capsys.readouterr()
        assert await asyncio.to_thread(main, ["topics", "create"]) == 0
        again = capsys.readouterr()
    finally:
        await delete_namespace_topics(settings.kafka_bootstrap, namespace)

    assert sorted(first.out.splitlines()) == sorted(
        [f"créé       {name}" for name in catalog if name != facts] + [f"existe     {facts}"]
    )
    assert first.err == f"ATTENTION  {facts} a 1 partition, le catalogue en prévoit 6\n"
    assert sorted(again.out.splitlines()) == sorted(f"existe     {name}" for name in catalog)
