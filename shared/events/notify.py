"""What notify emits: the outcome of each attempt to deliver a webhook to a marketing tool."""

from pydantic import ConfigDict, Field

from shared.events.common import EventData, ExternalId, LongText


class DeliveryAttempt(EventData):
    """One attempt at delivering one message to one webhook subscription."""

    delivery_id: ExternalId = Field(description="Deterministic id of this attempt (message, subscription, attempt).")
    subscription_id: ExternalId = Field(description="The webhook subscription delivered to.")
    message_id: ExternalId = Field(description="The message's `webhook-id`; the same on every attempt.")
    attempt: int = Field(ge=1, le=100, description="1 for the first attempt, 2 for the first retry, …")
    status_code: int | None = Field(
        default=None, ge=100, le=599, description="The HTTP status answered; absent when no answer came."
    )


class DeliverySucceededV1(DeliveryAttempt):
    """The receiver accepted the message (2xx)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "delivery_id": "dlv_msg_2Lk9qP0r_sub_mailchimp_1",
                    "subscription_id": "sub_mailchimp",
                    "message_id": "msg_2Lk9qP0r",
                    "attempt": 1,
                    "status_code": 200,
                }
            ]
        }
    )


class DeliveryFailedV1(DeliveryAttempt):
    """An attempt failed; `final` says whether notify gave up on the message."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "delivery_id": "dlv_msg_2Lk9qP0r_sub_crm_3",
                    "subscription_id": "sub_crm",
                    "message_id": "msg_2Lk9qP0r",
                    "attempt": 3,
                    "status_code": 503,
                    "error": "Service Unavailable; Retry-After: 1800",
                    "final": False,
                }
            ]
        }
    )

    error: LongText | None = Field(default=None, description="What went wrong: the answer, a timeout, a refusal.")
    final: bool = Field(description="True when no further attempt will be made (retries exhausted, 410 Gone).")
