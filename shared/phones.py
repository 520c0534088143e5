"""What identity and profile both read in a phone number as people write it."""

import re

# An extension as people write it after the number: `ext 12`, `ext. 12`, `x12`, `#12`, `poste 12`, `p. 12`, and
# RFC 3966's `;ext=12`, as the phonenumbers library itself writes one.
_EXTENSION = re.compile(r"[\s,;]*(?:ext(?:ension)?|poste|post|x|p|#)\.?\s*[:=]?\s*[0-9]{1,7}\s*$", re.IGNORECASE)


def without_extension(text: str) -> str:
    """The number without the extension written after it: `514-555-0199 poste 12` → `514-555-0199`."""
    return _EXTENSION.sub("", text).strip()
