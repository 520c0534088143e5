"""What the ingest handlers need from the outside world."""

from collections.abc import Sequence
from typing import Protocol

from services.ingest.domain.sources import Source
from shared.events import Envelope


class EventSink(Protocol):
    async def publish(self, envelopes: Sequence[Envelope]) -> None:
        """Returns only once every envelope is durably stored (Kafka acknowledged it with acks=all)."""


class PublicationLedger(Protocol):
    """Which event ids were published, so a replay or a re-import is not published twice."""

    async def claim(self, organisation_id: str, event_ids: Sequence[str]) -> set[str]:
        """The ids this caller must publish: never claimed, or claimed by a publisher that died before confirming."""

    async def confirm(self, organisation_id: str, event_ids: Sequence[str]) -> None:
        """Kafka has these: later claims of them are duplicates."""

    async def release(self, organisation_id: str, event_ids: Sequence[str]) -> None:
        """Publishing failed: let the next attempt claim them again."""


class SourceRegistry(Protocol):
    async def find(self, source_id: str) -> Source | None: ...
