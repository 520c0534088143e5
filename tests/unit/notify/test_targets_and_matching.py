"""Outbound safety (no request into the private network) and which subscriptions want which events."""

from datetime import UTC, datetime, timedelta

import pytest

from services.notify.domain.subscriptions import (
    EventFilter,
    MessageKind,
    SigningSecret,
    Subscription,
    TargetKind,
    matching_subscriptions,
    rotate,
)
from services.notify.domain.targets import OutboundPolicy, address_problem, addresses_problem, url_problem

STRICT = OutboundPolicy()
NOW = datetime(2026, 10, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "::1",
        "10.0.0.5",
        "172.16.3.4",
        "192.168.1.1",
        "169.254.169.254",
        "fe80::1",
        "fd00::1",
        "100.64.0.1",
        "0.0.0.0",
        "::ffff:127.0.0.1",
        "::ffff:10.1.2.3",
        "224.0.0.1",
        "240.0.0.1",
    ],
)
def test_private_loopback_link_local_and_special_addresses_are_refused_by_default(address: str) -> None:
    assert address_problem(address, STRICT) is not None


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c", "8.8.8.8"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert address_problem(address, STRICT) is None


def test_loopback_is_allowed_only_when_configured_and_opens_nothing_else() -> None:
    policy = OutboundPolicy(allow_loopback=True)
    assert address_problem("127.0.0.1", policy) is None
    assert address_problem("::1", policy) is None
    assert address_problem("10.0.0.5", policy) is not None
    assert address_problem("169.254.169.254", policy) is not None


def test_private_networks_open_only_with_their_own_setting() -> None:
    policy = OutboundPolicy(allow_private=True)
    assert address_problem("10.0.0.5", policy) is None
    assert address_problem("127.0.0.1", policy) is not None


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("2002:7f00:1::1", "127.0.0.1 is a loopback address"),
        ("2002:a00:5::1", "10.0.0.5 is a private address"),
        ("2002:a9fe:a9fe::1", "169.254.169.254 is a link-local address"),
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", "127.0.0.1 is a loopback address"),
        ("2001:0:a00:5:8000:63bf:3fff:fdd2", "10.0.0.5 is a private address"),
    ],
    ids=["6to4-loopback", "6to4-private", "6to4-metadata", "teredo-client-loopback", "teredo-server-private"],
)
def test_an_ipv6_address_wrapping_an_ipv4_one_is_refused_as_the_address_it_wraps(address: str, problem: str) -> None:
    # 6to4 (2002::/16) and Teredo (2001::/32) routers and relays forward to the IPv4 addresses these embed.
    found = address_problem(address, STRICT)
    assert found is not None
    assert found.en.endswith(problem)
    assert address in found.en
    assert found.fr.startswith(f"{address} contient ")


def test_an_ipv6_address_wrapping_loopback_opens_only_with_the_loopback_setting() -> None:
    for address in ("2002:7f00:1::1", "2001:0:4136:e378:8000:63bf:80ff:fffe"):
        assert address_problem(address, OutboundPolicy(allow_private=True)) is not None
    assert address_problem("2002:7f00:1::1", OutboundPolicy(allow_loopback=True)) is None
    assert address_problem("2002:a00:5::1", OutboundPolicy(allow_loopback=True)) is not None
    assert address_problem("2002:a00:5::1", OutboundPolicy(allow_private=True)) is None


def test_a_6to4_address_wrapping_a_public_ipv4_address_is_allowed() -> None:
    assert address_problem("2002:808:808::1", STRICT) is None


def test_a_teredo_address_is_refused_even_wrapping_public_addresses_unless_private_networks_are_allowed() -> None:
    teredo = "2001:0:4136:e378:8000:63bf:f7f7:f7f7"  # server 65.54.227.120, client 8.8.8.8
    assert address_problem(teredo, STRICT) is not None
    assert address_problem(teredo, OutboundPolicy(allow_private=True)) is None


def test_a_site_local_address_is_private() -> None:
    # fec0::/10 is deprecated (RFC 3879) but still routed inside networks that kept it.
    found = address_problem("fec0::1", STRICT)
    assert found is not None
    assert "site-local" in found.en
    assert address_problem("fec0::1", OutboundPolicy(allow_private=True)) is None


def test_a_host_with_one_bad_address_among_good_ones_is_refused() -> None:
    assert addresses_problem(["93.184.215.14", "10.0.0.1"], STRICT) is not None
    problem = addresses_problem([], STRICT)
    assert problem is not None
    assert problem.en == "the host resolves to no address"


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://hooks.example.com/parterre", None),
        ("http://hooks.example.com/parterre", "scheme"),
        ("ftp://hooks.example.com/", "scheme"),
        ("https:///nohost", "host"),
        ("https://user:pass@hooks.example.com/", "credentials"),
        ("https://hooks.example.com:99999/", "valid"),
    ],
)
def test_only_https_urls_without_credentials_are_targets(url: str, problem: str | None) -> None:
    found = url_problem(url, STRICT)
    assert (found is None) if problem is None else (found is not None and problem in found.en)


