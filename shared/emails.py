"""Email addresses as identity links them and profile look-ups compare them: one inbox, one form."""

import re
import unicodedata

from shared.memo import remembered
from shared.text import without_format_characters

_GMAIL_DOMAINS = frozenset({"gmail.com", "googlemail.com"})
# What may not appear in the local part of an address people actually use (quoted local parts are not supported).
_EMAIL_LOCAL = re.compile(r'[^\s@<>()\[\],;:"\\]+')
_EMAIL_DOMAIN = re.compile(r"[\w-]+(?:\.[\w-]+)+")
# `Marie Tremblay <marie@videotron.ca>`, as mail programs and exports write a named address.
_NAMED_ADDRESS = re.compile(r"[^<>]*<([^<>]*)>")
# How a domain label in the DNS's ASCII form (IDNA's A-label) begins: the rest is the accented name in Punycode.
_ACE_PREFIX = "xn--"
_LABEL = re.compile(r"[\w-]+")


def normalise_email(raw: str) -> str | None:
    """The address deterministic links use: trimmed, NFKC, lower case, `+tag` dropped; Gmail dots dropped too.

    Invisible format characters (zero-width spaces, soft hyphens, word joiners) are dropped, and NFKC makes full-width
    letters (`ＪＯＨＮ`) plain ones and a no-break space a space. The address inside `Name <address>` is taken, and a
    trailing dot after the domain (`gmail.com.`, the DNS root) is dropped. `googlemail.com` is Gmail's other name and
    becomes `gmail.com`. A domain label written in its ASCII form for the DNS (`xn--thtre-4qa2c.qc.ca`) is read as the
    accented name it stands for (`théâtre.qc.ca`), so that the address is one address however it was written. A `+`
    that starts the local part is kept (it is the whole name, not a tag). None when the text has no usable shape: no
    `@`, an empty side, spaces inside.
    """
    return _email(raw)


@remembered
def _email(raw: str) -> str | None:
    text = raw
    if not text.isascii():
        text = _folded(without_format_characters(text))
    text = text.strip().lower()
    named = _NAMED_ADDRESS.fullmatch(text)
    if named:
        text = named.group(1).strip()
    text = text.removeprefix("mailto:")
    local, at, domain = text.rpartition("@")
    domain = domain.removesuffix(".")
    if not at or not _EMAIL_LOCAL.fullmatch(local) or not _EMAIL_DOMAIN.fullmatch(domain):
        return None
    if _ACE_PREFIX in domain:
        domain = readable_domain(domain)
    tag = local.find("+", 1)
    if tag > 0:
        local = local[:tag]
    if domain in _GMAIL_DOMAINS:
        domain = "gmail.com"
        # Gmail ignores dots in the name: `j.doe` and `jdoe` are one inbox.
        local = local.replace(".", "")
        if not local:
            return None
    return f"{local}@{domain}"


def readable_domain(domain: str) -> str:
    """`domain` with each label in the DNS's ASCII form read as the name it stands for, as `normalise_email` reads
    an address's; a label that is not such a form (a wildcard pattern's, say) stays as it is."""
    return ".".join(map(_label_as_read, domain.split(".")))


def accented_form(address: str) -> str:
    """A normalised `address` as `normalise_email` writes it now: a domain a release before 2026-12 kept in the DNS's
    form (`marie@xn--thtre-4qa2c.qc.ca`) read as the accented name it stands for (`marie@théâtre.qc.ca`). Any other
    address is itself."""
    # Only the DNS form changed, and most addresses are plain: those are not normalised again.
    if _ACE_PREFIX not in address:
        return address
    today = normalise_email(address)
    return address if today is None else today


def dns_form(address: str) -> str:
    """A normalised `address` with each label of its domain in the DNS's ASCII form (`marie@théâtre.qc.ca` as
    `marie@xn--thtre-4qa2c.qc.ca`): the form releases before 2026-12 kept an address given so, which `normalise_email`
    now reads as the accented name. An address whose domain is ASCII is itself."""
    local, _, domain = address.rpartition("@")
    if domain.isascii():
        return address
    labels = (
        label if label.isascii() else _ACE_PREFIX + label.encode("punycode").decode("ascii")
        for label in domain.split(".")
    )
    return f"{local}@{'.'.join(labels)}"


def _folded(text: str) -> str:
    # NFKC can give capitals (`ℌ` is `H`) and lower case can give what NFKC would change: NFKC on both sides of lower
    # case leaves an address that normalising again does not change.
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).lower())


def _label_as_read(label: str) -> str:
    """`xn--thtre-4qa2c` as `théâtre`. Decoded as Punycode only, with no IDNA mapping, so that `straße` stays
    `straße` (IDNA 2003 would make it `strasse`, another domain today). A label is kept as written when it does not
    decode, decodes to plain ASCII or to more than letters, digits, `-` and `_` (the scripts written with combining
    marks among them, as addresses in them are refused anyway), or is another spelling than its name's one ASCII
    form."""
    if not label.startswith(_ACE_PREFIX):
        return label
    encoded = label.removeprefix(_ACE_PREFIX)
    try:
        decoded = encoded.encode("ascii").decode("punycode")
    except UnicodeError:
        return label
    read = _folded(decoded)
    # Encoded again it must be what was written: one name has one ASCII form.
    if read.isascii() or not _LABEL.fullmatch(read) or read.encode("punycode") != encoded.encode("ascii"):
        return label
    return read
