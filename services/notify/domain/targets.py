"""Outbound safety: which URLs and addresses notify may send to, so a subscription cannot reach inside the network."""

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

# Never part of a URL as written (RFC 3986). `urlsplit` drops tabs and line breaks and strips leading spaces, while
# httpx refuses the URL or reads it as a relative one: a URL pasted with a trailing newline would pass here, then
# fail every delivery until its retries ran out.
_NOT_IN_A_URL = re.compile(r"[\x00-\x20\x7f]")
# The last label of a host that resolvers read as a number: decimal, octal (leading 0) or hexadecimal (0x).
_NUMERIC_LABEL = re.compile(r"[0-9]+|0x[0-9a-f]*")


@dataclass(frozen=True)
class OutboundPolicy:
    allow_loopback: bool = False
    allow_private: bool = False
    allow_plain_http: bool = False


@dataclass(frozen=True)
class TargetProblem:
    """Why a target is refused, in English (`last_error`, logs) and in French (for staff reading French)."""

    en: str
    fr: str


def url_problem(url: str, policy: OutboundPolicy) -> TargetProblem | None:
    """Why `url` can never be a target (scheme, host, credentials); None if it may be, once its host resolves."""
    if _NOT_IN_A_URL.search(url):
        return TargetProblem(
            "not a valid URL: it holds a space or a control character",
            "ce n'est pas une URL valide : elle contient une espace ou un caractère de contrôle",
        )
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return TargetProblem("not a valid URL", "ce n'est pas une URL valide")
    allowed_schemes = ("https", "http") if policy.allow_plain_http else ("https",)
    if parts.scheme not in allowed_schemes:
        return TargetProblem(
            f"the scheme must be {' or '.join(allowed_schemes)}", f"le schéma doit être {' ou '.join(allowed_schemes)}"
        )
    if not parts.hostname:
        return TargetProblem("the URL names no host", "l'URL ne nomme aucun hôte")
    if parts.username is not None or parts.password is not None:
        return TargetProblem("credentials do not belong in the URL", "les identifiants n'ont pas leur place dans l'URL")
    if port == 0:
        return TargetProblem("port 0 is not a port", "le port 0 n'est pas un port")
    if (problem := _host_name_problem(url)) is not None:
        return problem
    # An address written in the URL is known now, without resolving anything: one the policy refuses is refused here,
    # when the subscription is made, not found out when its first delivery is attempted.
    if _is_ip_literal(parts.hostname):
        return address_problem(parts.hostname, policy)
    if _NUMERIC_LABEL.fullmatch(parts.hostname.rstrip(".").rsplit(".", 1)[-1]):
        # No top-level domain is a number: resolvers read such a host as an address in one of the forms `ipaddress`
        # refuses (`2130706433` and `127.1` are 127.0.0.1), and httpx refuses some of them (`0177.0.0.1`) at every send.
        return TargetProblem(
            f"{parts.hostname!r} is neither a host name nor an IPv4 address written as four decimal numbers",
            f"{parts.hostname!r} n'est ni un nom d'hôte ni une adresse IPv4 écrite en quatre nombres décimaux",
        )
    return None


def _host_name_problem(url: str) -> TargetProblem | None:
    """Why the URL's host is no name the client can send to, as httpx reads it (IDNA): `💩.la`, or `xn--a.com`, whose
    encoded form stands for no characters. Parsing alone, no I/O. Found at every send otherwise, each attempt failing
    until the delivery is given up three days on."""
    try:
        httpx.URL(url).host  # noqa: B018 - reading the host decodes it, which is the check
    except (httpx.InvalidURL, UnicodeError):  # idna's errors are UnicodeErrors
        return TargetProblem(
            "the host is not a valid domain name (IDNA)", "l'hôte n'est pas un nom de domaine valide (IDNA)"
        )
    return None


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


def address_problem(address: str, policy: OutboundPolicy) -> TargetProblem | None:
    """Why notify may not connect to `address` (an IP literal); None if it may."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return TargetProblem(f"{address!r} is not an IP address", f"{address!r} n'est pas une adresse IP")
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if isinstance(ip, ipaddress.IPv6Address):
        for wrapped in _wrapped_ipv4(ip):
            if (problem := address_problem(str(wrapped), policy)) is not None:
                return TargetProblem(f"{ip} wraps {wrapped}: {problem.en}", f"{ip} contient {wrapped} : {problem.fr}")
    # Loopback first: `::1` also counts as reserved.
    if ip.is_loopback:
        if policy.allow_loopback:
            return None
        return TargetProblem(f"{ip} is a loopback address", f"{ip} est une adresse de bouclage (loopback)")
    if ip.is_unspecified or ip.is_multicast or ip.is_reserved:
        return TargetProblem(f"{ip} is not a unicast address", f"{ip} n'est pas une adresse unicast")
    if ip.is_link_local:
        # Cloud metadata services live here (169.254.169.254): only an explicit private allowance opens it.
        if policy.allow_private:
            return None
        return TargetProblem(f"{ip} is a link-local address", f"{ip} est une adresse locale au lien (link-local)")
    if isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local:
        # Deprecated (RFC 3879), so counted as global, yet still routed inside the networks that kept it.
        return (
            None
            if policy.allow_private
            else TargetProblem(f"{ip} is a site-local address", f"{ip} est une adresse locale au site (site-local)")
        )
    if not ip.is_global:
        return (
            None
            if policy.allow_private
            else TargetProblem(f"{ip} is a private address", f"{ip} est une adresse privée")
        )
    return None


def _wrapped_ipv4(ip: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, ...]:
    """The IPv4 addresses a packet to `ip` is forwarded to: a 6to4 relay (2002::/16) sends it to the address the
    prefix embeds, a Teredo relay (2001::/32) to the client's and, to open the way, the server's."""
    if ip.sixtofour is not None:
        return (ip.sixtofour,)
    if ip.teredo is not None:
        return ip.teredo
    return ()


def addresses_problem(addresses: Iterable[str], policy: OutboundPolicy) -> TargetProblem | None:
    """A host is refused if any address it resolves to is, since a connection may use any of them."""
    resolved = list(addresses)
    if not resolved:
        return TargetProblem("the host resolves to no address", "le nom de l'hôte ne donne aucune adresse")
    for address in resolved:
        if (problem := address_problem(address, policy)) is not None:
            return problem
    return None
