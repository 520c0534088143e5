"""What a staff member may do: a role is a named set of API scopes, and the console shows an action only to a
member whose scopes allow it (the APIs check the same scopes again on every call)."""

from enum import StrEnum

from shared.tokens import Scope


class Role(StrEnum):
    VIEWER = "viewer"
    MARKETING = "marketing"
    REVIEWER = "reviewer"
    PRIVACY = "privacy"
    OPERATIONS = "operations"
    ADMIN = "admin"


ROLE_SCOPES: dict[Role, frozenset[Scope]] = {
    # Sees patrons and segments; changes nothing.
    Role.VIEWER: frozenset({Scope.PROFILES_READ, Scope.SEGMENTS_READ}),
    # Also manages where triggers go and exports segments.
    Role.MARKETING: frozenset({Scope.PROFILES_READ, Scope.SEGMENTS_READ, Scope.SUBSCRIPTIONS_ADMIN}),
    # Also decides suggested duplicates and undoes merges.
    Role.REVIEWER: frozenset({Scope.PROFILES_READ, Scope.SEGMENTS_READ, Scope.IDENTITY_REVIEW}),
    # Answers access and erasure requests.
    Role.PRIVACY: frozenset({Scope.PROFILES_READ, Scope.PRIVACY_EXPORT, Scope.PRIVACY_ERASE}),
    # Watches the pipeline and the deliveries; sees no patron.
    Role.OPERATIONS: frozenset({Scope.SUBSCRIPTIONS_ADMIN, Scope.OPERATIONS_ADMIN}),
    Role.ADMIN: frozenset(Scope),
}


def scopes_of(roles: frozenset[Role] | set[Role]) -> frozenset[Scope]:
    granted: set[Scope] = set()
    for role in roles:
        granted |= ROLE_SCOPES[role]
    return frozenset(granted)
