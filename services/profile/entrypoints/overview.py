"""The audience overview route: an organisation's patrons at a glance, for the staff console's charts."""

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from services.profile.context import ProfileDep
from services.profile.domain.overview import AudienceOverview
from shared.access import TOKEN_REFUSALS, SegmentsReader

router = APIRouter(tags=["profile"])


class SeasonPatronsBody(BaseModel):
    season: str = Field(description="The season's label, e.g. `2025-2026` (or `2026` for calendar-year seasons).")
    new_patrons: int = Field(description="Patrons whose first season this is.")
    returning_patrons: int = Field(description="Patrons of this season who had an earlier season.")


class LifecycleStageBody(BaseModel):
    stage: str = Field(
        description="A profile's `lifecycle_stage`: subscriber, donor, new, active, at_risk, lapsed; `none` for "
        "patrons who never bought or gave anything."
    )
    patrons: int


class ProductionTitleBody(BaseModel):
    fr: str | None = None
    en: str | None = None


class ProductionBody(BaseModel):
    production_id: str = Field(description="The production's id in the box office.")
    title: ProductionTitleBody = Field(description="The production's title as the box office gave it, when it did.")
    returning_patrons: int = Field(
        description="Patrons of the production who had a season before the season of their first performance of it."
    )
    patrons: int = Field(
        description="The production's audience: patrons who held a ticket for one of its performances or were "
        "scanned at one."
    )


class SubscriptionConversionBody(BaseModel):
    season: str = Field(description="The season of the subscriptions.")
    single_ticket_buyers: int = Field(
        description="Patrons who held tickets in the season before this one and had never held a subscription."
    )
    converted: int = Field(description="Those of them whose first subscription starts in this season.")
    rate: float = Field(description="`converted / single_ticket_buyers`, to four decimals.")


class OverviewTotalsBody(BaseModel):
    patrons: int = Field(
        description="The organisation's patrons: a person merged into another counts once, as the profile holding "
        "their history."
    )
    patrons_with_seasons: int = Field(description="Patrons who held a ticket, were scanned, or held a subscription.")


class OverviewBody(BaseModel):
    computed_at: datetime = Field(
        description="When the figures were computed: they are served as computed for "
        "`PARTERRE_PROFILE_OVERVIEW_CACHE_SECONDS` (5 minutes by default) unless `refresh=true` is asked."
    )
    current_season: str = Field(description="The season `computed_at` falls in.")
    totals: OverviewTotalsBody
    seasons: list[SeasonPatronsBody] = Field(description="Every season some patron has, oldest first.")
    lifecycle_stages: list[LifecycleStageBody] = Field(description="Every stage, in the order listed, `none` last.")
    top_returning_productions: list[ProductionBody] = Field(
        description="The ten productions with most returning patrons (then largest audience, then by id); "
        "productions that brought nobody back are left out."
    )
    subscription_conversion: list[SubscriptionConversionBody] = Field(
        description="Every season with single-ticket buyers the season before, oldest first; the season after the "
        "current one shows the conversion so far."
    )


@router.get(
    "/v1/overview",
    summary="The organisation's audience at a glance: new and returning patrons by season, lifecycle stages, "
    "the productions that bring patrons back, and conversion to subscriptions",
    responses=TOKEN_REFUSALS,
)
async def get_overview(
    principal: SegmentsReader,
    context: ProfileDep,
    refresh: Annotated[
        bool, Query(description="Compute the figures now rather than serve those computed in the last minutes.")
    ] = False,
) -> OverviewBody:
    """The figures read every profile of the organisation, so they are computed at most once per
    `PARTERRE_PROFILE_OVERVIEW_CACHE_SECONDS` and served as computed meanwhile (`computed_at` says when).

    - A patron's **seasons** are those in which they held a ticket for a performance (bought or received in an
      exchange, neither refunded nor given back) or were scanned at one, by the season of the performance, or held
      a subscription (season pass or membership), by the season of its first day. Seasons follow the organisation's
      season rules (`PARTERRE_PROFILE_SEASON_START_MONTH`, `PARTERRE_PROFILE_TIMEZONE`).
    - A patron is **new** in their first season and **returning** in each later season they have.
    - **Returning patrons of a production**: its patrons who had a season before the season of their first
      performance of it.
    - **Subscription conversion** in season S: of the patrons who held tickets in the season before S and had never
      held a subscription (none starting in that season or earlier), those whose first subscription starts in S.
      Conversion within one season, or across a season skipped, is not counted; a subscription renewed under the
      same upstream id counts from its latest term.
    """
    overview = await context.overviews.overview(
        context.deps,
        principal.organisation_id,
        fresh_for=timedelta(seconds=context.settings.profile_overview_cache_seconds),
        refresh=refresh,
    )
    return _body(overview)


def _body(overview: AudienceOverview) -> OverviewBody:
    return OverviewBody(
        computed_at=overview.computed_at,
        current_season=overview.current_season,
        totals=OverviewTotalsBody(patrons=overview.patrons, patrons_with_seasons=overview.patrons_with_seasons),
        seasons=[
            SeasonPatronsBody(season=season.season, new_patrons=season.new, returning_patrons=season.returning)
            for season in overview.seasons
        ],
        lifecycle_stages=[
            LifecycleStageBody(stage=stage, patrons=patrons) for stage, patrons in overview.lifecycle_stages.items()
        ],
        top_returning_productions=[
            ProductionBody(
                production_id=production.production_id,
                title=ProductionTitleBody(fr=production.title_fr, en=production.title_en),
                returning_patrons=production.returning,
                patrons=production.patrons,
            )
            for production in overview.top_returning_productions
        ],
        subscription_conversion=[
            SubscriptionConversionBody(
                season=conversion.season,
                single_ticket_buyers=conversion.single_ticket_buyers,
                converted=conversion.converted,
                rate=conversion.rate,
            )
            for conversion in overview.subscription_conversion
        ],
    )
