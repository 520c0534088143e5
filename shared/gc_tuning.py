"""The garbage collector's pace for Parterre's long-running processes: the services and the batch commands."""

import gc
import threading
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


class _Pause:
    """The blocks under way that paused collection, and whether the first of them turned it off. Counted under a
    lock: a test's client runs a service's event loop in a thread of its own."""

    lock = threading.Lock()
    holders = 0
    turned_off = False


@contextmanager
def collections_paused() -> Iterator[None]:
    """No automatic collection while the block runs; the first allocation after the last block under way ends
    collects the young objects left, as the pace set.

    For a consumer batch (and a batch command's run): what it makes lives until it ends (decoded records, states,
    outputs), so each young collection during it scanned all of it, found no garbage, and moved it on to be scanned
    again by a middle one. Applying 20,000 facts, profile's collections found about 1,000 objects in 2.2-2.7 s of
    collecting (a tenth of its CPU), with pauses of up to 310 ms; identity's, resolving 25,034, took 1.2-2.1 s with
    pauses of up to 170 ms. Paused during batches: 0.9-1.1 s (profile, most of it collecting each batch's survivors
    once it ends) and 0.4-0.5 s (identity, longest pause 18-32 ms).

    Nothing is lost meanwhile: what is not in a cycle is freed as ever, and the few cycles made wait for the next
    collection; a batch waiting out an outage makes next to nothing. Blocks may overlap (several consumers in one
    process): collection resumes once the last ends, and only if it was on when the first began.
    """
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
                gc.enable()


@contextmanager
def collections_paused_keeping_what_is_made() -> Iterator[None]:
    """`collections_paused` for a command's run, whose store keeps what the run makes until the process ends: when
    the block ends, what it made is frozen (left out of every later collection) rather than scanned by the first
    collection after it, which found next to nothing to free. At 100,000 people that one scan was 4.9% of the samples
    of `parterre identity resolve` (py-spy). A cycle the block made is freed only when the process ends."""
    with collections_paused():
        try:
            yield
        finally:
            gc.freeze()
