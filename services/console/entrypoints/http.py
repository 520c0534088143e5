"""The console's pages: each route checks the session (and its scope), calls the platform's APIs through a handler,
and renders a template. Forms post back with the session's CSRF token; every page is in French or English."""

import hmac
import re
import secrets
from collections.abc import AsyncIterator
from typing import Annotated, Any
from urllib.parse import quote, unquote, urlsplit

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from pydantic import StringConstraints
from starlette.routing import Match

from services.console import pages
from services.console.adapters.platform_api import RETRY_LATER, ApiError, ServiceUnavailableError
from services.console.context import ConsoleContext, ConsoleDep
from services.console.domain.accounts import notice_signature
from services.console.domain.i18n import Language, choose_language
from services.console.domain.overview import STAGES
from services.console.domain.pages import pager
from services.console.domain.passwords import MAX_PASSWORD_LENGTH
from services.console.handlers import (
    ActiveSession,
    LoginRefusedError,
    current_session,
    end_session_of,
    log_in,
    log_out,
)
from shared.spreadsheets import CsvSeparator
from shared.tokens import Scope

router = APIRouter(include_in_schema=False)

SESSION_COOKIE = "parterre_session"
LANGUAGE_COOKIE = "parterre_lang"
LOGIN_CSRF_COOKIE = "parterre_login_csrf"
NOTICE_COOKIE = "parterre_notice"
# A notice not shown this soon after its action (the page it leads to did not open) is not shown later.
NOTICE_SECONDS = 60
ONE_YEAR = 365 * 24 * 3600


class LoginRequiredError(Exception):
    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


class NotAllowedError(Exception):
    """The member's roles do not grant what the page needs."""


class BadFormError(Exception):
    """A form posted without the session's CSRF token."""


def page_language(request: Request) -> Language:
    return choose_language(request.cookies.get(LANGUAGE_COOKIE), request.headers.get("accept-language"))


PageLanguage = Annotated[Language, Depends(page_language)]


async def _staff_session(request: Request, context: ConsoleDep) -> ActiveSession:
    active = await current_session(request.cookies.get(SESSION_COOKIE), context.deps)
    if active is None:
        raise LoginRequiredError(_page_to_return_to(request))
    request.state.organisation_id = active.session.organisation_id
    return active


StaffSession = Annotated[ActiveSession, Depends(_staff_session)]


def require(active: ActiveSession, *scopes: Scope) -> None:
    if not all(active.allows(scope) for scope in scopes):
        raise NotAllowedError


async def _checked_form(request: Request, active: StaffSession) -> ActiveSession:
    form = await request.form()
    sent = form.get("csrf_token")
    if not isinstance(sent, str) or not _same_secret(sent, active.session.csrf_token):
        raise BadFormError
    return active


def _same_secret(sent: str, expected: str) -> bool:
    """Compared in constant time as bytes: `hmac.compare_digest` raises on a str holding anything but ASCII, which
    anyone can post."""
    return hmac.compare_digest(sent.encode(), expected.encode())


def _secure_cookies(request: Request, context: ConsoleContext) -> bool:
    """A cookie set over HTTPS is never sent back over plain HTTP, whatever the setting says for plain-HTTP use."""
    return context.settings.console_secure_cookies or request.url.scheme == "https"


# A POST route's session, once its form carried the session's CSRF token.
CheckedSession = Annotated[ActiveSession, Depends(_checked_form)]


def render(
    request: Request,
    context: ConsoleContext,
    language: Language,
    template: str,
    active: ActiveSession | None,
    status_code: int = 200,
    **values: Any,
) -> HTMLResponse:
    response = context.templates.TemplateResponse(
        request,
        template,
        {
            **context.words(language),
            "staff": active.session if active else None,
            "csrf_token": active.session.csrf_token if active else "",
            "can": lambda scope: active is not None and scope in {granted.value for granted in active.session.scopes},
            "here": _page_shown(request),
            "flash": _notice(request, active),
            **values,
        },
        status_code=status_code,
    )
    # Pages carry personal information: never kept by a shared cache or the browser's history cache.
    response.headers["Cache-Control"] = "no-store"
    if NOTICE_COOKIE in request.cookies:
        # A notice is said once, on the first page opened after its action, or not at all.
        response.delete_cookie(NOTICE_COOKIE, httponly=True, samesite="lax", secure=_secure_cookies(request, context))
    return response


