"""How identity's household decisions are ordered: identity keeps, and profile shows, the one decided last."""

from datetime import datetime, timedelta

from shared.moments import to_the_millisecond

# A fact that merges persons and finds a relative moves the survivor twice at its moment: with the merge, to the
# household of the person merged in, then to the relative's. The merge's move counts as a millisecond earlier, so the
# relative's comes after it however the two are applied.
_MERGE_MOVE_EARLIER = timedelta(milliseconds=1)


def merge_move_moment(merged_at: datetime) -> datetime:
    """The moment a merge decided at `merged_at` counts as moving its survivor to a merged person's household."""
    return to_the_millisecond(merged_at) - _MERGE_MOVE_EARLIER


def decided_after(household_id: str, at: datetime, shown_id: str | None, shown_at: datetime | None) -> bool:
    """Whether the decision of `at` putting a person in `household_id` comes after the one shown (`shown_id`, decided
    at `shown_at`; None when not known), so that it replaces it: by moment to the millisecond (as stored), then by
    household id, never by which arrives first. A decision delivered again, or late, never moves a person back; the
    same household decided again later moves the moment on."""
    if shown_at is None:
        return household_id != shown_id
    return (to_the_millisecond(at), household_id) > (shown_at, shown_id or "")
