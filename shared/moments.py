"""Moments as the store keeps them."""

from datetime import datetime


def to_the_millisecond(moment: datetime) -> datetime:
    """As the store keeps moments (BSON dates): a moment computed now and the same read back later compare equal,
    and an event built from either is the same event."""
    microsecond = moment.microsecond
    # A moment already whole (read back from the store, or made so before) is returned as it is: `replace` on an aware
    # moment takes about 900 ns, and identity rounds the moment of every decision, most of them whole already.
    if microsecond % 1000 == 0:
        return moment
    return moment.replace(microsecond=microsecond - microsecond % 1000)
