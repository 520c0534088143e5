"""The one shape of every error body Parterre's HTTP APIs return: a code, bilingual text, field details."""

from typing import Any


def bilingual_error(code: str, *, en: str, fr: str, fields: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": {"en": en, "fr": fr}}
    if fields is not None:
        body["fields"] = fields
    return body
