"""A request's query values with a `+` left as written, for look-ups of emails and phones typed into a URL."""

from urllib.parse import unquote

from fastapi import Request


def query_as_written(request: Request) -> dict[str, str]:
    """The query's values with a `+` left as written: a URL's `+` decodes to a space, and `%20` too, so only the
    query as sent tells a `+` left unescaped (`?email=jean+news@x.ca`) from a space the caller meant."""
    raw = request.scope.get("query_string", b"").decode("latin-1")
    pairs = (pair.partition("=") for pair in raw.split("&") if pair)
    return {unquote(name): unquote(value) for name, _, value in pairs}
