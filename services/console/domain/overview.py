"""The audience overview page's charts, from profile's `GET /v1/overview` answer."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from services.console.domain.charts import BarChart, stacked_bars
from services.console.domain.i18n import Language, format_number, format_percent
from services.console.domain.pages import localized

STAGES = ("subscriber", "donor", "new", "active", "at_risk", "lapsed", "none")


@dataclass(frozen=True)
class OverviewCharts:
    seasons: BarChart
    stages: BarChart
    productions: BarChart
    conversion: BarChart
    # Each chart's rows with their figures, for the tables beside them.
    season_rows: list[Mapping[str, Any]]
    stage_rows: list[tuple[str, int]]
    production_rows: list[Mapping[str, Any]]
    conversion_rows: list[Mapping[str, Any]]


def overview_charts(overview: Mapping[str, Any], language: Language, stage_labels: Mapping[str, str]) -> OverviewCharts:
    # A chart profile did not give (one added since) is drawn empty.
    seasons = list(overview.get("seasons") or [])
    stages = [(stage["stage"], int(stage["patrons"])) for stage in overview.get("lifecycle_stages") or []]
    productions = list(overview.get("top_returning_productions") or [])
    conversion = list(overview.get("subscription_conversion") or [])
    return OverviewCharts(
        seasons=stacked_bars(
            [(season["season"], (season["new_patrons"], season["returning_patrons"])) for season in seasons],
            captions=[
                format_number(season["new_patrons"] + season["returning_patrons"], language) for season in seasons
            ],
        ),
        stages=stacked_bars(
            [(stage_labels.get(stage, stage), (patrons,)) for stage, patrons in stages],
            captions=[format_number(patrons, language) for _, patrons in stages],
        ),
        productions=stacked_bars(
            [
                (
                    _production_label(production, language),
                    (production["returning_patrons"], production["patrons"] - production["returning_patrons"]),
                )
                for production in productions
            ],
            captions=[
                f"{format_number(production['returning_patrons'], language)} / "
                f"{format_number(production['patrons'], language)}"
                for production in productions
            ],
        ),
        conversion=stacked_bars(
            [(row["season"], (row["rate"] * 100,)) for row in conversion],
            captions=[format_percent(row["rate"] * 100, language, decimals=1) for row in conversion],
            scale_to=100.0,
        ),
        season_rows=seasons,
        stage_rows=stages,
        production_rows=[production | {"label": _production_label(production, language)} for production in productions],
        conversion_rows=conversion,
    )


def _production_label(production: Mapping[str, Any], language: Language) -> str:
    return localized(production.get("title"), language) or str(production["production_id"])
