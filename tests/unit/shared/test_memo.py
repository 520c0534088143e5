"""The caches of pure functions: each a bounded LRU, and resized together to a batch's budget."""

from shared.memo import MOST_ENTRIES, keep_within, remembered, remembered_entries

calls: list[int] = []


@remembered
def doubled(number: int) -> int:
    calls.append(number)
    return number * 2


def test_a_remembered_function_computes_each_argument_once_while_its_cache_holds_it() -> None:
    keep_within(MOST_ENTRIES * 1_000)
    calls.clear()

    assert [doubled(number) for number in (1, 2, 1, 2)] == [2, 4, 2, 4]
    assert calls == [1, 2]
    assert remembered_entries() >= 2


def test_a_cache_resized_to_its_share_keeps_only_its_most_recent_results() -> None:
    # No entry at all: every call computes.
    keep_within(0)
    calls.clear()
    assert doubled(1) == doubled(1) == 2
    assert calls == [1, 1]

    keep_within(10_000)
    calls.clear()
    assert [doubled(number) for number in (1, 2, 1)] == [2, 4, 2]
    assert calls == [1, 2]
    assert remembered_entries() <= 10_000
    keep_within(MOST_ENTRIES * 1_000)
