"""The garbage collector's pace for Parterre's long-running processes: the services and the batch commands."""

import gc

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
