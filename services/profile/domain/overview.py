"""An organisation's audience at a glance, folded from its profiles one at a time: patrons new and returning by
season, lifecycle stages, the productions that bring audiences back, and conversion to subscriptions.

What the figures count:
- A patron is a profile (a person merged into another is counted once, as the profile holding their history).
- A patron's *seasons* are those in which they held a ticket for a performance (bought or received in an exchange,
  neither refunded nor given back) or were scanned at one, by the season the performance falls in, or held a
  subscription (a season pass or a membership, as `is_subscriber` counts them), by the season its first day falls
  in. A patron is *new* in their first season and *returning* in each later one.
- A production's *audience* is its patrons: those who held a ticket for one of its performances or were scanned at
  one. One of them is *returning* for it when they had a season earlier than the season of their first performance
  of it.
- Subscription conversion in season S: of the patrons who held tickets in the season before S without ever having
  held a subscription (its first day in that season or earlier), those whose first subscription starts in S. It
  compares one season with the next; a patron who buys single tickets and a subscription in the same season, or
  skips a season in between, is not counted. A subscription renewed under the same upstream id is remembered by its
  latest term only, so it counts from that term.
"""

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from services.profile.domain.profile import ProfileState, lifecycle_stage_of
from services.profile.domain.records import PerformanceRecord
from services.profile.domain.scores import LifecycleStage
from services.profile.domain.seasons import Season, SeasonCalendar

TOP_PRODUCTIONS = 10
# The stage of a patron who never bought or gave anything (`view` gives None).
NO_STAGE = "none"
STAGES: tuple[str, ...] = (*(stage.value for stage in LifecycleStage), NO_STAGE)
# The `ProfileState` fields the overview reads: a store may read only these and leave the rest at their defaults.
OVERVIEW_STATE_FIELDS = frozenset(
    {
        "tickets",
        "performances",
        "attended",
        "subscriptions",
        "first_subscription_at",
        "first_purchase_at",
        "last_purchase_at",
        "shop_orders",
        "first_donation_at",
        "last_donation_at",
        "latest_event_at",
    }
)


@dataclass(frozen=True, slots=True)
class SeasonPatrons:
    season: str
    new: int
    returning: int


@dataclass(frozen=True, slots=True)
class ProductionAudience:
    production_id: str
    returning: int
    patrons: int
    # The title a performance of it carried, when the box office gave one.
    title_fr: str | None = None
    title_en: str | None = None


@dataclass(frozen=True, slots=True)
class SubscriptionConversion:
    season: str
    # Single-ticket buyers of the season before, who had never held a subscription.
    single_ticket_buyers: int
    converted: int

    @property
    def rate(self) -> float:
        return round(self.converted / self.single_ticket_buyers, 4)


@dataclass(frozen=True, slots=True)
class AudienceOverview:
    computed_at: datetime
    current_season: str
    patrons: int
    # Patrons with at least one season (a ticket, a scan or a subscription).
    patrons_with_seasons: int
    # Every season some patron has, oldest first.
    seasons: tuple[SeasonPatrons, ...]
    # Patrons by `lifecycle_stage` at `computed_at`, every stage of `STAGES` in that order.
    lifecycle_stages: Mapping[str, int]
    # At most TOP_PRODUCTIONS, most returning patrons first, then largest audience, then by id.
    top_returning_productions: tuple[ProductionAudience, ...]
    # Every season some patron could convert in, oldest first.
    subscription_conversion: tuple[SubscriptionConversion, ...]


