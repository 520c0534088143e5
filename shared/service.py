"""How every Parterre service is built and started: one FastAPI app with Kafka, the store, health and metrics.

Nothing connects at import or at construction: clients are opened in the app's lifespan, inside the
running event loop, and closed when it ends.
"""

import asyncio
import hmac
import logging
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, TypeVar

import uvicorn
from fastapi import APIRouter, FastAPI, Request, Response, status
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from faststream.kafka import KafkaBroker
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from pydantic import ValidationError
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint

from shared.access import TOKEN_INDEXES, refusal_before_reading
from shared.bilingual import BilingualValueError, in_language, language_of_environment
from shared.consumer_lag import LagReader
from shared.dead_letter_routes import router as dead_letter_router
from shared.errors import bilingual_error
from shared.events import Envelope
from shared.events.errors import FieldError, french_reason
from shared.gc_tuning import tune_garbage_collection
from shared.kafka import ConsumedRecord, ConsumerMetrics, abandon_sends, add_consumer, broker_producer, create_broker
from shared.logs import configure_logging, correlation_id_var
from shared.mongo import Document, IndexSpec, ensure_indexes, mongo_client, ping_store
from shared.settings import ServiceSettings, is_settings_error, settings_problems
from shared.tasks import cancel_and_wait
from shared.tokens import TOKENS_COLLECTION, TokenStore
from shared.yaml_models import ConfigFileError

log = logging.getLogger(__name__)

CORRELATION_HEADER = "X-Correlation-Id"
# The methods metrics name; any other a caller invents counts as `other`, so no caller can add time series.
_COUNTED_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


@dataclass
class Runtime:
    """The live clients of one service process, built in its lifespan and handed to its adapters."""

    settings: ServiceSettings
    registry: CollectorRegistry
    broker: KafkaBroker
    consumer_metrics: ConsumerMetrics
    mongo: AsyncMongoClient[Document] | None = None
    extras: dict[str, object] = field(default_factory=dict)
    # (group id, topic) of every subscription, for the lag gauge.
    subscriptions: list[tuple[str, str]] = field(default_factory=list)

    @property
    def database(self) -> AsyncDatabase[Document]:
        if self.mongo is None:
            raise RuntimeError("the store is not connected yet")
        return self.mongo[self.settings.mongo_database]

    @property
    def tokens(self) -> TokenStore:
        return TokenStore(self.database[TOKENS_COLLECTION])


def subscribe_to_events(
    runtime: Runtime,
    *,
    topic: str,
    group_id: str,
    handle: Callable[[ConsumedRecord[Envelope]], Awaitable[None]],
    concurrency: int = 1,
    handle_batch: Callable[[list[ConsumedRecord[Envelope]]], Awaitable[list[ConsumedRecord[Envelope]]]] | None = None,
) -> None:
    """How every service consumes platform events: CloudEvents envelopes, at least once, dead-lettered by group.
    The topic and group take the platform's namespace."""
    namespace = runtime.settings.kafka_namespace
    topic, group_id = namespace + topic, namespace + group_id
    runtime.subscriptions.append((group_id, topic))
    add_consumer(
        runtime.broker,
        topic=topic,
        group_id=group_id,
        decode=Envelope.from_json_bytes,
        handle=handle,
        settings=runtime.settings,
        metrics=runtime.consumer_metrics,
        concurrency=concurrency,
        handle_batch=handle_batch,
    )


@dataclass(frozen=True)
class ServiceParts:
    """What a service adds to the common shell; `wire` registers its subscribers before the broker starts."""

    title: str
    description: str
    routers: Sequence[APIRouter] = ()
    indexes: Sequence[IndexSpec] = ()
    wire: Callable[[Runtime], None] | None = None
    on_start: Callable[[Runtime], Awaitable[None]] | None = None
    on_stop: Callable[[Runtime], Awaitable[None]] | None = None


class _HttpMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "parterre_http_requests",
            "HTTP requests by route, status and the calling token's organisation (`none` before authentication).",
            ["method", "route", "status", "organisation"],
            registry=registry,
        )
        self.duration = Histogram(
            "parterre_http_request_duration_seconds",
            "HTTP request latency by route.",
            ["method", "route"],
            registry=registry,
        )


