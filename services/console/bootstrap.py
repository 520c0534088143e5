"""Builds the audience console: settings, the platform's API client, staff accounts and sessions, pages; nothing
happens at import."""

import logging
from datetime import timedelta
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint

from services.console.adapters.mongo import INDEXES, MongoSessionStore, MongoStaffDirectory
from services.console.adapters.platform_api import ApiError, PlatformApi, ServiceUnavailableError, ServiceUrls
from services.console.context import PACKAGE, ConsoleContext, SystemClock, load_catalog, page_templates
from services.console.domain.accounts import LoginThrottle
from services.console.entrypoints.http import (
    SESSION_COOKIE,
    BadFormError,
    LoginRequiredError,
    NotAllowedError,
    failed_action,
    page_language,
    render,
    router,
)
from services.console.handlers import Accounts, ConsoleDeps, current_session
from services.console.settings import ConsoleSettings
from shared.service import Runtime, ServiceParts, create_service_app, refused_by_router
from shared.settings import ServiceSettings

log = logging.getLogger(__name__)

# What a page that failed unexpectedly says, in both languages: no session or language may be known by then.
INTERNAL_ERROR_TEXT = (
    "Une erreur interne est survenue ; réessayez dans un moment.\nAn internal error occurred; try again in a moment.\n"
)

# Every asset is served from this site; nothing is fetched from another origin, and no page may be framed.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
# Where the console serves its stylesheets and scripts.
STATIC_PREFIX = "/static"


def console_settings(settings: ServiceSettings | None) -> ConsoleSettings:
    if isinstance(settings, ConsoleSettings):
        return settings
    return ConsoleSettings(**(settings or ConsoleSettings()).model_dump())


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    console = console_settings(settings)
    catalog = load_catalog()
    templates = page_templates()
    api = PlatformApi(
        ServiceUrls(
            ingest=console.console_ingest_url,
            identity=console.console_identity_url,
            profile=console.console_profile_url,
            notify=console.console_notify_url,
        ),
        timeout_seconds=console.console_api_timeout_seconds,
    )

    def wire(runtime: Runtime) -> None:
        runtime.extras["console"] = ConsoleContext(
            settings=console,
            deps=ConsoleDeps(
                accounts=Accounts(
                    staff=MongoStaffDirectory(runtime.database),
                    sessions=MongoSessionStore(runtime.database),
                    tokens=runtime.tokens,
                    clock=SystemClock(),
                ),
                api=api,
                throttle=LoginThrottle(
                    limit=console.console_login_attempts,
                    window=timedelta(minutes=console.console_lockout_minutes),
                ),
                session_length=timedelta(hours=console.console_session_hours),
                idle_limit=timedelta(minutes=console.console_idle_minutes),
            ),
            catalog=catalog,
            templates=templates,
        )

    async def on_start(_runtime: Runtime) -> None:
        await api.start()

    async def on_stop(_runtime: Runtime) -> None:
        await api.close()

    app = create_service_app(
        console,
        ServiceParts(
            title="Parterre console",
            description="The audience console: staff search patrons, review duplicates, read segments and operations.",
            routers=[router],
            indexes=INDEXES,
            wire=wire,
            on_start=on_start,
            on_stop=on_stop,
        ),
    )
    app.mount(STATIC_PREFIX, StaticFiles(directory=PACKAGE / "static"), name="static")

    def context_of(request: Request) -> ConsoleContext:
        context = request.app.state.runtime.extras["console"]
        assert isinstance(context, ConsoleContext)
        return context

    async def to_login(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LoginRequiredError)
        return RedirectResponse(f"/login?next={quote(exc.next_url, safe='/')}", status_code=303)

    async def not_allowed(request: Request, _exc: Exception) -> Response:
        context = context_of(request)
        active = await current_session(request.cookies.get(SESSION_COOKIE), context.deps)
        return render(request, context, page_language(request), "forbidden.html", active, status_code=403)

    async def bad_form(request: Request, _exc: Exception) -> Response:
        context = context_of(request)
        return render(request, context, page_language(request), "bad_form.html", None, status_code=403)

    async def refused_request(request: Request, _exc: Exception) -> Response:
        # A query or form the routes refuse (a value too long, not a number): said on a page, in the member's language,
        # not as the framework's JSON.
        context = context_of(request)
        active = await current_session(request.cookies.get(SESSION_COOKIE), context.deps)
        return render(request, context, page_language(request), "refused_request.html", active, status_code=422)

    async def no_page(request: Request, exc: Exception) -> Response:
        # An address that opens no page (mistyped, out of date, a form's address typed or taken from the history):
        # said on a page, in the member's language, not as the framework's JSON.
        assert isinstance(exc, StarletteHTTPException)
        # A file a browser asks for by itself (a stylesheet gone, the favicon) is no page anyone reads; any other
        # refusal (a broken form's 400) is answered as every service answers it.
        if (
            exc.status_code not in (404, 405)
            or isinstance(exc.detail, dict)
            or request.url.path.startswith(STATIC_PREFIX)
            or request.url.path == "/favicon.ico"
        ):
            return await refused_by_router(request, exc)
        context = context_of(request)
        active = await current_session(request.cookies.get(SESSION_COOKIE), context.deps)
        response = render(request, context, page_language(request), "no_page.html", active, status_code=exc.status_code)
        response.headers.update(exc.headers or {})
        return response

    async def action_failed(request: Request, exc: Exception) -> Response:
        # An action a service refused (409: already decided) or could not take (it is down): said on a page.
        assert isinstance(exc, ApiError | ServiceUnavailableError)
        context = context_of(request)
        active = await current_session(request.cookies.get(SESSION_COOKIE), context.deps)
        return failed_action(request, context, page_language(request), active, exc)

    app.add_exception_handler(ApiError, action_failed)
    app.add_exception_handler(ServiceUnavailableError, action_failed)
    app.add_exception_handler(LoginRequiredError, to_login)
    app.add_exception_handler(NotAllowedError, not_allowed)
    app.add_exception_handler(BadFormError, bad_form)
    app.add_exception_handler(RequestValidationError, refused_request)
    app.add_exception_handler(StarletteHTTPException, no_page)

    class SecurityHeaders(BaseHTTPMiddleware):
        async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
            try:
                response = await call_next(request)
            except Exception:
                # Answered here rather than by the server's last resort, which adds none of the headers below.
                log.exception("a console page failed: %s %s", request.method, request.url.path)
                response = PlainTextResponse(INTERNAL_ERROR_TEXT, status_code=500)
            response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
            response.headers.setdefault("X-Content-Type-Options", "nosniff")
            response.headers.setdefault("Referrer-Policy", "same-origin")
            response.headers.setdefault("X-Frame-Options", "DENY")
            return response

    app.add_middleware(SecurityHeaders)
    return app
