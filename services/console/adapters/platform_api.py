"""The platform's HTTP APIs as the console calls them: every call carries the staff member's session token, so each
service checks the member's scopes itself, and the console never reads a database the services own."""

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import BaseModel, ValidationError

SERVICES = ("ingest", "identity", "profile", "notify")

log = logging.getLogger(__name__)
# Refusals that go away by themselves: too many requests at once, a request too slow, one sent too early.
RETRY_LATER = frozenset({408, 425, 429})


class ApiError(Exception):
    """A service answered with an error: its status, code and bilingual message (Parterre's error shape)."""

    def __init__(self, service: str, status_code: int, code: str, message: Mapping[str, str]) -> None:
        super().__init__(f"{service} answered {status_code} {code}: {message.get('en', '')}")
        self.service = service
        self.status_code = status_code
        self.code = code
        self.message = dict(message)


class MalformedAnswerError(ApiError):
    """A service answered with success, but not as its API promises: with a body that is not JSON, or without a
    field the console needs (`where` names them, never their values)."""

    def __init__(self, service: str, where: Sequence[str] = ()) -> None:
        place = f" ({', '.join(where)})" if where else ""
        super().__init__(
            service,
            502,
            "malformed_answer",
            {
                "en": f"The {service} service gave an answer the console cannot read{place}; ask whoever runs "
                "Parterre to look at its log.",
                "fr": f"Le service {service} a donné une réponse que la console ne peut pas lire{place} ; demandez à "
                "qui administre Parterre de consulter son journal.",
            },
        )
        self.where = tuple(where)


class ServiceUnavailableError(Exception):
    """A service did not answer at all."""

    def __init__(self, service: str, reason: str) -> None:
        super().__init__(f"{service} is not answering: {reason}")
        self.service = service


@dataclass(frozen=True)
class ServiceUrls:
    ingest: str
    identity: str
    profile: str
    notify: str

    def of(self, service: str) -> str:
        url: str = getattr(self, service)
        return url.rstrip("/")


class PlatformApi:
    def __init__(
        self, urls: ServiceUrls, *, timeout_seconds: float, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self._urls = urls
        self._timeout = timeout_seconds
        # None: the network. A test gives one answering as the services would.
        self._transport = transport
        self._client: httpx.AsyncClient | None = None

    async def start(self) -> None:
        self._client = httpx.AsyncClient(timeout=self._timeout, transport=self._transport)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def call(
        self,
        service: str,
        method: str,
        path: str,
        *,
        token: str,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        shape: type[BaseModel] | None = None,
    ) -> Any:
        """The JSON answer, read as `shape` if given (see `read_answer`); ApiError for an error answer,
        MalformedAnswerError for a success that is not JSON or not of that shape, ServiceUnavailableError when
        nothing answers."""
        response = await self._send(service, method, path, token=token, params=params, json=json)
        try:
            body = response.json() if response.content else None
        except ValueError:
            # A proxy's page or a crash's text with a success status: the body may quote the address, not logged.
            log.warning(
                "%s answered %d with a body that is not JSON (%s)",
                service,
                response.status_code,
                response.headers.get("content-type", "no content type"),
            )
            raise MalformedAnswerError(service) from None
        return body if shape is None else read_answer(service, shape, body)

    async def text(self, service: str, path: str, *, token: str | None = None) -> str:
        response = await self._send(service, "GET", path, token=token)
        return response.text

    @asynccontextmanager
    async def stream(
        self, service: str, path: str, *, token: str, params: Mapping[str, Any] | None = None
    ) -> AsyncIterator[httpx.Response]:
        """An answer read as it comes (a CSV export of any size); raises like `call` before the body is read."""
        request = self._http.build_request("GET", self._url(service, path), params=_clean(params), headers=_auth(token))
        try:
            response = await self._http.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise ServiceUnavailableError(service, type(exc).__name__) from exc
        try:
            if response.status_code >= 400:
                await response.aread()
                raise _error(service, response)
            yield response
        finally:
            await response.aclose()

    async def gather(self, **calls: Any) -> dict[str, Any]:
        """Several calls at once, by name; a failed call's value is its exception, for the page to show."""
        names = list(calls)
        results = await asyncio.gather(*calls.values(), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, ApiError | ServiceUnavailableError):
                raise result
        return dict(zip(names, results, strict=True))

    def _url(self, service: str, path: str) -> str:
        # An id typed as `.` or `..` would climb to another of the service's routes once the client normalises the
        # path (`/v1/persons/../erase` is `/v1/erase`): it names nobody.
        if any(segment in {".", ".."} for segment in path.partition("?")[0].split("/")):
            raise ApiError(service, 404, "not_found", {"en": "Nothing with this id.", "fr": "Rien à cet identifiant."})
        return self._urls.of(service) + path

    @property
    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            raise RuntimeError("the platform API client is not started")
        return self._client

    async def _send(
        self,
        service: str,
        method: str,
        path: str,
        *,
        token: str | None,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
    ) -> httpx.Response:
        try:
            response = await self._http.request(
                method,
                self._url(service, path),
                params=_clean(params),
                json=json,
                headers=_auth(token),
            )
        except httpx.HTTPError as exc:
            raise ServiceUnavailableError(service, type(exc).__name__) from exc
        if response.status_code >= 400:
            raise _error(service, response)
        return response


def read_answer(service: str, shape: type[BaseModel], body: Any) -> dict[str, Any]:
    """`body` as the page reads it: every field of `shape` present, those the service left out as null, others kept
    as given. MalformedAnswerError when a field the page needs is missing or not of its type."""
    try:
        answer = shape.model_validate(body)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        where = [".".join(str(part) for part in error["loc"]) for error in errors]
        # Where and why, never the values: an answer holds patrons' data.
        log.warning(
            "%s gave an answer the console cannot read as %s: %s",
            service,
            shape.__name__,
            "; ".join(f"{place or 'the answer'}: {error['type']}" for place, error in zip(where, errors, strict=True)),
        )
        shown = [place for place in where if place]
        raise MalformedAnswerError(service, shown[:3]) from None
    return answer.model_dump(by_alias=True)


def _auth(token: str | None) -> dict[str, str]:
    return {} if token is None else {"Authorization": f"Bearer {token}"}


def _clean(params: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return None if params is None else {name: value for name, value in params.items() if value is not None}


def _error(service: str, response: httpx.Response) -> ApiError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, dict) and isinstance(detail.get("message"), dict):
        return ApiError(service, response.status_code, str(detail.get("code", "error")), detail["message"])
    # Any other body (a crash's `Internal Server Error`, a proxy's HTML page) says nothing staff can read in their
    # language: the service and its status do, and the log tells whoever runs the platform which answer it was.
    status_code = response.status_code
    # Not the body: a proxy's page may repeat the address asked for, and a search's address holds a patron's name.
    log.warning(
        "%s answered %d without Parterre's error shape (%s)",
        service,
        status_code,
        response.headers.get("content-type", "no content type"),
    )
    if status_code >= 500 or status_code in RETRY_LATER:
        en_next, fr_next = "try again in a moment", "réessayez dans un moment"
    else:
        # Asking again gets the same answer: whoever runs the platform can tell why from the log.
        en_next, fr_next = (
            "ask whoever runs Parterre to look at its log",
            "demandez à qui administre Parterre de consulter son journal",
        )
    return ApiError(
        service,
        status_code,
        "error",
        {
            "en": f"The {service} service answered with an error ({status_code}); {en_next}.",
            "fr": f"Le service {service} a répondu par une erreur ({status_code}) ; {fr_next}.",
        },
    )
