"""What an attempt's answer means for the message: done, retried when, dead-lettered, or the endpoint gone."""

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from enum import StrEnum

# Standard Webhooks' suggested schedule after the first, immediate attempt: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h,
# 14 h, 20 h, 24 h; about three days and ten attempts in all.
STANDARD_DELAYS_SECONDS: tuple[float, ...] = (5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400)
# A receiver asking for a longer pause than this is answered after this pause; its endpoint should be disabled by
# hand if it really wants silence for longer.
MAX_RETRY_AFTER = timedelta(days=1)
RETRY_AFTER_STATUSES = frozenset({429, 503})
# delay-seconds is ASCII digits only (`str.isdigit` takes `²` too), of any length: more digits than this are longer
# than the cap anyway, and are not converted (Python refuses over 4,300, a timedelta far fewer).
_DELAY_SECONDS = re.compile(r"[0-9]+")
_DELAY_DIGITS_READ = 9
# The one HTTP date form without a zone, always meant in GMT: `Sun Nov  6 08:49:37 1994` (RFC 9110, section 5.6.7).
_ASCTIME_DATE = re.compile(r"[A-Z][a-z]{2} [A-Z][a-z]{2} [ 0-9][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2} [0-9]{4}")
# A request timeout or an early-data refusal is the receiver's transient state, not a verdict on the message.
RETRYABLE_CLIENT_ERRORS = frozenset({408, 425, 429})


class Verdict(StrEnum):
    SUCCEEDED = "succeeded"
    RETRY = "retry"
    DEAD = "dead"
    # 410 Gone: the receiver says the endpoint no longer exists; its subscription is disabled.
    GONE = "gone"


@dataclass(frozen=True)
class RetrySchedule:
    """Pauses after each failed attempt, stretched by `scale` (tests shrink them) and spread by `jitter`.

    Jitter keeps the retries of many messages that failed together (an endpoint back from an outage) from arriving
    together again: each pause is drawn within ±`jitter` of its nominal length.
    """

    delays_seconds: tuple[float, ...] = STANDARD_DELAYS_SECONDS
    scale: float = 1.0
    jitter: float = 0.2

    def __post_init__(self) -> None:
        if not self.delays_seconds or any(delay < 0 for delay in self.delays_seconds):
            raise ValueError("a retry schedule lists at least one pause, none negative")
        if not 0 <= self.jitter < 1:
            raise ValueError("jitter is a fraction below 1")
        if self.scale <= 0:
            raise ValueError("the scale of a retry schedule is positive")

    @property
    def max_attempts(self) -> int:
        return len(self.delays_seconds) + 1

    def pause_after(self, attempt: int, draw: float) -> timedelta | None:
        """The pause after failed attempt number `attempt` (from 1), given `draw` in [0, 1); None once exhausted."""
        if not 0 <= draw < 1:
            raise ValueError("draw is a number in [0, 1)")
        if attempt < 1:
            raise ValueError("attempts count from 1")
        if attempt > len(self.delays_seconds):
            return None
        nominal = self.delays_seconds[attempt - 1] * self.scale
        return timedelta(seconds=nominal * (1 - self.jitter + 2 * self.jitter * draw))


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    retry_at: datetime | None = None
    reason: str | None = None

    @property
    def final(self) -> bool:
        return self.verdict is not Verdict.RETRY


def parse_retry_after(value: str | None, *, now: datetime) -> timedelta | None:
    """`Retry-After` as a pause: delay-seconds or an HTTP date (RFC 9110); None when absent or unreadable."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if _DELAY_SECONDS.fullmatch(text):
        if len(text.lstrip("0")) > _DELAY_DIGITS_READ:
            return MAX_RETRY_AFTER
        return min(timedelta(seconds=int(text)), MAX_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, OverflowError):
        # OverflowError: a year or an offset no date holds (`Wed, 01 Jan 99999999999999999999 00:00:10 GMT`).
        return None
    if when.tzinfo is None:
        if not _ASCTIME_DATE.fullmatch(text):
            return None
        when = when.replace(tzinfo=UTC)
    return max(when - now, timedelta(0))


def decide(
    *,
    attempt: int,
    status_code: int | None,
    error: str | None,
    retry_after: str | None,
    now: datetime,
    schedule: RetrySchedule,
    draw: float,
) -> Decision:
    """What to do after attempt `attempt` answered `status_code` (None: no answer, `error` says why)."""
    if status_code is not None and 200 <= status_code < 300:
        return Decision(Verdict.SUCCEEDED)
    if status_code == 410:
        return Decision(Verdict.GONE, reason="410 Gone: the receiver retired this endpoint")
    if status_code is not None and 300 <= status_code < 400:
        return Decision(Verdict.DEAD, reason=f"{status_code}: redirects are not followed; update the target URL")
    if status_code is not None and 400 <= status_code < 500 and status_code not in RETRYABLE_CLIENT_ERRORS:
        return Decision(Verdict.DEAD, reason=f"{status_code}: the receiver refused the message")
    reason = error if status_code is None else f"{status_code}"
    pause = schedule.pause_after(attempt, draw)
    if pause is None:
        return Decision(Verdict.DEAD, reason=f"{reason}; gave up after {attempt} attempts")
    if status_code in RETRY_AFTER_STATUSES:
        asked = parse_retry_after(retry_after, now=now)
        if asked is not None:
            # "Not before": a shorter pause than the schedule's would spend its attempts, meant to span days, in
            # seconds, and a brief outage would lose the message for good.
            pause = max(min(asked, MAX_RETRY_AFTER), pause)
            reason = f"{reason}; Retry-After: {math.ceil(min(asked, MAX_RETRY_AFTER).total_seconds())}"
    return Decision(Verdict.RETRY, retry_at=now + pause, reason=reason)
