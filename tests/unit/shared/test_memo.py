"""The caches of pure functions: each bounded, and trimmed together to a batch's budget."""

from shared.memo import keep_within, remembered, remembered_entries

calls: list[int] = []


@remembered
def doubled(number: int) -> int:
    calls.append(number)
    return number * 2


def test_a_remembered_function_computes_each_argument_once_until_its_cache_is_trimmed() -> None:
    keep_within(0)
    calls.clear()

    assert [doubled(number) for number in (1, 2, 1, 2)] == [2, 4, 2, 4]
    assert calls == [1, 2]
    assert remembered_entries() >= 2

    keep_within(1_000_000)
    assert doubled(1) == 2
    assert calls == [1, 2]

    keep_within(0)
    assert remembered_entries() == 0
    assert doubled(1) == 2
    assert calls == [1, 2, 1]
