"""Email domains as every service compares them: a domain written in Unicode and in its ASCII form is one domain."""

import re

# IDNA 2003 (Python's `idna` codec) maps these letters away where IDNA 2008, which registries follow today, keeps
# them: `straße.de` and `strasse.de` may be two registrants, and reading them as one would give one patron another's
# address. A domain holding one is compared as written.
_IDNA_2003_DEVIATIONS = frozenset("ßς\u200c\u200d")
# What an ASCII domain may hold; the codec lets other ASCII through (it does not apply the STD3 rules).
_ASCII_DOMAIN = re.compile(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*", re.IGNORECASE)


def ascii_domain(domain: str) -> str:
    """`domain` in the ASCII form DNS and mail servers carry (`exämple.ca` → `xn--exmple-cua.ca`); never raises.

    ASCII is the canonical form so that no address written in ASCII changes, a `xn--` one included, nor the digest
    stored of it; the Unicode form would have changed those. A domain already ASCII is returned unchanged, as is one
    without an IDNA 2003 form (a label over 63 characters, right-to-left and left-to-right letters in one label, a
    label starting `xn--` with other letters) or holding a deviation (see `_IDNA_2003_DEVIATIONS`). IDNA's mapping
    lower-cases the labels it converts; ASCII labels keep their case.
    """
    if domain.isascii() or not _IDNA_2003_DEVIATIONS.isdisjoint(domain):
        return domain
    try:
        converted = domain.encode("idna").decode("ascii")
    except UnicodeError:
        return domain
    return converted if _ASCII_DOMAIN.fullmatch(converted) else domain
