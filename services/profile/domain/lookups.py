"""The keys a profile is found by: its emails, phones and upstream ids, written the way a look-up asks for them."""

from services.profile.domain.profile import ProfileState, email_address, external_key, phone_number


def lookup_keys(state: ProfileState) -> frozenset[str]:
    return frozenset(
        {email_lookup(email) for email in state.emails}
        | {f"phone:{phone}" for phone in state.phones}
        | {f"external:{external}" for external in state.external_ids}
    )


def email_lookup(text: str) -> str:
    return f"email:{email_address(text)}"


def phone_lookup(text: str) -> str:
    return f"phone:{phone_number(text)}"


def external_lookup(source: str, external_id: str) -> str:
    return f"external:{external_key(source, external_id)}"
