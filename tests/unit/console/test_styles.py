"""The console's style sheet and templates, read as files: colours readable on their background, and every action
that changes the platform asking first."""

import re
from pathlib import Path

import pytest

STATIC = Path("services/console/static")
TEMPLATES = Path("services/console/templates")
STYLE_SHEET = (STATIC / "console.css").read_text(encoding="utf-8")


def _colour_of(selector: str, css_property: str) -> str:
    """The colour a rule gives, a `var(--name)` read from the sheet's custom properties."""
    rule = re.search(re.escape(selector) + r"\s*\{([^}]*)\}", STYLE_SHEET)
    assert rule is not None, selector
    value = re.search(rf"(?<![-\w]){css_property}:\s*([^;]+);", rule[1])
    assert value is not None, f"{selector} sets no {css_property}"
    named = re.fullmatch(r"var\((--[\w-]+)\)", value[1].strip())
    if named is None:
        return value[1].strip()
    custom = re.search(rf"{named[1]}:\s*(#[0-9a-fA-F]{{6}})", STYLE_SHEET)
    assert custom is not None, named[1]
    return custom[1]


def _luminance(colour: str) -> float:
    """WCAG 2's relative luminance of `#rrggbb`."""

    def linear(channel: int) -> float:
        value = channel / 255
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    red, green, blue = (int(colour[index : index + 2], 16) for index in (1, 3, 5))
    return 0.2126 * linear(red) + 0.7152 * linear(green) + 0.0722 * linear(blue)


def _contrast(first: str, second: str) -> float:
    lighter, darker = sorted((_luminance(first), _luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


@pytest.mark.parametrize(("selector", "css_property"), [(".chart .bar.second", "fill"), (".chart .bar", "fill")])
def test_every_chart_bar_stands_out_from_the_white_card_as_graphics_must(selector: str, css_property: str) -> None:
    assert _contrast(_colour_of(selector, css_property), "#ffffff") >= 3.0


def test_a_chart_s_second_bar_reads_as_a_lighter_shade_of_the_first() -> None:
    first, second = _colour_of(".chart .bar", "fill"), _colour_of(".chart .bar.second", "fill")
    assert _luminance(second) > _luminance(first)
    # The same hue: red leads, then blue, then green, as in the accent.
    channels = [int(second[index : index + 2], 16) for index in (1, 5, 3)]
    assert channels == sorted(channels, reverse=True)
    assert _colour_of(".legend span.second::before", "background") == second


def _forms(template: str) -> list[str]:
    return re.findall(r"<form\b[^>]*>", (TEMPLATES / template).read_text(encoding="utf-8"))


@pytest.mark.parametrize("template", sorted(path.name for path in TEMPLATES.glob("*.html")))
def test_every_replay_or_undo_button_asks_for_confirmation_first(template: str) -> None:
    risky = [form for form in _forms(template) if re.search(r'action="[^"]*/(replay|unmerge)"', form)]
    assert [form for form in risky if "data-confirm=" not in form] == []


def test_the_operations_page_has_a_replay_button_for_dead_letters_and_for_dead_deliveries() -> None:
    replays = [form for form in _forms("operations.html") if "/replay" in form]
    assert len(replays) == 2
