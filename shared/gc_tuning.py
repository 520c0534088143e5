"""The garbage collector's pace for Parterre's long-running processes: the services and the batch commands."""

import gc
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

# A young collection after this many allocations (Python's default is 700), a middle one after 100 young ones and a
# full one after 100 middle ones (defaults 10 and 10). A young collection scans every young object: after 50,000 of
# them it paused identity for 10-14 ms, half its 20 ms budget per fact, and after 10,000 for 3 ms; middle and full
# collections come after as many allocations as they did then, and the CPU spent is the same.
THRESHOLDS = (10_000, 100, 100)


def tune_garbage_collection() -> None:
    """Collects less often, and never scans what start-up built (modules, schemas, rules).

    The services and batch commands hold large caches of long-lived objects (profiles kept between batches, blocks
    and persons), which the default pace scanned over and over: a quarter of profile's CPU while applying 20,000
    facts, and 14% of `parterre identity resolve` on 25,000 records. With these thresholds the same runs peaked at
    the same memory: what a collection finds is garbage in cycles, which Parterre makes little of.
    """
    if gc.get_freeze_count() == 0:
        # Once: a second freeze would also keep out of every collection the garbage made since the first.
        gc.freeze()
    gc.set_threshold(*THRESHOLDS)


# How often at most a full collection looks for cycles among what the batches left: what each batch makes is frozen
# when it ends (see `collections_paused`), so a cycle it left is found only then. Applying 20,000 facts left 368
# objects in cycles, and the full collection that found them took 637 ms over 652,859 objects: once a quarter of an
# hour, such a pause holds back fewer than one fact in a thousand at 1,000 facts a second.
FULL_COLLECTION_SECONDS = 900.0


class _Pause:
    """The blocks under way that paused collection, whether the first of them turned it off, and when the last full
    collection ran. Counted under a lock: a test's client runs a service's event loop in a thread of its own."""

    lock = threading.Lock()
    holders = 0
    turned_off = False
    collected_at = time.monotonic()


@contextmanager
def collections_paused() -> Iterator[None]:
    """No automatic collection while the block runs, and what it made is frozen when it ends: left out of every
    later collection but the full one run every `FULL_COLLECTION_SECONDS` as the last block under way ends.

    For a consumer batch: what it makes lives until it ends (decoded records, states, outputs), and what outlives it
    (profiles and persons kept for the next batches) is long-lived. Each young collection during a batch scanned
    all of it, found no garbage, and moved it on to be scanned again by a middle one: applying 20,000 facts,
    profile's collections found about 1,000 objects in 2.2-2.7 s (a tenth of its CPU), with pauses of up to 310 ms.
    Paused during batches, the young collection after each scanned what the batch left instead: 505-758 ms of
    profile's 15-19 s of CPU over the same facts, in pauses of up to 140 ms, for 56 objects found. Frozen, that
    scan is gone: 15.0-15.6 s of CPU against 15.6-17.2 in three alternated pairs of runs; and of identity's
    resolutions at 1,000 facts a second, the median share within 20 ms went from 94.1% and 88.2% to 98.0% and
    95.8% (two alternated pairs of three runs each).

    Nothing is lost meanwhile: what is not in a cycle is freed as ever, frozen or not, and the few cycles made wait
    for the next full collection; a batch waiting out an outage makes next to nothing. Blocks may overlap (several
    consumers in one process): the last to end freezes and collection resumes, only if it was on when the first
    began (otherwise whoever turned it off keeps the generations as they are).
    """
    with _paused(collect_fully=True):
        yield


@contextmanager
def _paused(*, collect_fully: bool) -> Iterator[None]:
    with _Pause.lock:
        if _Pause.holders == 0:
            _Pause.turned_off = gc.isenabled()
            gc.disable()
        _Pause.holders += 1
    try:
        yield
    finally:
        with _Pause.lock:
            _Pause.holders -= 1
            if _Pause.holders == 0 and _Pause.turned_off:
                _Pause.turned_off = False
                if collect_fully and time.monotonic() - _Pause.collected_at >= FULL_COLLECTION_SECONDS:
                    gc.unfreeze()
                    gc.collect()
                    _Pause.collected_at = time.monotonic()
                gc.freeze()
                gc.enable()


@contextmanager
def collections_paused_keeping_what_is_made() -> Iterator[None]:
    """`collections_paused` for a command's run, whose store keeps what the run makes until the process ends: what
    it made is frozen when it ends (even if collection was off before it), and no full collection runs then, which
    would scan all of it to find next to nothing. At 100,000 people the scan of what the run made was 4.9% of the
    samples of `parterre identity resolve` (py-spy). A cycle the block made is freed only when the process ends."""
    with _paused(collect_fully=False):
        try:
            yield
        finally:
            gc.freeze()
