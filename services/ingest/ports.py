"""What the ingest handlers need from the outside world."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Protocol

from services.ingest.domain.sources import Source
from shared.events import Envelope, PersonRef


class EventSink(Protocol):
    async def publish(self, envelopes: Sequence[Envelope]) -> None:
        """Returns only once every envelope is durably stored (Kafka acknowledged it with acks=all)."""


@dataclass(frozen=True)
class Claim:
    """The ids one caller must publish, claimed together as one batch."""

    batch: str
    event_ids: frozenset[str]
    # Ids another publisher claimed and has not confirmed yet: published by it soon, or never if it died. Neither
    # new nor duplicates until it confirms, releases, or is taken for dead.
    in_flight: frozenset[str] = frozenset()
    # Ids an event of another source holds, by that source: another event, not a repeat, that cannot be published
    # under an id Parterre already knows as someone else's.
    reused: Mapping[str, str] = field(default_factory=dict)


class PublicationLedger(Protocol):
    """Which event ids were published, so a replay or a re-import is not published twice."""

    async def claim(
        self, organisation_id: str, event_ids: Sequence[str], *, sources: Mapping[str, str] | None = None
    ) -> Claim:
        """The ids this caller must publish: never claimed, or claimed by a publisher that died before confirming;
        those another publisher holds unconfirmed (`in_flight`); and, given each id's event `sources`, those an
        event of another source holds (`reused`)."""

    async def confirm(self, organisation_id: str, claim: Claim) -> None:
        """Kafka has every id of the claim: later claims of them are duplicates."""

    async def release(self, organisation_id: str, claim: Claim) -> None:
        """Publishing failed: let the next attempt claim them again."""


class SourceRegistry(Protocol):
    async def find(self, source_id: str) -> Source | None: ...

    async def record_redaction_request(self, source_id: str, requested_at: datetime) -> None:
        """The upstream system asked that the source's data be erased: kept on the source for operators."""


class Nobody(Enum):
    """The buyer of an order that names no one (a walk-in sale): its refunds are no one's either."""

    NOBODY = "nobody"


NOBODY = Nobody.NOBODY


class OrderBuyers(Protocol):
    """Who placed each shop order, so a refund (which names only its order) is attributed to the buyer.

    A refund read before its order waits here until the order arrives; both sides write one document per
    order, so whichever comes second sees the other and nothing waits forever once the order is known.
    """

    async def buyer(self, organisation_id: str, source: str, order_id: str) -> PersonRef | None: ...

    async def remember(
        self, organisation_id: str, source: str, order_id: str, buyer: PersonRef | Nobody
    ) -> list[Envelope]:
        """Keep the order's buyer, or that it names `NOBODY`; returns the refunds that were waiting for this order."""

    async def wait_for_order(
        self, organisation_id: str, source: str, order_id: str, refund: Envelope
    ) -> PersonRef | Nobody | None:
        """Keep the refund until its order arrives; returns the buyer instead if the order arrived meanwhile."""

    async def release(self, organisation_id: str, source: str, order_id: str, refund_ids: Sequence[str]) -> None:
        """The waiting refunds are published: they wait no more."""

    async def forget_orders(self, organisation_id: str, source: str, order_ids: Sequence[str]) -> None:
        """A customer's erasure: their orders' buyer and waiting refunds go."""

    async def forget_source(self, organisation_id: str, source: str) -> None:
        """A whole source's erasure."""
