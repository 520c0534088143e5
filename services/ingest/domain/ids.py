"""Deterministic event ids: the same upstream fact always gets the same id, so replays are de-duplicated."""

import hashlib
import json
from typing import Any
from uuid import UUID

from shared.uuids import uuid5_text

# Fixed forever: changing it would give every fact already ingested a new id, and re-importing would duplicate it.
EVENT_ID_NAMESPACE = UUID("8f3e2b1c-5d4a-4c6e-9a7b-2e1f0d3c4b5a")


def event_id(organisation_id: str, source: str, *parts: str) -> str:
    """The id of the fact that `parts` name (upstream ids, never a webhook delivery id) in one organisation's source.

    A `|` or `\\` inside a part is escaped, so `("a|b", "c")` and `("a", "b|c")` cannot name the same fact.
    """
    escaped = (_escape(part) for part in (organisation_id, source, *parts))
    return uuid5_text(EVENT_ID_NAMESPACE, "|".join(escaped))


def content_digest(document: Any) -> str:
    """A digest of what a JSON document says, whatever the order of its keys: to tell two facts of one second apart."""
    return hashlib.sha256(json.dumps(document, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:32]


def _escape(part: str) -> str:
    if "|" not in part and "\\" not in part:
        return part
    return part.replace("\\", "\\\\").replace("|", "\\|")