class OverviewTally:
    """The overview being folded: `add` each profile once, then `result`. Holds counters by season, stage and
    production, never the profiles, so memory does not grow with the organisation."""

    def __init__(self, *, as_of: datetime, seasons: SeasonCalendar) -> None:
        if as_of.tzinfo is None or as_of.utcoffset() is None:
            raise ValueError("as_of must be timezone-aware")
        self._as_of = as_of
        self._calendar = seasons
        self._patrons = 0
        self._with_seasons = 0
        self._seasons: dict[str, Season] = {}
        self._new: Counter[str] = Counter()
        self._returning: Counter[str] = Counter()
        self._stages: Counter[str] = Counter()
        self._audience: Counter[str] = Counter()
        self._returning_audience: Counter[str] = Counter()
        self._titles: dict[str, tuple[str | None, str | None]] = {}
        self._conversion_candidates: Counter[str] = Counter()
        self._converted: Counter[str] = Counter()

    def add(self, state: ProfileState) -> None:
        self._patrons += 1
        # As the profile API reads it: an event stamped ahead of the clock is not in the future of its own view.
        as_of = max(self._as_of, state.latest_event_at or self._as_of)
        stage = lifecycle_stage_of(state, as_of=as_of, seasons=self._calendar)
        self._stages[NO_STAGE if stage is None else stage.value] += 1

        performances = _attended_or_held(state)
        ticket_seasons = {self._season_of(performance.starts_at) for performance in performances}
        subscription_seasons = {
            self._season_of(self._calendar.start_of_day(record.starts_on)) for record in state.subscriptions.values()
        }
        active = ticket_seasons | subscription_seasons
        if not active:
            return
        self._with_seasons += 1
        first = min(active, key=_start)
        self._new[first.label] += 1
        self._returning.update(season.label for season in active if season != first)
        self._count_productions(performances, first)
        self._count_conversion(ticket_seasons, subscription_seasons)

    def result(self) -> AudienceOverview:
        ordered = sorted(self._seasons.values(), key=_start)
        productions = sorted(
            (
                ProductionAudience(
                    production_id,
                    returning,
                    self._audience[production_id],
                    *self._titles.get(production_id, (None, None)),
                )
                for production_id, returning in self._returning_audience.items()
            ),
            key=lambda production: (-production.returning, -production.patrons, production.production_id),
        )
        return AudienceOverview(
            computed_at=self._as_of,
            current_season=self._calendar.current(self._as_of).label,
            patrons=self._patrons,
            patrons_with_seasons=self._with_seasons,
            seasons=tuple(
                SeasonPatrons(season.label, self._new[season.label], self._returning[season.label])
                for season in ordered
                if self._new[season.label] or self._returning[season.label]
            ),
            lifecycle_stages={stage: self._stages[stage] for stage in STAGES},
            top_returning_productions=tuple(productions[:TOP_PRODUCTIONS]),
            subscription_conversion=tuple(
                SubscriptionConversion(season.label, candidates, self._converted[season.label])
                for season in ordered
                if (candidates := self._conversion_candidates[season.label])
            ),
        )

    def _count_productions(self, performances: Iterable[PerformanceRecord], first: Season) -> None:
        first_performance: dict[str, datetime] = {}
        for performance in performances:
            if performance.title_fr or performance.title_en:
                self._titles[performance.production_id] = (performance.title_fr, performance.title_en)
            known = first_performance.get(performance.production_id)
            if known is None or performance.starts_at < known:
                first_performance[performance.production_id] = performance.starts_at
        for production_id, starts_at in first_performance.items():
            self._audience[production_id] += 1
            if first.starts_at < self._season_of(starts_at).starts_at:
                self._returning_audience[production_id] += 1

    def _count_conversion(self, ticket_seasons: set[Season], subscription_seasons: set[Season]) -> None:
        first_subscription = min(subscription_seasons, key=_start, default=None)
        for season in ticket_seasons:
            if first_subscription is not None and first_subscription.starts_at <= season.starts_at:
                continue  # a subscriber by then: not a single-ticket buyer of that season
            following = self._season_of(season.ends_at)
            self._conversion_candidates[following.label] += 1
            if first_subscription == following:
                self._converted[following.label] += 1

    def _season_of(self, moment: datetime) -> Season:
        season = self._calendar.season_of(moment)
        # One instance per label: seasons compare and hash by value, and the result lists them by label.
        return self._seasons.setdefault(season.label, season)


def audience_overview(states: Iterable[ProfileState], *, as_of: datetime, seasons: SeasonCalendar) -> AudienceOverview:
    """The overview of these profiles (one per patron) at `as_of`."""
    tally = OverviewTally(as_of=as_of, seasons=seasons)
    for state in states:
        tally.add(state)
    return tally.result()


def _attended_or_held(state: ProfileState) -> list[PerformanceRecord]:
    """The performances the patron holds a ticket for or was scanned at, as `view` counts their productions."""
    held = {acquired.performance_id for record in state.tickets.values() if (acquired := record.held) is not None}
    return [
        state.performances[performance_id]
        for performance_id in sorted(held | state.attended.keys())
        if performance_id in state.performances
    ]


def _start(season: Season) -> datetime:
    return season.starts_at
