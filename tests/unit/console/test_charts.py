import pytest

from services.console.domain.charts import BAR_AREA, LABEL_WIDTH, ROW_HEIGHT, stacked_bars
from services.console.domain.i18n import Language
from services.console.domain.overview import overview_charts


def test_the_longest_total_fills_the_bar_area_and_others_are_drawn_to_its_scale() -> None:
    chart = stacked_bars([("2025-2026", (30, 10)), ("2026-2027", (10, 10))])
    first, second = chart.rows
    assert [segment.x for segment in first.segments] == [LABEL_WIDTH, LABEL_WIDTH + BAR_AREA * 0.75]
    assert sum(segment.width for segment in first.segments) == pytest.approx(BAR_AREA)
    assert sum(segment.width for segment in second.segments) == pytest.approx(BAR_AREA / 2)
    assert [row.y for row in chart.rows] == [0, ROW_HEIGHT]
    assert chart.height == 2 * ROW_HEIGHT
    assert [row.caption for row in chart.rows] == ["40", "20"]


def test_a_fixed_scale_keeps_rates_comparable_and_zero_or_negative_parts_draw_nothing() -> None:
    chart = stacked_bars([("a", (25.0,)), ("b", (0.0,)), ("c", (-3.0,))], scale_to=100.0, captions=["25 %", "0 %", "—"])
    assert chart.rows[0].segments[0].width == pytest.approx(BAR_AREA / 4)
    assert chart.rows[1].segments[0].width == 0
    assert chart.rows[2].segments[0].width == 0
    assert chart.rows[0].caption == "25 %"


def test_an_empty_chart_has_a_height_and_no_rows() -> None:
    chart = stacked_bars([])
    assert chart.rows == ()
    assert chart.height == ROW_HEIGHT


def test_the_overview_becomes_four_charts_with_their_figures_in_the_page_language() -> None:
    overview = {
        "seasons": [
            {"season": "2025-2026", "new_patrons": 40, "returning_patrons": 0},
            {"season": "2026-2027", "new_patrons": 1200, "returning_patrons": 25},
        ],
        "lifecycle_stages": [{"stage": "subscriber", "patrons": 3}, {"stage": "none", "patrons": 1}],
        "top_returning_productions": [
            {
                "production_id": "belles",
                "title": {"fr": "Les Belles-sœurs", "en": None},
                "returning_patrons": 10,
                "patrons": 40,
            },
            {"production_id": "gala", "returning_patrons": 5, "patrons": 5},
        ],
        "subscription_conversion": [{"season": "2026-2027", "single_ticket_buyers": 40, "converted": 5, "rate": 0.125}],
    }
    charts = overview_charts(overview, Language.FR, {"subscriber": "Abonné"})
    assert [row.caption for row in charts.seasons.rows] == ["40", "1\u202f225"]
    assert [row.label for row in charts.stages.rows] == ["Abonné", "none"]
    belles, gala = charts.productions.rows
    assert (belles.label, belles.caption) == ("Les Belles-sœurs", "10 / 40")
    assert [segment.value for segment in belles.segments] == [10, 30]
    assert gala.label == "gala"
    assert charts.conversion.rows[0].caption == "12,5\u00a0%"
    assert overview_charts(overview, Language.EN, {}).conversion.rows[0].caption == "12.5%"
    assert charts.production_rows[0]["label"] == "Les Belles-sœurs"
