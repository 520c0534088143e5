"""How look-ups read the values typed into a URL: a `+` left as written, and values made only of spaces."""

from collections.abc import Mapping
from urllib.parse import unquote

from fastapi import Request


def query_as_written(request: Request) -> dict[str, str]:
    """The query's values with a `+` left as written: a URL's `+` decodes to a space, and `%20` too, so only the
    query as sent tells a `+` left unescaped (`?email=jean+news@x.ca`) from a space the caller meant."""
    raw = request.scope.get("query_string", b"").decode("latin-1")
    pairs = (pair.partition("=") for pair in raw.split("&") if pair)
    return {unquote(name): unquote(value) for name, _, value in pairs}


def leading_plus_as_written(name: str, value: str, as_written: Mapping[str, str]) -> str:
    """`value`, the query's `name` as decoded, with the `+` it was written with at its start. Only a leading `+`
    tells anything in a phone, its country code: `?phone=+4312345678` decodes to ` 4312345678`, which reads as a
    local number, and any other `+` left unescaped (`?phone=+33+1+42+68+53+00`) was a space."""
    return "+" + value[1:] if as_written.get(name, value).startswith("+") else value


def blank_values(values: Mapping[str, str | None]) -> list[str]:
    """The names of the values made only of spaces (or other blanks). An empty value (`?email=`) counts as not
    given, as a form's empty field sends it; spaces were typed and find no one, so a look-up refuses them by name
    rather than answer that nobody holds them."""
    return [name for name, value in values.items() if value and not value.strip()]


def blank_reason(names: list[str]) -> tuple[str, str]:
    """Why blank values are refused, in English and French."""
    if len(names) == 1:
        return (
            f"{names[0]} is blank: give the value to look up.",
            f"{names[0]} est vide : indiquez la valeur à chercher.",
        )
    listed_en, listed_fr = " and ".join(names), " et ".join(names)
    return (
        f"{listed_en} are blank: give the values to look up.",
        f"{listed_fr} sont vides : indiquez les valeurs à chercher.",
    )
