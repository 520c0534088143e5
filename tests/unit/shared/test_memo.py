"""The caches of pure functions: each a bounded LRU, and resized together to a batch's budget."""

from shared.memo import caches_within, remembered, remembered_entries

calls: list[int] = []


@remembered
def doubled(number: int) -> int:
    calls.append(number)
    return number * 2


def test_a_remembered_function_computes_each_argument_once_while_its_cache_holds_it() -> None:
    calls.clear()

    assert [doubled(number) for number in (10, 20, 10, 20)] == [20, 40, 20, 40]
    assert calls == [10, 20]
    assert remembered_entries() >= 2


def test_caches_resized_to_a_budget_keep_no_more_and_get_their_size_back_after() -> None:
    with caches_within(0):
        calls.clear()
        # No entry at all: every call computes.
        assert doubled(1) == doubled(1) == 2
        assert calls == [1, 1]
        assert remembered_entries() == 0

    with caches_within(10_000):
        calls.clear()
        assert [doubled(number) for number in (1, 2, 1)] == [2, 4, 2]
        assert calls == [1, 2]
        assert remembered_entries() <= 10_000

    calls.clear()
    assert [doubled(number) for number in (3, 3)] == [6, 6]
    assert calls == [3]