def create_service_app(settings: ServiceSettings, parts: ServiceParts) -> FastAPI:
    registry = CollectorRegistry()
    runtime = Runtime(
        settings=settings,
        registry=registry,
        broker=create_broker(settings, registry=registry),
        consumer_metrics=ConsumerMetrics(registry),
    )
    http_metrics = _HttpMetrics(registry)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with mongo_client(settings.mongo_url, app_name=f"parterre-{settings.service_name}") as client:
            runtime.mongo = client
            await ensure_indexes(runtime.database, [*TOKEN_INDEXES, *parts.indexes])
            if parts.wire is not None:
                parts.wire(runtime)
            if parts.on_start is not None:
                await parts.on_start(runtime)
            await runtime.broker.start()
            measuring = (
                asyncio.create_task(_measure_lag(runtime), name="consumer-lag")
                if runtime.subscriptions and settings.consumer_lag_interval_seconds > 0
                else None
            )
            log.info("%s ready on %s:%d", settings.service_name, settings.http_host, settings.http_port)
            try:
                yield
            finally:
                if measuring is not None:
                    await cancel_and_wait([measuring])
                if parts.on_stop is not None:
                    await parts.on_stop(runtime)
                await _stop_broker(runtime.broker, settings.shutdown_timeout_seconds)
                runtime.mongo = None

    app = FastAPI(title=parts.title, description=parts.description, version="1", lifespan=lifespan)
    app.state.runtime = runtime
    app.add_exception_handler(RequestValidationError, _refused_parameters)
    app.add_exception_handler(StarletteHTTPException, refused_by_router)
    app.openapi = lambda: _with_refusal_schema(app)  # type: ignore[method-assign]

    class ObservedRequests(BaseHTTPMiddleware):
        async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
            correlation_id = request.headers.get(CORRELATION_HEADER) or str(uuid.uuid4())
            token = correlation_id_var.set(correlation_id)
            started = time.perf_counter()
            try:
                response = await call_next(request)
            finally:
                correlation_id_var.reset(token)
            route = request.scope.get("route")
            route_path = getattr(route, "path", "unmatched")
            organisation = getattr(request.state, "organisation_id", "none")
            method = request.method if request.method in _COUNTED_METHODS else "other"
            http_metrics.requests.labels(method, route_path, str(response.status_code), organisation).inc()
            http_metrics.duration.labels(method, route_path).observe(time.perf_counter() - started)
            response.headers[CORRELATION_HEADER] = correlation_id
            return response

    app.add_middleware(ObservedRequests)

    @app.get("/healthz", tags=["operations"], summary="The process is up")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": settings.service_name, "kafka_namespace": settings.kafka_namespace}

    @app.get("/readyz", tags=["operations"], summary="Kafka and the store are reachable")
    async def readyz() -> JSONResponse:
        checks = {
            "kafka": await _check(
                lambda: runtime.broker.ping(timeout=settings.readiness_timeout_seconds),
                settings.readiness_timeout_seconds,
            ),
            "store": await _check(
                lambda: ping_store(runtime.mongo) if runtime.mongo else _false(),
                settings.readiness_timeout_seconds,
            ),
        }
        ready = all(state == "ok" for state in checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": checks}, status_code=200 if ready else 503
        )

    @app.get(
        "/metrics",
        tags=["operations"],
        summary="Prometheus metrics; with `PARTERRE_METRICS_TOKEN` set, for a request bearing it only",
        response_class=Response,
        responses={401: {}},
    )
    async def metrics(request: Request) -> Response:
        token = settings.metrics_token.get_secret_value()
        if token and not _bears(request, token):
            return JSONResponse(
                bilingual_error(
                    "metrics_token_required",
                    en="The metrics are read with the metrics token: Authorization: Bearer <token>.",
                    fr="Les métriques se lisent avec le jeton des métriques : Authorization: Bearer <jeton>.",
                ),
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    for router in parts.routers:
        app.include_router(router)
    # `wire` is where a service subscribes its consumers, so a service with one has dead letters to show.
    if parts.wire is not None:
        app.include_router(dead_letter_router)
    return app


def _bears(request: Request, token: str) -> bool:
    # Read as the API reads a token: the scheme in any case, spaces around the credentials.
    scheme, _space, credentials = request.headers.get("authorization", "").strip().partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(credentials.strip().encode(), token.encode())


async def _measure_lag(runtime: Runtime) -> None:
    """Sets `parterre_consumer_lag` for each of the service's groups now and then, until cancelled. Kafka away
    leaves the last values and is tried again at the next interval."""
    settings = runtime.settings
    while True:
        try:
            async with LagReader(settings.kafka_bootstrap) as reader:
                while True:
                    for group_id, topic in runtime.subscriptions:
                        runtime.consumer_metrics.lag.labels(group_id, topic).set(await reader.lag(group_id, topic))
                    await asyncio.sleep(settings.consumer_lag_interval_seconds)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            log.warning("could not measure the consumer lag: %r", error)
            await asyncio.sleep(settings.consumer_lag_interval_seconds)


async def _stop_broker(broker: KafkaBroker, limit_seconds: float) -> None:
    # With Kafka unreachable, the producer retries its unacknowledged batch forever and `stop` never returns.
    # Those events were never acknowledged to anyone (their callers got a 503), so giving up loses nothing.
    producer = broker_producer(broker)
    try:
        async with asyncio.timeout(limit_seconds):
            await broker.stop()
    except TimeoutError:
        log.error("Kafka did not let the broker stop within %.0f s; leaving unacknowledged sends behind", limit_seconds)
        if producer is not None:
            await abandon_sends(producer)


async def _false() -> bool:
    return False


async def _check(probe: Callable[[], Awaitable[bool]], limit_seconds: float) -> str:
    try:
        async with asyncio.timeout(limit_seconds):
            return "ok" if await probe() else "unreachable"
    except Exception as exc:  # a readiness probe reports any failure, it never raises
        return f"unreachable: {type(exc).__name__}"


SettingsT = TypeVar("SettingsT", bound=ServiceSettings)
T = TypeVar("T")


def serve(read_settings: Callable[[], SettingsT], build_app: Callable[[SettingsT], FastAPI]) -> None:
    """The one way every service process starts: its settings, logging, the collector's pace, then uvicorn on the
    configured port. A bad setting or rules file stops it with a line naming each problem (exit 2), not a traceback:
    the files are edited by hand, by people who are not programmers. The line is in French when the environment's
    locale is French, as `parterre` commands speak (`shared.bilingual.language_of_environment`)."""
    try:
        settings = read_settings()
    except ValidationError as exc:
        if not is_settings_error(exc):
            raise
        language = language_of_environment()
        for name, message in settings_problems(exc, language):
            print(
                in_language(language, en=f"error: {name}: {message}", fr=f"erreur : {name} : {message}"),
                file=sys.stderr,
            )
        sys.exit(2)
    configure_logging(settings.service_name, settings.log_level, settings.log_format)
    try:
        app = build_app(settings)
    except ConfigFileError as exc:
        language = language_of_environment()
        problems = exc.said_in(language)
        print(in_language(language, en=f"error: {problems}", fr=f"erreur : {problems}"), file=sys.stderr)
        sys.exit(2)
    except BilingualValueError as exc:
        # A setting each value of which passes, refused together (notify's secrets key missing on a service
        # listening beyond this machine).
        language = language_of_environment()
        print(in_language(language, en=f"error: {exc.en}", fr=f"erreur : {exc.fr}"), file=sys.stderr)
        sys.exit(2)
    tune_garbage_collection()
    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        lifespan="on",
        # uvloop, a dependency wherever it installs (not on Windows), else asyncio's own loop: see `run_as_served`.
        loop="auto",
    )


