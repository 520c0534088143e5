"""What each answer of a receiver means: success, retry when, dead letter, or the endpoint gone."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.notify.domain.retries import (
    MAX_RETRY_AFTER,
    STANDARD_DELAYS_SECONDS,
    RetrySchedule,
    Verdict,
    decide,
    parse_retry_after,
)

NOW = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
SCHEDULE = RetrySchedule()


def test_the_standard_schedule_spreads_ten_attempts_over_about_three_days() -> None:
    assert SCHEDULE.max_attempts == 10
    total = sum(STANDARD_DELAYS_SECONDS)
    assert timedelta(days=3) <= timedelta(seconds=total) <= timedelta(days=3, hours=12)


@pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
def test_any_2xx_is_a_success(status: int) -> None:
    assert (
        decide(attempt=1, status_code=status, error=None, retry_after=None, now=NOW, schedule=SCHEDULE, draw=0).verdict
        is Verdict.SUCCEEDED
    )


def test_410_gone_disables_the_endpoint() -> None:
    decision = decide(attempt=3, status_code=410, error=None, retry_after=None, now=NOW, schedule=SCHEDULE, draw=0)
    assert decision.verdict is Verdict.GONE
    assert decision.final


@pytest.mark.parametrize("status", [400, 401, 403, 404, 405, 413, 422, 301, 302])
def test_other_client_errors_and_redirects_go_to_the_dead_letter_list_at_once(status: int) -> None:
    decision = decide(attempt=1, status_code=status, error=None, retry_after=None, now=NOW, schedule=SCHEDULE, draw=0)
    assert decision.verdict is Verdict.DEAD
    assert decision.retry_at is None


@pytest.mark.parametrize("status", [None, 408, 425, 429, 500, 502, 503, 504])
def test_server_errors_timeouts_and_throttling_are_retried_on_schedule(status: int | None) -> None:
    decision = decide(
        attempt=2, status_code=status, error="timeout", retry_after=None, now=NOW, schedule=SCHEDULE, draw=0.5
    )
    assert decision.verdict is Verdict.RETRY
    assert decision.retry_at == NOW + timedelta(seconds=STANDARD_DELAYS_SECONDS[1])


def test_the_last_attempt_failing_is_final() -> None:
    decision = decide(
        attempt=SCHEDULE.max_attempts, status_code=500, error=None, retry_after=None, now=NOW, schedule=SCHEDULE, draw=0
    )
    assert decision.verdict is Verdict.DEAD
    assert "gave up after 10 attempts" in (decision.reason or "")


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_in_seconds_is_honoured_on_429_and_503(status: int) -> None:
    decision = decide(attempt=1, status_code=status, error=None, retry_after="1800", now=NOW, schedule=SCHEDULE, draw=0)
    assert decision.retry_at == NOW + timedelta(seconds=1800)


def test_retry_after_as_an_http_date_is_honoured() -> None:
    decision = decide(
        attempt=1,
        status_code=503,
        error=None,
        retry_after="Thu, 01 Oct 2026 13:00:00 GMT",
        now=NOW,
        schedule=SCHEDULE,
        draw=0,
    )
    assert decision.retry_at == NOW + timedelta(hours=1)


def test_retry_after_on_a_500_is_not_a_promise_and_the_schedule_applies() -> None:
    decision = decide(attempt=1, status_code=500, error=None, retry_after="9999", now=NOW, schedule=SCHEDULE, draw=0.5)
    assert decision.retry_at == NOW + timedelta(seconds=5)


def test_an_excessive_retry_after_is_capped_at_a_day() -> None:
    decision = decide(
        attempt=1, status_code=429, error=None, retry_after="99999999", now=NOW, schedule=SCHEDULE, draw=0
    )
    assert decision.retry_at == NOW + MAX_RETRY_AFTER


@pytest.mark.parametrize("value", ["99999999999999999999", "9" * 5000])
def test_a_retry_after_of_any_length_is_capped_at_a_day(value: str) -> None:
    # RFC 9110 sets no bound on delay-seconds.
    decision = decide(attempt=1, status_code=429, error=None, retry_after=value, now=NOW, schedule=SCHEDULE, draw=0)
    assert decision.retry_at == NOW + MAX_RETRY_AFTER


def test_a_retry_after_written_with_leading_zeros_is_read_as_its_value() -> None:
    assert parse_retry_after("0000000000005", now=NOW) == timedelta(seconds=5)


def test_retry_after_as_an_asctime_date_is_read_in_gmt() -> None:
    # The third HTTP date form, which a recipient must accept (RFC 9110, section 5.6.7).
    now = datetime(1994, 11, 6, 8, 49, 0, tzinfo=UTC)
    assert parse_retry_after("Sun Nov  6 08:49:37 1994", now=now) == timedelta(seconds=37)


OUT_OF_RANGE_DATES = [
    "Wed, 01 Jan 99999999999999999999 00:00:10 GMT",
    "Wed, 01 Jan 2026 00:00:10 -99999999999999999999",
]


@pytest.mark.parametrize(
    "value", [None, "", "soon", "-5", "Thu, 01 Oct 2026 13:00:00", "²", "1²", "١٢", *OUT_OF_RANGE_DATES]
)
def test_an_unreadable_retry_after_is_ignored(value: str | None) -> None:
    assert parse_retry_after(value, now=NOW) is None


@pytest.mark.parametrize("value", OUT_OF_RANGE_DATES)
def test_a_throttling_answer_with_a_date_out_of_range_is_retried_on_the_schedule(value: str) -> None:
    decision = decide(attempt=1, status_code=429, error=None, retry_after=value, now=NOW, schedule=SCHEDULE, draw=0.5)

    assert decision.verdict is Verdict.RETRY
    assert decision.retry_at == NOW + timedelta(seconds=STANDARD_DELAYS_SECONDS[0])


@given(st.text(max_size=60))
def test_no_retry_after_a_receiver_sends_raises(value: str) -> None:
    pause = parse_retry_after(value, now=NOW)

    assert pause is None or timedelta(0) <= pause


@given(attempt=st.integers(1, 9), draw=st.floats(0, 1, exclude_max=True))
def test_jitter_keeps_each_pause_within_a_fifth_of_its_nominal_length(attempt: int, draw: float) -> None:
    pause = SCHEDULE.pause_after(attempt, draw)
    assert pause is not None
    nominal = STANDARD_DELAYS_SECONDS[attempt - 1]
    assert nominal * 0.8 - 1e-6 <= pause.total_seconds() <= nominal * 1.2 + 1e-6


def test_a_scaled_schedule_keeps_its_shape() -> None:
    fast = RetrySchedule(scale=0.001, jitter=0)
    assert fast.pause_after(1, 0) == timedelta(milliseconds=5)
    assert fast.pause_after(2, 0) == timedelta(milliseconds=300)


def test_a_schedule_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="pause"):
        RetrySchedule(delays_seconds=())
    with pytest.raises(ValueError, match="jitter"):
        RetrySchedule(jitter=1)
    with pytest.raises(ValueError, match="scale"):
        RetrySchedule(scale=0)


@pytest.mark.parametrize(("status", "retry_after"), [(503, "5"), (429, "1"), (503, "0")])
def test_a_receiver_asking_for_short_pauses_is_still_given_the_whole_schedule_before_the_message_is_given_up(
    status: int, retry_after: str
) -> None:
    # A receiver briefly down behind a proxy that always says `Retry-After: 5` must not lose the message within a
    # minute when the same outage without the header would be retried for about three days.
    now, attempt = NOW, 1
    while (
        decision := decide(
            attempt=attempt,
            status_code=status,
            error=None,
            retry_after=retry_after,
            now=now,
            schedule=SCHEDULE,
            draw=0.5,
        )
    ).retry_at is not None:
        now, attempt = decision.retry_at, attempt + 1
    assert decision.verdict is Verdict.DEAD
    assert now - NOW >= timedelta(seconds=sum(SCHEDULE.delays_seconds))


def test_retry_after_asking_for_longer_than_the_schedule_is_waited_out() -> None:
    decision = decide(attempt=1, status_code=429, error=None, retry_after="120", now=NOW, schedule=SCHEDULE, draw=0.5)
    assert decision.retry_at == NOW + timedelta(seconds=120)
