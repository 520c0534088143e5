"""How long a consumer waits before trying a failed message again."""

from shared.kafka import MAX_RETRY_PAUSE_SECONDS, retry_pause


def test_the_pause_between_failed_tries_doubles_from_the_first() -> None:
    assert [retry_pause(0.5, failed) for failed in (1, 2, 3)] == [0.5, 1.0, 2.0]


def test_the_pause_stops_doubling_at_a_minute() -> None:
    # The most the settings allow (a minute, twenty attempts) waited half a year before the last try.
    assert retry_pause(60, 19) == MAX_RETRY_PAUSE_SECONDS == 60
    assert retry_pause(10, 3) == 40
