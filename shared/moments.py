"""Moments as the store keeps them."""

from datetime import datetime


def to_the_millisecond(moment: datetime) -> datetime:
    """As the store keeps moments (BSON dates): a moment computed now and the same read back later compare equal,
    and an event built from either is the same event."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)