def _done(request: Request, context: ConsoleContext, page: str, done: str, secret: str) -> RedirectResponse:
    """Sends the browser to `page`, which says there, once, that `done` was done (`done.<done>` in the catalog).
    The notice travels in a cookie signed with a secret only this browser holds (its session's cookie; once logged
    out, its sign-in form's), never in the address: a link cannot make a page claim that an action was taken."""
    response = _see(page)
    signature = notice_signature(secret, done, unquote(urlsplit(page).path))
    response.set_cookie(
        NOTICE_COOKIE,
        f"{done}.{signature}",
        max_age=NOTICE_SECONDS,
        httponly=True,
        samesite="lax",
        secure=_secure_cookies(request, context),
    )
    return response


def _notice(request: Request, active: ActiveSession | None) -> str | None:
    """The action this page is to say was done, if the browser's notice was signed for its session and this page;
    logged out, the secret is the sign-in form's cookie, set when logging out."""
    sent = request.cookies.get(NOTICE_COOKIE)
    secret = active.cookie if active is not None else request.cookies.get(LOGIN_CSRF_COOKIE)
    if not sent or not secret:
        return None
    done, _, signature = sent.partition(".")
    expected = notice_signature(secret, done, request.scope["path"])
    return done if _same_secret(signature, expected) else None


# What the erasure log keeps of a reason, as the textarea and profile's API count it.
MAX_ERASURE_REASON = 2000


def _page_to_return_to(request: Request) -> str:
    """Where to go once logged in again: the page asked for; for a form posted after the session ended, the page it
    was posted from, as the address a form posts to answers nothing else."""
    if request.method in ("GET", "HEAD"):
        return _this_page(request)
    referer = urlsplit(request.headers.get("referer") or "")
    if referer.netloc != request.url.netloc or not _answers_get(request, referer.path):
        # Another site, or a page served where a form posted (a refusal, a failure): only a page that opens will do.
        return "/"
    return _local_path(referer.path + ("?" + referer.query if referer.query else ""))


def _page_shown(request: Request) -> str:
    """The page a link to this one opens again (switching language): a page answering a form posted where no page
    opens (a refusal, a failure) stands for the page the form was posted from."""
    if request.method in ("GET", "HEAD") or _answers_get(request, request.url.path):
        return _this_page(request)
    return _page_to_return_to(request)


def _this_page(request: Request) -> str:
    return _local_path(str(request.url.path) + ("?" + request.url.query if request.url.query else ""))


def _answers_get(request: Request, path: str) -> bool:
    scope = {"type": "http", "method": "GET", "path": path, "root_path": ""}
    return any(route.matches(scope)[0] is Match.FULL for route in request.app.routes)


def _local_path(target: str | None, default: str = "/") -> str:
    """`target` if it is a path on this site; anything else (another host, `//evil`) becomes `default`."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    parts = urlsplit(target)
    return default if parts.scheme or parts.netloc else target


def _file_name(text: str) -> str:
    """`text` as a download's file name: letters, digits, dots, dashes and underscores only."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)[:100] or "export"


def _see(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


# ---------------------------------------------------------------------------------------------------------------
# Logging in and out, language


@router.get("/login")
async def login_page(request: Request, context: ConsoleDep, language: PageLanguage, next: str = "/") -> Response:
    if await current_session(request.cookies.get(SESSION_COOKIE), context.deps) is not None:
        return _see(_local_path(next))
    return _login_form(request, context, language, next_url=_local_path(next))


def _login_form(
    request: Request,
    context: ConsoleContext,
    language: Language,
    *,
    next_url: str,
    error: str | None = None,
    username: str = "",
) -> HTMLResponse:
    login_csrf = secrets.token_urlsafe(32)
    response = render(
        request,
        context,
        language,
        "login.html",
        None,
        status_code=401 if error else 200,
        next_url=next_url,
        error=error,
        username=username,
        login_csrf=login_csrf,
    )
    _set_login_csrf(response, request, context, login_csrf)
    return response


def _set_login_csrf(response: Response, request: Request, context: ConsoleContext, login_csrf: str) -> None:
    """The sign-in form's secret, which its hidden field must repeat (and which signs the notice of a logout)."""
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        login_csrf,
        max_age=3600,
        httponly=True,
        samesite="strict",
        secure=_secure_cookies(request, context),
    )