def test_plain_http_is_allowed_only_when_configured() -> None:
    assert url_problem("http://127.0.0.1:9000/hook", OutboundPolicy(allow_plain_http=True, allow_loopback=True)) is None


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com/parterre\n",
        " https://hooks.example.com/parterre",
        "https://hooks.exa\tmple.com/parterre",
        "https://hooks.example.com/par terre",
        "https://hooks.example.com/parterre\x7f",
    ],
    ids=["trailing-newline", "leading-space", "tab-in-host", "space-in-path", "delete-character"],
)
def test_a_url_with_a_space_or_a_control_character_is_refused_rather_than_failing_every_delivery(url: str) -> None:
    # `urlsplit` reads these as a valid URL; httpx, which sends, refuses them or takes them for a relative URL.
    found = url_problem(url, STRICT)
    assert found is not None
    assert "valid" in found.en


@pytest.mark.parametrize("url", ["https://xn--a.com/hook", "https://\U0001f4a9.la/hook"])
def test_a_host_that_is_no_domain_name_once_read_as_idna_is_refused_rather_than_failing_every_delivery(
    url: str,
) -> None:
    found = url_problem(url, STRICT)

    assert found is not None
    assert "valid domain name" in found.en
    assert "nom de domaine valide" in found.fr


@pytest.mark.parametrize(
    "url", ["https://café.example/hook", "https://xn--caf-dma.example/hook", "https://Hooks.Example.com/h"]
)
def test_a_host_written_with_accents_or_in_its_encoded_form_is_a_target(url: str) -> None:
    assert url_problem(url, STRICT) is None


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://127.0.0.1/hook", "loopback"),
        ("https://[::1]:8443/hook", "loopback"),
        ("https://10.0.0.5/hook", "private"),
        ("https://169.254.169.254/latest/meta-data/", "link-local"),
        ("https://[fe80::1%25eth0]/hook", "link-local"),
        ("https://[::ffff:192.168.1.1]/hook", "private"),
        ("https://[2002:a00:5::1]/hook", "private"),
        ("https://[fec0::1]/hook", "site-local"),
        ("https://0.0.0.0/hook", "unicast"),
    ],
)
def test_a_url_naming_an_address_the_policy_refuses_is_refused_when_it_is_given(url: str, problem: str) -> None:
    found = url_problem(url, STRICT)
    assert found is not None
    assert problem in found.en


@pytest.mark.parametrize(
    "host",
    ["2130706433", "127.1", "0x7f.0.0.1", "0177.0.0.1", "017700000001", "10.1", "256.1.1.1", "1.2.3.4.5"],
    ids=["decimal", "two-parts", "hexadecimal", "octal", "octal-whole", "private-short", "beyond-255", "five-parts"],
)
def test_a_host_written_as_a_number_is_refused_unless_it_is_an_address_in_four_decimal_parts(host: str) -> None:
    # Resolvers read these as addresses (2130706433 is 127.0.0.1) and httpx refuses some of them at every send: none
    # is a name, so none may pass as one when the subscription is made.
    for policy in (STRICT, OutboundPolicy(allow_loopback=True, allow_private=True)):
        assert url_problem(f"https://{host}/hook", policy) is not None


def test_a_host_whose_last_label_is_not_a_number_is_a_name() -> None:
    assert url_problem("https://hooks.example.com/parterre", STRICT) is None
    assert url_problem("https://10.hooks.example/parterre", STRICT) is None
    assert url_problem("https://hooks.example.com./parterre", STRICT) is None


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com/par terre",
        "https://hooks.example.com:99999/",
        "ftp://hooks.example.com/",
        "https:///nohost",
        "https://user:pass@hooks.example.com/",
        "https://hooks.example.com:0/",
        "https://2130706433/",
        "https://127.0.0.1/",
        "https://0.0.0.0/",
        "https://169.254.169.254/",
        "https://10.0.0.5/",
    ],
)
def test_every_reason_a_target_is_refused_is_given_in_french_too(url: str) -> None:
    problem = url_problem(url, STRICT)
    assert problem is not None
    assert problem.fr
    assert problem.fr != problem.en


def test_a_url_naming_an_allowed_address_is_a_target() -> None:
    assert url_problem("https://93.184.215.14/hook", STRICT) is None
    assert url_problem("https://127.0.0.1:9000/hook", OutboundPolicy(allow_loopback=True)) is None
    assert url_problem("https://10.0.0.5/hook", OutboundPolicy(allow_private=True)) is None


