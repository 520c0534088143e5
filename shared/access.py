"""The HTTP side of access tokens: a FastAPI dependency per scope, refusing a request without a live token (401) or
without the scope (403). Tokens themselves are in `shared.tokens`."""

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shared.errors import bilingual_error
from shared.mongo import IndexSpec
from shared.tokens import TOKENS_COLLECTION, Principal, Scope, TokenStore

TOKEN_INDEXES = (IndexSpec(TOKENS_COLLECTION, [("organisation_id", 1), ("created_at", -1)]),)

_bearer = HTTPBearer(auto_error=False, description="A Parterre access token: `Authorization: Bearer prt_…`")


def _unauthenticated() -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        detail=bilingual_error(
            "unauthenticated",
            en="A valid access token is required.",
            fr="Un jeton d'accès valide est requis.",
        ),
        headers={"WWW-Authenticate": "Bearer"},
    )


class _ScopeCheck:
    """The dependency of one scope: a class rather than a closure so that the refusals answered before a route runs
    (`refusal_before_reading`) can find which scope the route needs."""

    def __init__(self, scope: Scope) -> None:
        self.scope = scope

    async def __call__(
        self,
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise _unauthenticated()
        store: TokenStore = request.app.state.runtime.tokens
        principal = await store.authenticate(credentials.credentials)
        if principal is None:
            raise _unauthenticated()
        request.state.organisation_id = principal.organisation_id
        if self.scope not in principal.scopes:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                detail=bilingual_error(
                    "forbidden",
                    en=f"This token lacks the scope {self.scope.value}.",
                    fr=f"Ce jeton n'a pas la portée {self.scope.value}.",
                ),
            )
        return principal


def require_scope(scope: Scope) -> Any:
    """A dependency that lets a request through only with a live token carrying `scope`.

    It runs before the route reads anything, so a 401 or 403 never depends on whether the requested
    person or record exists.
    """
    return Depends(_ScopeCheck(scope))


async def refusal_before_reading(request: Request) -> HTTPException | None:
    """The 401 or 403 the route of `request` answers, if it needs a token and the request has no good one.

    FastAPI decodes a JSON body before it runs any dependency: a body that is no JSON would be refused (422, 400)
    ahead of the token, and tell a caller without one what the route accepts. The refusals of a body call this first.
    A scope is found on the route or on the router that declares it (`APIRouter(dependencies=...)`), not among the
    dependencies `include_router` adds, which the matched route does not carry: give routers their scope where
    they are declared.
    """
    dependant = getattr(request.scope.get("route"), "dependant", None)
    overrides = getattr(request.app, "dependency_overrides", {})
    pending = list(dependant.dependencies) if dependant is not None else []
    while pending:
        dependency = pending.pop()
        pending.extend(dependency.dependencies)
        check = dependency.call
        if isinstance(check, _ScopeCheck) and check not in overrides:
            try:
                await check(request, await _bearer(request))
            except HTTPException as refusal:
                return refusal
    return None


# What every route taking one of these answers without a live token (401) or without its scope (403), for its
# OpenAPI document: `@router.get(..., responses=TOKEN_REFUSALS)`, or merged with the route's own refusals.
TOKEN_REFUSALS: dict[int | str, dict[str, Any]] = {401: {}, 403: {}}

# Route parameters say which scope they need: `async def read(..., principal: ProfilesReader)`.
EventsWriter = Annotated[Principal, require_scope(Scope.EVENTS_WRITE)]
ProfilesReader = Annotated[Principal, require_scope(Scope.PROFILES_READ)]
SegmentsReader = Annotated[Principal, require_scope(Scope.SEGMENTS_READ)]
PrivacyExporter = Annotated[Principal, require_scope(Scope.PRIVACY_EXPORT)]
PrivacyEraser = Annotated[Principal, require_scope(Scope.PRIVACY_ERASE)]
IdentityReviewer = Annotated[Principal, require_scope(Scope.IDENTITY_REVIEW)]
SubscriptionsAdmin = Annotated[Principal, require_scope(Scope.SUBSCRIPTIONS_ADMIN)]
OperationsAdmin = Annotated[Principal, require_scope(Scope.OPERATIONS_ADMIN)]
