"""What a long consumer batch may commit before it ends: in each partition, up to its first record not yet handled."""

import random
from dataclasses import dataclass

from hypothesis import given
from hypothesis import strategies as st

from shared.consumer_progress import PROGRESS_COMMIT_SECONDS, BatchProgress


@dataclass(frozen=True)
class Positioned:
    topic: str
    partition: int
    offset: int


def batch(*positions: tuple[int, int]) -> list[Positioned]:
    return [Positioned("tickets", partition, offset) for partition, offset in positions]


def test_nothing_is_committed_before_the_first_record_of_a_partition_is_handled() -> None:
    records = batch((0, 10), (0, 11), (1, 5))
    progress = BatchProgress(records, started_at=0.0)

    progress.handled(records[1])

    assert progress.to_commit() == {}


def test_a_partition_is_committed_up_to_the_record_after_the_last_one_handled_without_a_gap() -> None:
    records = batch((0, 10), (0, 11), (0, 14), (1, 5))
    progress = BatchProgress(records, started_at=0.0)

    progress.handled(records[0])
    progress.handled(records[2])

    assert progress.to_commit() == {("tickets", 0): 11}
    progress.handled(records[1])
    assert progress.to_commit() == {("tickets", 0): 15}


def test_records_handled_out_of_order_across_keys_move_the_position_once_the_gap_closes() -> None:
    records = batch((2, 7), (2, 8), (2, 9))
    progress = BatchProgress(reversed(records), started_at=0.0)

    progress.handled(records[2])
    progress.handled(records[1])
    assert progress.to_commit() == {}
    progress.handled(records[0])

    assert progress.to_commit() == {("tickets", 2): 10}


def test_a_position_once_committed_is_not_asked_again_until_it_moves() -> None:
    records = batch((0, 1), (0, 2), (1, 1))
    progress = BatchProgress(records, started_at=0.0)
    progress.handled(records[0])
    progress.handled(records[2])
    progress.committed(progress.to_commit(), now=1.0)

    assert progress.to_commit() == {}
    progress.handled(records[1])
    assert progress.to_commit() == {("tickets", 0): 3}


def test_a_batch_is_due_to_commit_once_it_has_run_the_interval_since_it_started_or_last_committed() -> None:
    progress = BatchProgress(batch((0, 1)), started_at=100.0)

    assert not progress.due(100.0 + PROGRESS_COMMIT_SECONDS - 0.001)
    assert progress.due(100.0 + PROGRESS_COMMIT_SECONDS)
    progress.committed({}, now=100.0 + PROGRESS_COMMIT_SECONDS)
    assert not progress.due(100.0 + PROGRESS_COMMIT_SECONDS + 1)
    assert progress.due(100.0 + 2 * PROGRESS_COMMIT_SECONDS)


@given(
    offsets=st.lists(st.tuples(st.integers(0, 2), st.integers(0, 40)), unique=True, min_size=1, max_size=30),
    seed=st.integers(0, 2**32 - 1),
    handled_share=st.floats(0, 1),
)
def test_the_position_committed_never_passes_a_record_not_handled(
    offsets: list[tuple[int, int]], seed: int, handled_share: float
) -> None:
    records = batch(*offsets)
    order = records[:]
    random.Random(seed).shuffle(order)
    handled = order[: round(len(order) * handled_share)]
    progress = BatchProgress(records, started_at=0.0)

    for record in handled:
        progress.handled(record)

    positions = progress.to_commit()
    for record in records:
        position = positions.get((record.topic, record.partition))
        if record not in handled:
            assert position is None or position <= record.offset
    for partition in {record.partition for record in records}:
        in_partition = sorted(record.offset for record in records if record.partition == partition)
        handled_from_start = 0
        while handled_from_start < len(in_partition) and any(
            record.partition == partition and record.offset == in_partition[handled_from_start] for record in handled
        ):
            handled_from_start += 1
        expected = in_partition[handled_from_start - 1] + 1 if handled_from_start else None
        assert positions.get(("tickets", partition)) == expected


def test_a_failed_batch_is_read_again_from_each_partition_s_first_record_not_handled() -> None:
    records = batch((0, 10), (0, 11), (0, 12), (1, 5), (1, 6), (2, 1))
    progress = BatchProgress(records, started_at=0.0)
    for handled in (records[0], records[2], records[3], records[4]):
        progress.handled(handled)

    # Partition 0 from 11 (12 handled after it is handled again); partition 1 whole; partition 2 untouched.
    assert progress.not_handled(records) == (records[1], records[2], records[5])
