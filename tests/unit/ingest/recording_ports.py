"""Ingest's ports as route tests need them: a sink that keeps what is published, and a ledger for which every
event id is new (those tests are about reading requests, not about replays)."""

from collections.abc import Mapping, Sequence

from services.ingest.ports import Claim
from shared.events import Envelope


class RecordingSink:
    def __init__(self) -> None:
        self.published: list[Envelope] = []

    async def publish(self, envelopes: Sequence[Envelope]) -> None:
        self.published.extend(envelopes)


class NewIdsLedger:
    async def claim(
        self, organisation_id: str, event_ids: Sequence[str], *, sources: Mapping[str, str] | None = None
    ) -> Claim:
        return Claim("batch-1", frozenset(event_ids))

    async def confirm(self, organisation_id: str, claim: Claim) -> None:
        return None

    async def release(self, organisation_id: str, claim: Claim) -> None:
        return None