def run_as_served(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(main)` on the event loop `serve` runs the services on: uvloop where it is installed, else
    asyncio's own. A service run in this process (a benchmark's) then runs as it does on its own. Profile, in a
    process of its own, applied a flood of 20,000 facts at 626-701 updates/s on uvloop against 582-678 on asyncio's
    loop, spending 2-6% less CPU; the whole pipeline spent 1-2% less (three and two runs alternated, one machine)."""
    try:
        import uvloop
    except ImportError:  # a platform it does not install on
        return asyncio.run(main)
    return uvloop.run(main)


async def _refused_parameters(request: Request, exc: Exception) -> Response:
    """A request whose parameters or body the route refuses: 422 in the one shape of every error body, each field
    with its reason in English and French (never the value sent, which may be personal). A body that is no JSON is
    refused before the route's token is checked: the token's refusal comes first."""
    assert isinstance(exc, RequestValidationError)
    if any(error["type"] == "json_invalid" for error in exc.errors()) and (
        refusal := await refusal_before_reading(request)
    ):
        return await refused_by_router(request, refusal)
    fields = [
        FieldError(
            field=".".join(str(part) for part in error["loc"]),
            reason=error["msg"],
            reason_fr=french_reason(error["type"], error.get("ctx")),
            code=error["type"],
        ).model_dump()
        for error in exc.errors()
    ]
    detail = bilingual_error(
        "invalid_request",
        en="The request is refused: `fields` says which of its parameters and why.",
        fr="La demande est refusée : `fields` dit lesquels de ses paramètres et pourquoi.",
        fields=fields,
    )
    return JSONResponse({"detail": detail}, status_code=422)


# The router's own refusals, which carry only a phrase: in the one shape of every error body.
_ROUTER_REFUSALS = {
    404: ("not_found", "No such path.", "Chemin introuvable."),
    405: ("method_not_allowed", "This path does not take this method.", "Ce chemin n'accepte pas cette méthode."),
    # FastAPI's only 400: a body it cannot decode, JSON not in UTF-8 or a form not in the format its type names.
    400: (
        "unreadable_body",
        "The request's body cannot be read: it is not in the format its content type names, or not UTF-8 text.",
        "Le corps de la demande est illisible : il n'est pas dans le format que nomme son type de contenu, "
        "ou pas en texte UTF-8.",
    ),
}


async def refused_by_router(request: Request, exc: Exception) -> Response:
    """An HTTP error: a route's own body as it raised it; the router's (no such path, wrong method) made bilingual."""
    assert isinstance(exc, StarletteHTTPException)
    if isinstance(exc.detail, dict):
        return await http_exception_handler(request, exc)
    # FastAPI's own 400, a body it could not decode (JSON not in UTF-8, a broken form), is raised before the route's
    # token is checked.
    if exc.status_code == status.HTTP_400_BAD_REQUEST and (refusal := await refusal_before_reading(request)):
        return await http_exception_handler(request, refusal)
    code, en, fr = _ROUTER_REFUSALS.get(exc.status_code, ("http_error", str(exc.detail), "La demande est refusée."))
    return JSONResponse(
        {"detail": bilingual_error(code, en=en, fr=fr)}, status_code=exc.status_code, headers=exc.headers
    )


def _error_body_schema(title: str, code: str) -> dict[str, Any]:
    """The one shape of every refusal (see `shared.errors.bilingual_error`), as a schema of the OpenAPI document."""
    return {
        "title": title,
        "type": "object",
        "required": ["detail"],
        "properties": {
            "detail": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string", "description": code},
                    "message": {
                        "type": "object",
                        "required": ["en", "fr"],
                        "properties": {"en": {"type": "string"}, "fr": {"type": "string"}},
                    },
                    "fields": {"type": "array", "items": {"$ref": "#/components/schemas/FieldError"}},
                },
            }
        },
    }


# What `_refused_parameters` answers, as the OpenAPI document of every route says it (FastAPI's own shape otherwise),
# and what a route that refuses a parameter itself answers (`bad_lookup`, `target_refused`…).
_REFUSAL_SCHEMA = _error_body_schema(
    "HTTPValidationError",
    "`invalid_request` for parameters refused by their types, with `fields`; another code when the route refuses "
    "what it was sent itself.",
)
# Any other refusal a route lists, with a code of its own (`profile_not_found`, `review_decided`…).
_ERROR_SCHEMA = _error_body_schema("ErrorBody", "What was refused, for programs: stable across releases.")
# What a listed refusal means, where its route says no more (FastAPI writes "Additional Response" or the phrase).
_REFUSAL_MEANINGS = {
    "400": "The body is not what this route reads (not JSON, not an object).",
    "401": "No token, or a token that is unknown, revoked or expired.",
    "403": "The token lacks the scope this route needs.",
    "404": "Nothing of that id for the token's organisation.",
    "409": "Refused by the current state: `code` says which (already decided, under way…).",
    "413": "The body is larger than this route takes.",
    "415": "The body's media type is not one this route reads.",
    "422": "A parameter or the body is refused: `code`, and `fields` where it names them, say why.",
    "503": "A server this route needs is unavailable: try again after `Retry-After`.",
}


def _with_refusal_schema(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is None:
        schema = FastAPI.openapi(app)
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        if "HTTPValidationError" in schemas:
            schemas["HTTPValidationError"] = _REFUSAL_SCHEMA
        documented_error = False
        for operation in (operation for path in schema.get("paths", {}).values() for operation in path.values()):
            for status_code, response in operation.get("responses", {}).items():
                # A refusal listed bare (`{404: {}}`) gets the body every refusal has, so clients can be generated.
                if status_code.isdigit() and int(status_code) >= 400 and "content" not in response:
                    response["content"] = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
                    if response.get("description") in (
                        None,
                        "",
                        "Additional Response",
                        HTTPStatus(int(status_code)).phrase,
                    ):
                        response["description"] = _REFUSAL_MEANINGS.get(status_code, "Refused.")
                    documented_error = True
        if documented_error:
            schemas["ErrorBody"] = _ERROR_SCHEMA
        if documented_error or "HTTPValidationError" in schemas:
            schemas["FieldError"] = FieldError.model_json_schema()
        app.openapi_schema = schema
    return app.openapi_schema
