"""Privacy requests about a whole upstream source rather than one person, such as a shop that removed Parterre."""

from pydantic import ConfigDict, Field

from shared.events.common import EventData, ExternalId, LongText, Moment, ShortText, Slug


class SourceRedactionRequestedV1(EventData):
    """An upstream system asked that everything Parterre holds from one of its sources be erased.

    Shopify sends `shop/redact` 48 hours after a shop uninstalls the app. It names no person: it concerns every
    customer, order and consent the source ever reported. People are often known from other sources too (the box
    office, the newsletter), so this is a request to carry out on the source's facts, not an erasure of persons.
    """

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "source": "shopify-boutique",
                    "upstream_account_id": "55123456",
                    "upstream_account_name": "boutique-theatre-du-nord.myshopify.com",
                    "requested_at": "2026-11-07T14:02:00Z",
                    "requested_by": "shopify:shop/redact",
                    "reason": "Shopify shop/redact: the shop uninstalled the app 48 hours ago",
                }
            ]
        }
    )

    source: Slug = Field(description="The Parterre source whose data must be erased, e.g. `shopify-boutique`.")
    upstream_account_id: ExternalId = Field(description="The account upstream, e.g. Shopify's `shop_id`.")
    upstream_account_name: ShortText | None = Field(
        default=None, description="How the upstream system names that account, e.g. the shop's myshopify domain."
    )
    requested_at: Moment = Field(description="When Parterre received the request.")
    requested_by: ShortText = Field(
        description="The upstream mechanism or the staff member who asked, e.g. `shopify:shop/redact`."
    )
    reason: LongText | None = Field(default=None, description="Why, as recorded.")
