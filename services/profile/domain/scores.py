"""Scores read from a profile at a moment: RFM, lifecycle stage and engagement, with their documented thresholds."""

import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from services.profile.domain.seasons import add_months
from shared.records import quick_init


@dataclass(frozen=True, slots=True)
class RfmThresholds:
    """Where each RFM score steps from 1 up to 5.

    The defaults suit an arts audience: most single-ticket buyers come once or twice a year and spend under
    $250; a subscriber spends $250–$500 a season; $1,000 and more is a patron or a donor.
    """

    # Recency scores 5 under the first number of days since the last transaction, 4 under the second, 3 under
    # the third, 2 under the fourth, and 1 from then on.
    recency_days: tuple[int, int, int, int] = (90, 180, 365, 730)
    # Frequency scores 2 from the first number of transactions, 3 from the second, 4 from the third, 5 from the last.
    frequency: tuple[int, int, int, int] = (2, 3, 5, 10)
    # Monetary scores 2 from the first total spend, 3 from the second, 4 from the third, 5 from the last.
    monetary: tuple[Decimal, Decimal, Decimal, Decimal] = (Decimal(100), Decimal(250), Decimal(500), Decimal(1000))

    def __post_init__(self) -> None:
        for name in ("recency_days", "frequency", "monetary"):
            steps = getattr(self, name)
            if len(steps) != 4 or steps[0] <= 0 or any(low >= high for low, high in itertools.pairwise(steps)):
                raise ValueError(f"{name} needs four positive thresholds in increasing order, not {steps}")


DEFAULT_RFM = RfmThresholds()


@quick_init
@dataclass(frozen=True, slots=True)
class Rfm:
    recency: int
    frequency: int
    monetary: int

    @property
    def score(self) -> str:
        """The three scores as one code, e.g. `545`, the way RFM cells are usually named."""
        return f"{self.recency}{self.frequency}{self.monetary}"


def rfm(
    *,
    last_transaction_at: datetime | None,
    transactions: int,
    spend: Decimal,
    as_of: datetime,
    thresholds: RfmThresholds = DEFAULT_RFM,
) -> Rfm | None:
    """Recency, frequency and monetary scores; None for someone who never bought or gave anything."""
    if last_transaction_at is None:
        return None
    elapsed = as_of - last_transaction_at
    recency = 5 - sum(elapsed >= timedelta(days=days) for days in thresholds.recency_days)
    frequency = 1 + sum(transactions >= step for step in thresholds.frequency)
    monetary = 1 + sum(spend >= step for step in thresholds.monetary)
    return Rfm(recency, frequency, monetary)


def recency_steps(last_transaction_at: datetime | None, thresholds: RfmThresholds = DEFAULT_RFM) -> list[datetime]:
    """The instants at which the recency score drops."""
    if last_transaction_at is None:
        return []
    return [last_transaction_at + timedelta(days=days) for days in thresholds.recency_days]


class LifecycleStage(StrEnum):
    SUBSCRIBER = "subscriber"
    DONOR = "donor"
    NEW = "new"
    ACTIVE = "active"
    AT_RISK = "at_risk"
    LAPSED = "lapsed"


# A gift within this many months makes a donor.
DONOR_MONTHS = 24
# A first transaction within this many days makes a new patron.
NEW_PATRON_DAYS = 90
# A patron whose last transaction is AT_RISK_AFTER_MONTHS old is at risk, and LAPSED_AFTER_MONTHS old lapsed;
# active before. The same spans as the shipped `at-risk` (6 to 12 months) and `lapsed-buyers` segments.
AT_RISK_AFTER_MONTHS = 6
LAPSED_AFTER_MONTHS = 12


def lifecycle_stage(
    *,
    subscribed: bool,
    last_donation_at: datetime | None,
    first_transaction_at: datetime | None,
    last_transaction_at: datetime | None,
    as_of: datetime,
) -> LifecycleStage | None:
    """The first stage that applies, in the order subscriber, donor, new, active, at risk, lapsed.

    Transactions are purchases (tickets, passes, shop) and gifts; someone with none has no stage (None).
    """
    if subscribed:
        return LifecycleStage.SUBSCRIBER
    if last_donation_at is not None and as_of < add_months(last_donation_at, DONOR_MONTHS):
        return LifecycleStage.DONOR
    if first_transaction_at is None or last_transaction_at is None:
        return None
    if as_of < first_transaction_at + timedelta(days=NEW_PATRON_DAYS):
        return LifecycleStage.NEW
    if as_of < add_months(last_transaction_at, AT_RISK_AFTER_MONTHS):
        return LifecycleStage.ACTIVE
    if as_of < add_months(last_transaction_at, LAPSED_AFTER_MONTHS):
        return LifecycleStage.AT_RISK
    return LifecycleStage.LAPSED


def lifecycle_steps(
    *, last_donation_at: datetime | None, first_transaction_at: datetime | None, last_transaction_at: datetime | None
) -> list[datetime]:
    """The instants at which the stage may change with time alone (subscriptions ending aside)."""
    steps = [] if last_donation_at is None else [add_months(last_donation_at, DONOR_MONTHS)]
    if first_transaction_at is not None:
        steps.append(first_transaction_at + timedelta(days=NEW_PATRON_DAYS))
    if last_transaction_at is not None:
        steps += [
            add_months(last_transaction_at, AT_RISK_AFTER_MONTHS),
            add_months(last_transaction_at, LAPSED_AFTER_MONTHS),
        ]
    return steps


# Engagement points, 100 in all: 2 an email opened in the last 90 days (up to 20), 4 a click (up to 20), 25 for
# a performance attended in the last ATTENDANCE_DAYS, 5 per step of RFM recency (up to 25), 1 per social
# engagement ever (up to 10).
OPEN_POINTS, OPEN_POINTS_CAP = 2, 20
CLICK_POINTS, CLICK_POINTS_CAP = 4, 20
ATTENDANCE_POINTS, ATTENDANCE_DAYS = 25, 365
RECENCY_POINTS = 5
SOCIAL_POINTS, SOCIAL_POINTS_CAP = 1, 10


def engagement_score(
    *,
    opens_90d: int,
    clicks_90d: int,
    last_attended_at: datetime | None,
    recency: int | None,
    social_engagements: int,
    as_of: datetime,
) -> int:
    """How engaged the person is, from 0 to 100."""
    attended_lately = last_attended_at is not None and as_of < last_attended_at + timedelta(days=ATTENDANCE_DAYS)
    return (
        min(opens_90d * OPEN_POINTS, OPEN_POINTS_CAP)
        + min(clicks_90d * CLICK_POINTS, CLICK_POINTS_CAP)
        + (ATTENDANCE_POINTS if attended_lately else 0)
        + (recency or 0) * RECENCY_POINTS
        + min(social_engagements * SOCIAL_POINTS, SOCIAL_POINTS_CAP)
    )
