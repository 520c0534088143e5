"""The console's wired parts, built once when it starts, and what every page is rendered with."""

import functools
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Depends, Request
from fastapi.templating import Jinja2Templates
from jinja2 import StrictUndefined

from services.console.domain.i18n import (
    Catalog,
    Language,
    format_date,
    format_datetime,
    format_money,
    format_number,
    format_period,
)
from services.console.domain.pages import localized
from services.console.handlers import ConsoleDeps
from services.console.settings import ConsoleSettings

PACKAGE = Path(__file__).parent
CATALOG_FILE = PACKAGE / "messages.yaml"


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def load_catalog() -> Catalog:
    return Catalog.from_yaml(CATALOG_FILE.read_text(encoding="utf-8"), origin=str(CATALOG_FILE))


def page_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=PACKAGE / "templates")
    # A template naming an undefined variable is a bug to see, not an empty string to ship.
    templates.env.undefined = StrictUndefined
    return templates


@dataclass
class ConsoleContext:
    settings: ConsoleSettings
    deps: ConsoleDeps
    catalog: Catalog
    templates: Jinja2Templates

    @functools.cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.settings.profile_timezone)

    def words(self, language: Language) -> dict[str, Any]:
        """The helpers every template gets for the page's language."""

        def t(key: str, **values: Any) -> str:
            return self.catalog.text(key, language, **values)

        return {
            "t": t,
            "lang": language.value,
            "other_lang": (Language.EN if language is Language.FR else Language.FR).value,
            "date": lambda value: format_date(value, language, self.zone),
            "datetime": lambda value: format_datetime(value, language, self.zone),
            "number": lambda value, decimals=0: format_number(value, language, decimals=decimals),
            "money": lambda value: format_money(value, language),
            "period": lambda value: format_period(value, language, self.zone),
            "counted": lambda key, count, **values: self.catalog.counted(key, count, language, **values),
            "localized": lambda text: localized(text, language) or "",
            "known": self.catalog.has,
            "label": lambda prefix, code: self.catalog.label(prefix, str(code), language),
        }


def _console_context(request: Request) -> ConsoleContext:
    context = request.app.state.runtime.extras["console"]
    assert isinstance(context, ConsoleContext)
    return context


ConsoleDep = Annotated[ConsoleContext, Depends(_console_context)]
