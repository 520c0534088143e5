"""Deterministic event ids: the same upstream fact always gets the same id, so replays are de-duplicated."""

from uuid import UUID, uuid5

# Fixed forever: changing it would give every fact already ingested a new id, and re-importing would duplicate it.
EVENT_ID_NAMESPACE = UUID("8f3e2b1c-5d4a-4c6e-9a7b-2e1f0d3c4b5a")


def event_id(organisation_id: str, source: str, *parts: str) -> str:
    """The id of the fact that `parts` name (upstream ids, never a webhook delivery id) in one organisation's source.

    A `|` or `\\` inside a part is escaped, so `("a|b", "c")` and `("a", "b|c")` cannot name the same fact.
    """
    escaped = (_escape(part) for part in (organisation_id, source, *parts))
    return str(uuid5(EVENT_ID_NAMESPACE, "|".join(escaped)))


def _escape(part: str) -> str:
    if "|" not in part and "\\" not in part:
        return part
    return part.replace("\\", "\\\\").replace("|", "\\|")
