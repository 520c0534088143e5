"""A segment as a CSV file, for tools with no API: one row per member whom consent allows to be contacted."""

import csv
import io
from collections.abc import Iterable
from datetime import datetime

from services.notify.domain.contacts import (
    ADDRESS_FIELDS,
    CHANNEL_OF_PURPOSE,
    Contact,
    address_line,
    check_send,
    message_language,
)
from shared.events.common import Channel, ConsentPurpose
from shared.spreadsheets import spreadsheet_cell

CSV_COLUMNS = ("person_id", "email", "phone", "first_name", "last_name", *ADDRESS_FIELDS, "language")


def _contact_points(contact: Contact) -> list[tuple[Channel, str]]:
    return [
        *((Channel.EMAIL, email) for email in contact.deliverable_emails),
        *((Channel.SMS, phone) for phone in contact.phones),
        *([(Channel.POSTAL, line)] if (line := address_line(contact)) else []),
    ]


def segment_csv(members: Iterable[Contact], purpose: ConsentPurpose, *, now: datetime, delimiter: str = ",") -> str:
    """The members consent allows to be contacted for `purpose` now; the others are left out, not blanked."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    channel = CHANNEL_OF_PURPOSE[purpose]
    for contact in members:
        check = check_send(contact, purpose, _contact_points(contact), erased=False, now=now)
        # Only a consent profile announced counts here: an export has no trigger vouching for it.
        if not (check.allowed and contact.consent(purpose).known):
            continue
        emails = contact.deliverable_emails
        email = emails[0] if emails else ""
        phone = contact.phones[0] if contact.phones else ""
        row = [
            contact.person_id,
            email if channel is Channel.EMAIL else "",
            phone if channel is Channel.SMS else "",
            contact.first_name or "",
            contact.last_name or "",
            # The address only where it is the channel: consent to mail is not consent to keep it elsewhere.
            *((getattr(contact, name) or "") if channel is Channel.POSTAL else "" for name in ADDRESS_FIELDS),
            message_language(contact, "fr"),
        ]
        writer.writerow([spreadsheet_cell(cell) for cell in row])
    return out.getvalue()