# The longest sign-in fields read. Longer ones are not refused by the framework but said on the sign-in form, which
# comes back with what was typed: a page address saved with a long query, or a paste gone wrong, must not end on a
# page that is no way to sign in.
MAX_LOGIN_USERNAME = 200
MAX_LOGIN_NEXT = 2000


@router.post("/login")
async def login(
    request: Request,
    context: ConsoleDep,
    language: PageLanguage,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
    login_csrf: Annotated[str, Form()] = "",
) -> Response:
    too_long = _too_long_to_sign_in(username, password, next)
    # The page to return to is kept only if it can be sent again; else signing in leads home.
    next_url = "/" if len(next) > MAX_LOGIN_NEXT else _local_path(next)
    expected = request.cookies.get(LOGIN_CSRF_COOKIE) or ""
    if not expected or not _same_secret(login_csrf, expected):
        return _login_form(request, context, language, next_url=next_url, error="login.expired", username=username)
    if too_long is not None:
        # What was typed comes back, as far as a username can go: never a whole paste of a megabyte.
        shown = username[:MAX_LOGIN_USERNAME]
        return _login_form(request, context, language, next_url=next_url, error=too_long, username=shown)
    try:
        active = await log_in(username, password, context.deps)
    except LoginRefusedError as refused:
        error = "login.locked" if refused.reason == "locked" else "login.invalid"
        return _login_form(request, context, language, next_url=next_url, error=error, username=username)
    await end_session_of(request.cookies.get(SESSION_COOKIE), context.deps)
    response = _see(next_url)
    response.set_cookie(
        SESSION_COOKIE,
        active.cookie,
        max_age=int(context.deps.session_length.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=_secure_cookies(request, context),
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    return response


def _too_long_to_sign_in(username: str, password: str, next: str) -> str | None:
    """The message saying which sign-in field is longer than any that can sign in, if one is."""
    if len(username) > MAX_LOGIN_USERNAME:
        return "login.username_too_long"
    if len(password) > MAX_PASSWORD_LENGTH:
        return "login.password_too_long"
    if len(next) > MAX_LOGIN_NEXT:
        return "login.next_too_long"
    return None


@router.post("/logout")
async def logout(request: Request, active: CheckedSession, context: ConsoleDep) -> Response:
    await log_out(active, context.deps)
    # The session is over: the notice is signed with the sign-in form's cookie instead, set here.
    login_csrf = secrets.token_urlsafe(32)
    response = _done(request, context, "/login", "logged_out", login_csrf)
    _set_login_csrf(response, request, context, login_csrf)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/language/{language}")
async def switch_language(language: Language, next: str = "/") -> Response:
    response = _see(_local_path(next))
    response.set_cookie(LANGUAGE_COOKIE, language.value, max_age=ONE_YEAR, samesite="lax")
    return response


@router.get("/")
async def home(active: StaffSession) -> Response:
    """The first page the member's roles open: the operations role reads no patron, and is not sent to a refusal."""
    if active.allows(Scope.PROFILES_READ):
        return _see("/patrons")
    if active.allows(Scope.SEGMENTS_READ):
        return _see("/segments")
    if active.allows(Scope.OPERATIONS_ADMIN) or active.allows(Scope.SUBSCRIPTIONS_ADMIN):
        return _see("/operations")
    return _see("/patrons")


# ---------------------------------------------------------------------------------------------------------------
# Patrons


@router.get("/patrons")
async def search(
    request: Request,
    active: StaffSession,
    context: ConsoleDep,
    language: PageLanguage,
    q: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    require(active, Scope.PROFILES_READ)
    result = await pages.search_patrons(context.deps.api, active.token, q.strip()) if q.strip() else None
    status_code = _shown_failure_status(None if result is None else result.failure)
    return render(request, context, language, "search.html", active, status_code=status_code, query=q, result=result)


@router.get("/patrons/{person_id}")
async def patron(
    person_id: str, request: Request, active: StaffSession, context: ConsoleDep, language: PageLanguage
) -> Response:
    require(active, Scope.PROFILES_READ)
    page = await pages.patron_page(context.deps.api, active, person_id, language)
    if page.redirect_to is not None:
        return _see(f"/patrons/{quote(page.redirect_to)}")
    status_code = _patron_status(page)
    return render(
        request,
        context,
        language,
        "patron.html",
        active,
        status_code=status_code,
        page=page,
        timeline_read=pages.TIMELINE_READ,
    )


@router.post("/patrons/{person_id}/unmerge")
async def unmerge(
    person_id: str,
    request: Request,
    active: CheckedSession,
    context: ConsoleDep,
    merge_id: Annotated[str, Form(max_length=200)],
) -> Response:
    require(active, Scope.IDENTITY_REVIEW)
    await pages.undo_merge(context.deps.api, active.token, person_id, merge_id)
    return _done(request, context, f"/patrons/{quote(person_id)}", "unmerged", active.cookie)


@router.get("/patrons/{person_id}/export")
async def export_form(
    person_id: str, request: Request, active: StaffSession, context: ConsoleDep, language: PageLanguage
) -> Response:
    """The step before an export: each export is logged as an access to the person's data (Law 25), so it is asked
    for on purpose, never by following a link."""
    require(active, Scope.PRIVACY_EXPORT)
    page = await pages.patron_page(context.deps.api, active, person_id, language)
    if page.redirect_to is not None and page.redirect_known_to_identity:
        return _see(f"/patrons/{quote(page.redirect_to)}/export")
    status_code = _privacy_form_status(page)
    return render(request, context, language, "export.html", active, status_code=status_code, page=page)


def _patron_status(page: pages.PatronPage) -> int:
    """404 for an id nobody knows; 410 for a person erased; 503 when the services that would know could not say;
    else 200."""
    return 404 if page.unknown else 410 if page.erased else 503 if page.unreachable else 200


def _privacy_form_status(page: pages.PatronPage) -> int:
    """As a patron's page; and 503 while only profile says the person was merged: whose data it is now, only
    identity can tell (a merge just undone is still a merge to profile)."""
    return 503 if page.merge_unconfirmed else _patron_status(page)


@router.post("/patrons/{person_id}/export")
async def export(
    person_id: str,
    active: CheckedSession,
    context: ConsoleDep,
    format: Annotated[str, Form(pattern="^(json|csv)$")] = "json",
    # In the query, as the segment downloads take it: the form's button for Excel in French posts to `?separator=…`.
    separator: CsvSeparator = CsvSeparator.COMMA,
) -> Response:
    require(active, Scope.PRIVACY_EXPORT)
    body, media_type = await pages.export_person(context.deps.api, active.token, person_id, format, separator)
    return Response(
        body,
        media_type=media_type,
        headers={
            "Content-Disposition": f'attachment; filename="parterre-{_file_name(person_id)}.{format}"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/patrons/{person_id}/erase")
async def erase_form(
    person_id: str, request: Request, active: StaffSession, context: ConsoleDep, language: PageLanguage
) -> Response:
    require(active, Scope.PRIVACY_ERASE)
    page = await pages.patron_page(context.deps.api, active, person_id, language)
    # A merged person's data is the survivor's now: exported or erased there, whole.
    if page.redirect_to is not None and page.redirect_known_to_identity:
        return _see(f"/patrons/{quote(page.redirect_to)}/erase")
    status_code = _privacy_form_status(page)
    return render(
        request, context, language, "erase.html", active, status_code=status_code, page=page, error=None, failure=None
    )


@router.post("/patrons/{person_id}/erase")
async def erase(
    person_id: str,
    request: Request,
    active: CheckedSession,
    context: ConsoleDep,
    language: PageLanguage,
    confirmation: Annotated[str, Form(max_length=100)] = "",
    # Twice the textarea's 2,000 characters: browsers send each line break it counts as one as two (CR LF).
    reason: Annotated[str, Form(max_length=4000)] = "",
    do_not_readd: Annotated[bool, Form()] = False,
) -> Response:
    require(active, Scope.PRIVACY_ERASE)
    reason = reason.replace("\r\n", "\n")
    error = None
    if confirmation.strip().upper() not in pages.ERASE_CONFIRMATIONS:
        error = "erase.confirm_needed"
    elif len(reason) > MAX_ERASURE_REASON:
        error = "erase.reason_too_long"
    failure: ApiError | ServiceUnavailableError | None = None
    if error is None:
        try:
            await pages.erase_person(
                context.deps.api, active.token, person_id, reason=reason, do_not_readd=do_not_readd
            )
        except (ApiError, ServiceUnavailableError) as refused:
            failure = refused
        else:
            return _done(request, context, "/patrons", "erasure_requested", active.cookie)
    page = await pages.patron_page(context.deps.api, active, person_id, language)
    # What was typed stays: fixing the word alone, or sending again once the service answers, must not drop the
    # reason or the choice never to re-create; after a failure the word typed was right, and is kept too.
    return render(
        request,
        context,
        language,
        "erase.html",
        active,
        status_code=422 if failure is None else _failure_status(failure),
        page=page,
        error=error,
        failure=failure,
        reason=reason,
        do_not_readd=do_not_readd,
        confirmation=confirmation if failure is not None else "",
    )


# ---------------------------------------------------------------------------------------------------------------
# Review queue


@router.get("/review")
async def review_queue(request: Request, active: StaffSession, context: ConsoleDep, language: PageLanguage) -> Response:
    require(active, Scope.IDENTITY_REVIEW)
    queue = await pages.review_queue(context.deps.api, active.token)
    status_code = _shown_failure_status(queue.failure)
    return render(request, context, language, "review.html", active, status_code=status_code, queue=queue)


@router.post("/review/{review_id}")
async def decide(
    review_id: str,
    request: Request,
    active: CheckedSession,
    context: ConsoleDep,
    decision: Annotated[str, Form(pattern="^(accept|reject)$")],
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    require(active, Scope.IDENTITY_REVIEW)
    await pages.decide_review(context.deps.api, active.token, review_id, decision, note)
    done = "accepted" if decision == "accept" else "rejected"
    return _done(request, context, "/review", done, active.cookie)


# ---------------------------------------------------------------------------------------------------------------
# Segments and overview


@router.get("/segments")
async def segments(request: Request, active: StaffSession, context: ConsoleDep, language: PageLanguage) -> Response:
    require(active, Scope.SEGMENTS_READ)
    listing = await pages.segment_list(context.deps.api, active.token)
    status_code = _shown_failure_status(listing.failure)
    return render(request, context, language, "segments.html", active, status_code=status_code, listing=listing)


# A cursor is a person id: far shorter than this.
MAX_CURSOR_LENGTH = 200
Cursor = Annotated[str, StringConstraints(max_length=MAX_CURSOR_LENGTH)]


@router.get("/segments/{name}")
async def segment(
    name: str,
    request: Request,
    active: StaffSession,
    context: ConsoleDep,
    language: PageLanguage,
    cursor: Annotated[str | None, Query(max_length=MAX_CURSOR_LENGTH)] = None,
    # On a list, `max_length` counts the items (each one's length is the Cursor's). The links carry at most
    # PAGER_TRAIL of them; more, from a link saved before trails were cut short, are cut to the last ones.
    previous: Annotated[list[Cursor] | None, Query(max_length=200)] = None,
    cut: bool = False,
) -> Response:
    require(active, Scope.SEGMENTS_READ)
    page = await pages.segment_page(context.deps.api, active.token, name, cursor)
    links = pager(f"/segments/{quote(name, safe='')}", cursor, previous or [], page.next_cursor, trail_cut=cut)
    status_code = 404 if page.unknown else _shown_failure_status(page.members_failure)
    return render(request, context, language, "segment.html", active, status_code=status_code, page=page, pager=links)


@router.get("/segments/{name}/export.csv")
async def segment_csv_page(
    name: str, request: Request, active: StaffSession, context: ConsoleDep, language: PageLanguage
) -> Response:
    """The segment's page, with its download buttons: a link to the download (saved, or followed from another site,
    which the session's cookie still reaches) takes nothing, as each download is logged as an access (Law 25)."""
    return await segment(name, request, active, context, language, cursor=None, previous=None, cut=False)


@router.post("/segments/{name}/export.csv")
async def segment_csv(
    name: str,
    active: CheckedSession,
    context: ConsoleDep,
    # In the query, as the patron export takes it: the button for Excel in French posts to `?separator=…`.
    separator: CsvSeparator = CsvSeparator.COMMA,
) -> Response:
    """Every member of the segment as a spreadsheet, which profile logs as an access: asked for with the session's
    CSRF token, as the patron export is, never by following a link."""
    require(active, Scope.SEGMENTS_READ)
    path = f"/v1/segments/{quote(name, safe='')}/members"
    # Asked first, so that an unknown segment or a service down is a page, not a download cut short.
    await context.deps.api.call("profile", "GET", path, token=active.token, params={"limit": 1})

    async def rows() -> AsyncIterator[bytes]:
        params = {"format": "csv", "separator": separator.value}
        async with context.deps.api.stream("profile", path, token=active.token, params=params) as answer:
            async for chunk in answer.aiter_bytes():
                yield chunk

    return StreamingResponse(
        rows(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{_file_name(name)}.csv"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/overview")
async def overview(
    request: Request,
    active: StaffSession,
    context: ConsoleDep,
    language: PageLanguage,
    refresh: bool = False,
) -> Response:
    require(active, Scope.SEGMENTS_READ)
    stage_labels = {stage: context.catalog.text(f"stage.{stage}", language) for stage in STAGES}
    page = await pages.overview_page(context.deps.api, active.token, language, stage_labels, refresh=refresh)
    status_code = _shown_failure_status(page.failure)
    return render(request, context, language, "overview.html", active, status_code=status_code, page=page)


# ---------------------------------------------------------------------------------------------------------------
# Operations


@router.get("/operations")
async def operations(request: Request, active: StaffSession, context: ConsoleDep, language: PageLanguage) -> Response:
    if not (active.allows(Scope.OPERATIONS_ADMIN) or active.allows(Scope.SUBSCRIPTIONS_ADMIN)):
        raise NotAllowedError
    page = await pages.operations_page(context.deps.api, active)
    return render(request, context, language, "operations.html", active, page=page)


@router.post("/operations/dead-letters/{service}/replay")
async def replay_dead_letter(
    service: str,
    request: Request,
    active: CheckedSession,
    context: ConsoleDep,
    dead_letter_id: Annotated[str, Form(max_length=300)],
) -> Response:
    require(active, Scope.OPERATIONS_ADMIN)
    await pages.replay_dead_letter(context.deps.api, active.token, service, dead_letter_id)
    return _done(request, context, "/operations", "replayed", active.cookie)


@router.post("/operations/deliveries/{delivery_id}/replay")
async def replay_delivery(delivery_id: str, request: Request, active: CheckedSession, context: ConsoleDep) -> Response:
    require(active, Scope.SUBSCRIPTIONS_ADMIN)
    await pages.replay_delivery(context.deps.api, active.token, delivery_id)
    return _done(request, context, "/operations", "replayed", active.cookie)


# ---------------------------------------------------------------------------------------------------------------


def failed_action(
    request: Request,
    context: ConsoleContext,
    language: Language,
    active: ActiveSession | None,
    failure: ApiError | ServiceUnavailableError,
) -> HTMLResponse:
    """The page of an action a service refused or could not take: its message in the member's language."""
    return render(
        request, context, language, "failed.html", active, status_code=_failure_status(failure), failure=failure
    )


def _failure_status(failure: ApiError | ServiceUnavailableError) -> int:
    """What the console answers for a service's failure, as a gateway: the service's refusal of what the member asked
    (4xx) as it is; 503 when the service does not answer, says it is unavailable or to come back later; 502 when it
    failed, or refused how the console itself asked (its token, its method, its content type). The console did not
    fail itself: a monitor counting 500s counts the console's own errors, and a 401 or a 408 would tell the browser
    something about its own request."""
    if not isinstance(failure, ApiError):
        return 503
    status = failure.status_code
    if status in RETRY_LATER or status in (503, 504):
        return 503
    return 502 if status >= 500 or status in _REFUSED_THE_CONSOLE else status


# What a service answers to how the console asked, never to what the member asked for.
_REFUSED_THE_CONSOLE = frozenset({401, 405, 406, 415})


def _shown_failure_status(failure: ApiError | ServiceUnavailableError | None) -> int:
    """The status of a page whose whole content a failure took the place of; 200 when none did. Such a page reads a
    listing, which a service that has it never answers 404: that is a service without the route (an older release,
    a proxy sending elsewhere), a 502. A page that still shows what other services answered stays 200."""
    if failure is None:
        return 200
    return 502 if isinstance(failure, ApiError) and failure.status_code == 404 else _failure_status(failure)
