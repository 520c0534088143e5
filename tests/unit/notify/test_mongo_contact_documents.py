"""Contact documents as the Mongo store writes and reads them, old documents included."""

from services.notify.adapters.mongo import _contact_fields, _contact_from
from services.notify.domain.contacts import Contact


def test_the_addresses_profile_announced_undeliverable_read_back_as_stored() -> None:
    contact = Contact(
        "per_elise",
        profile_version=3,
        emails=("elise@example.com", "dead@example.com"),
        undeliverable_emails=("dead@example.com",),
        announced=frozenset({"emails"}),
    )

    assert _contact_from(_contact_fields(contact)) == contact


def test_a_contact_stored_before_undeliverable_addresses_were_kept_reads_with_none() -> None:
    document = _contact_fields(Contact("per_elise", profile_version=2, emails=("elise@example.com",)))
    del document["undeliverable_emails"]

    contact = _contact_from(document)

    assert (contact.emails, contact.undeliverable_emails) == (("elise@example.com",), ())
