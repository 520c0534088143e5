"""The Mailchimp Marketing API endpoints the audience sync uses (API 3.0, HTTP Basic auth with the API key)."""

import json
from collections.abc import Mapping
from typing import Any

from services.notify.domain.mailchimp import RESUBSCRIBE_BODY, UNSUBSCRIBE_BODY, subscriber_hash
from services.notify.domain.subscriptions import MailchimpTarget
from services.notify.ports import HttpAnswer, Outbound

# Mailchimp's `skip_merge_validation`: a member is taken without the merge fields the audience marks required.
SKIP_MERGE_VALIDATION = "?skip_merge_validation=true"


class MailchimpAudience:
    def __init__(self, outbound: Outbound) -> None:
        self._outbound = outbound

    async def _call(
        self, target: MailchimpTarget, method: str, path: str, body: Mapping[str, Any] | None
    ) -> HttpAnswer:
        return await self._outbound.request(
            method,
            f"{target.api_url.rstrip('/')}/lists/{target.list_id}/{path}",
            body=b"" if body is None else json.dumps(body, ensure_ascii=False).encode(),
            headers={"Content-Type": "application/json"},
            # Mailchimp accepts any user name with the API key as the password.
            auth=("parterre", target.api_key),
        )

    async def upsert_member(self, target: MailchimpTarget, email: str, body: Mapping[str, Any]) -> HttpAnswer:
        """`PUT /lists/{list_id}/members/{subscriber_hash}`: add or update a list member. Merge fields the audience
        requires and the person has not given (a last name) are not asked for: refused, the member would never be
        kept up to date at all."""
        return await self._call(target, "PUT", f"members/{subscriber_hash(email)}{SKIP_MERGE_VALIDATION}", body)

    async def move_member(self, target: MailchimpTarget, email: str, new_email: str) -> HttpAnswer:
        """`PATCH /lists/{list_id}/members/{subscriber_hash}` with a new `email_address`: the member, its status,
        tags and history, now under `new_email` (a 400 when that address is a member already)."""
        return await self._call(
            target, "PATCH", f"members/{subscriber_hash(email)}{SKIP_MERGE_VALIDATION}", {"email_address": new_email}
        )

    async def unsubscribe_member(self, target: MailchimpTarget, email: str) -> HttpAnswer:
        """`PATCH /lists/{list_id}/members/{subscriber_hash}` with `status: unsubscribed`."""
        return await self._call(target, "PATCH", f"members/{subscriber_hash(email)}", UNSUBSCRIBE_BODY)

    async def get_member(self, target: MailchimpTarget, email: str) -> HttpAnswer:
        """`GET /lists/{list_id}/members/{subscriber_hash}`."""
        return await self._call(target, "GET", f"members/{subscriber_hash(email)}", None)

    async def archive_member(self, target: MailchimpTarget, email: str) -> HttpAnswer:
        """`DELETE /lists/{list_id}/members/{subscriber_hash}`: archive a member (Mailchimp keeps its history)."""
        return await self._call(target, "DELETE", f"members/{subscriber_hash(email)}", None)

    async def unarchive_member(self, target: MailchimpTarget, email: str) -> HttpAnswer:
        """`PATCH /lists/{list_id}/members/{subscriber_hash}` with `status: subscribed`: the API's only way to bring an
        archived member back (`PUT` leaves it archived)."""
        return await self._call(target, "PATCH", f"members/{subscriber_hash(email)}", RESUBSCRIBE_BODY)

    async def update_tags(self, target: MailchimpTarget, email: str, body: Mapping[str, Any]) -> HttpAnswer:
        """`POST /lists/{list_id}/members/{subscriber_hash}/tags`: make tags active or inactive."""
        return await self._call(target, "POST", f"members/{subscriber_hash(email)}/tags", body)

    async def delete_member_permanently(self, target: MailchimpTarget, member_hash: str) -> HttpAnswer:
        """`POST /lists/{list_id}/members/{subscriber_hash}/actions/delete-permanent`: the member and all it holds of
        the person are deleted (204), and cannot be imported again; the person may still sign up through a form."""
        return await self._call(target, "POST", f"members/{member_hash}/actions/delete-permanent", None)