def _subscription(events: EventFilter, *, enabled: bool = True, name: str = "sub_1") -> Subscription:
    return Subscription(name, "theatre", TargetKind.WEBHOOK, "https://x.example/", events, enabled, NOW)


def test_triggers_match_by_rule_name_or_any() -> None:
    named = _subscription(EventFilter(triggers=frozenset({"welcome-first-purchase"})), name="named")
    every = _subscription(EventFilter(triggers=frozenset({"*"})), name="every")
    segments_only = _subscription(EventFilter(segments_entered=frozenset({"*"})), name="segments")
    found = matching_subscriptions(
        [named, every, segments_only], MessageKind.TRIGGER_FIRED, name="welcome-first-purchase"
    )
    assert [subscription.subscription_id for subscription, _ in found] == ["named", "every"]
    other = matching_subscriptions([named, every], MessageKind.TRIGGER_FIRED, name="lapsed")
    assert [subscription.subscription_id for subscription, _ in other] == ["every"]


def test_segment_entries_and_exits_are_wanted_separately() -> None:
    entries = _subscription(EventFilter(segments_entered=frozenset({"abonnes"})))
    assert matching_subscriptions([entries], MessageKind.SEGMENT_ENTERED, name="abonnes")
    assert not matching_subscriptions([entries], MessageKind.SEGMENT_EXITED, name="abonnes")
    assert not matching_subscriptions([entries], MessageKind.SEGMENT_ENTERED, name="donateurs")


def test_a_profile_change_is_delivered_with_only_the_fields_the_filter_wants() -> None:
    consent = _subscription(EventFilter(profile_fields=frozenset({"consent.*", "emails"})))
    changed = {"consent.marketing_email.status": "withdrawn", "tickets_bought": 4, "emails": ["a@example.com"]}
    [(_, fields)] = matching_subscriptions([consent], MessageKind.PROFILE_CHANGED, changed=changed)
    assert fields == {"consent.marketing_email.status": "withdrawn", "emails": ["a@example.com"]}
    assert not matching_subscriptions([consent], MessageKind.PROFILE_CHANGED, changed={"tickets_bought": 5})


def test_a_disabled_subscription_wants_nothing() -> None:
    disabled = _subscription(EventFilter(triggers=frozenset({"*"})), enabled=False)
    assert not matching_subscriptions([disabled], MessageKind.TRIGGER_FIRED, name="x")


def test_a_rotation_keeps_the_previous_secret_signing_until_the_overlap_ends_and_never_three() -> None:
    first = (SigningSecret("whsec_a", NOW),)
    rotated = rotate(first, "whsec_b", now=NOW, overlap_until=NOW + timedelta(hours=24))
    subscription = _subscription(EventFilter())
    with_secrets = Subscription(**{**subscription.__dict__, "secrets": rotated})
    assert with_secrets.secrets_in_force(NOW + timedelta(hours=1)) == ["whsec_b", "whsec_a"]
    assert with_secrets.secrets_in_force(NOW + timedelta(hours=25)) == ["whsec_b"]
    again = rotate(rotated, "whsec_c", now=NOW + timedelta(hours=1), overlap_until=NOW + timedelta(hours=25))
    assert [entry.secret for entry in again] == ["whsec_c", "whsec_b"]


def test_a_mailchimp_audience_hears_of_a_consent_that_stopped_allowing_email_whatever_fields_it_asked_for() -> None:
    # An audience kept for its segment tags alone must still unsubscribe a person who withdrew consent.
    tags_only = EventFilter(segments_entered=frozenset({"abonnes"}))
    audience = Subscription(
        "sub_mc", "theatre", TargetKind.MAILCHIMP, "https://us1.api.mailchimp.com/3.0", tags_only, True, NOW
    )
    webhook = _subscription(tags_only, name="sub_hook")
    changed = {"consent.marketing_email.status": "withdrawn", "consent.marketing_email.allowed": False, "city": "Lévis"}

    found = matching_subscriptions([audience, webhook], MessageKind.PROFILE_CHANGED, changed=changed)

    assert found == [
        (audience, {"consent.marketing_email.status": "withdrawn", "consent.marketing_email.allowed": False})
    ]
    assert not matching_subscriptions([audience], MessageKind.PROFILE_CHANGED, changed={"consent.sms.allowed": False})
    # A consent given reaches it only through the fields it asked for: it would add people it never wanted.
    granted = {"consent.marketing_email.status": "granted", "consent.marketing_email.allowed": True}
    assert not matching_subscriptions([audience], MessageKind.PROFILE_CHANGED, changed=granted)
