"""The caches of pure functions: each a bounded LRU, and resized together to a batch's budget."""

import gc
import weakref

from shared.memo import LastSeen, caches_within, remembered, remembered_entries

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


def test_last_seen_answers_again_for_the_same_objects_and_computes_for_equal_ones() -> None:
    seen: list[list[int]] = []

    def total(numbers: list[int], offset: int) -> int:
        seen.append(numbers)
        return sum(numbers) + offset

    last_total = LastSeen(total, size=2)
    first, equal_copy, offset = [1, 2], [1, 2], 1000

    assert last_total(first, offset) == last_total(first, offset) == 1003
    assert seen == [first]
    # Equal but another object: lists are not hashable, and a state equal to another is still computed anew.
    assert last_total(equal_copy, offset) == 1003
    assert len(seen) == 2
    assert seen[1] is equal_copy


def test_last_seen_lets_the_oldest_go_beyond_its_size() -> None:
    seen: list[object] = []

    def noted(subject: object) -> int:
        seen.append(subject)
        return id(subject)

    last_seen = LastSeen(noted, size=2)
    a, b, c = object(), object(), object()

    for subject in (a, b, c, c, b, a):
        last_seen(subject)

    # `a` went when `c` came; `b` and `c` were still held.
    assert seen == [a, b, c, a]


def test_last_seen_holds_its_arguments_so_that_their_identity_cannot_pass_to_another_object() -> None:
    class Subject:
        pass

    last_seen = LastSeen(id, size=4)
    subject = Subject()
    held = weakref.ref(subject)
    last_seen(subject)

    del subject
    gc.collect()

    assert held() is not None
