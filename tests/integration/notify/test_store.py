"""The notify store on the real database: what several writers at once leave behind."""

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from services.notify.adapters.mongo import ATTEMPTS, CONTACTS, DELIVERIES, SUBSCRIPTIONS, MongoNotifyStore
from services.notify.adapters.secrets import SecretBox, SecretsKeyError, new_key
from services.notify.domain.contacts import Contact, OptOut
from services.notify.domain.mailchimp import subscriber_hash
from services.notify.domain.messages import attempt_id
from services.notify.domain.signing import new_secret
from services.notify.domain.subscriptions import (
    DisabledReason,
    EventFilter,
    MailchimpTarget,
    SigningSecret,
    Subscription,
    TargetKind,
)
from services.notify.ports import AttemptRecord, Delivery, DeliveryStatus
from shared.cli import main
from shared.mongo import Document
from shared.settings import ServiceSettings

pytestmark = [pytest.mark.mongo]


def _webhook_subscription(subscription_id: str, now: datetime) -> Subscription:
    return Subscription(
        subscription_id=subscription_id,
        organisation_id="org",
        kind=TargetKind.WEBHOOK,
        url="https://crm.example.com/hooks",
        events=EventFilter(triggers=frozenset({"*"})),
        enabled=True,
        created_at=now,
        secrets=(SigningSecret(new_secret(), now),),
    )


async def test_deliveries_queued_at_once_for_one_subscription_are_all_kept(database: AsyncDatabase[Document]) -> None:
    store, now = MongoNotifyStore(database, SecretBox([new_key()])), datetime.now(UTC)
    await asyncio.gather(*(store.enqueue("sub_a", f"dlv_{n}", now, now) for n in range(40)))
    await asyncio.gather(*(store.dequeue("sub_a", f"dlv_{n}") for n in range(0, 40, 2)))
    assert sorted(entry.delivery_id for entry in await store.queue("sub_a")) == sorted(
        f"dlv_{n}" for n in range(1, 40, 2)
    )


async def test_a_persons_sends_and_opt_outs_recorded_at_once_are_all_kept(database: AsyncDatabase[Document]) -> None:
    store, now = MongoNotifyStore(database, SecretBox([new_key()])), datetime.now(UTC)
    await asyncio.gather(
        *(store.record_send("org", "per_a", f"msg_{n}", now, ()) for n in range(10)),
        *(store.record_opt_out("org", "per_a", OptOut(f"purpose_{n}", now)) for n in range(10)),
    )
    contact = await store.contact("org", "per_a")
    assert len(await store.sends("org", "per_a")) == 10
    assert contact is not None
    assert len(contact.opt_outs) == 10


async def test_forgetting_a_deleted_subscriptions_members_leaves_other_subscriptions_and_organisations_as_they_are(
    database: AsyncDatabase[Document],
) -> None:
    store = MongoNotifyStore(database, SecretBox([new_key()]))
    await store.record_mailchimp_member("org", "per_a", "sub_mc", "a@example.com")
    await store.record_mailchimp_member("org", "per_a", "sub_other", "a@example.com")
    await store.record_mailchimp_member("org", "per_b", "sub_mc", "b@example.com")
    await store.record_mailchimp_member("org-2", "per_c", "sub_mc", "c@example.com")

    forgotten = await store.forget_mailchimp_members("org", "sub_mc")

    assert forgotten == 2
    assert [
        None if (contact := await store.contact(organisation, person)) is None else contact.mailchimp_members
        for organisation, person in (("org", "per_a"), ("org", "per_b"), ("org-2", "per_c"))
    ] == [{"sub_other": "a@example.com"}, {}, {"sub_mc": "c@example.com"}]
    assert await store.forget_mailchimp_members("org", "sub_mc") == 0


async def test_the_address_a_mailchimp_member_is_kept_under_outlives_profile_changes_and_goes_with_an_erasure(
    database: AsyncDatabase[Document],
) -> None:
    store, now = MongoNotifyStore(database, SecretBox([new_key()])), datetime.now(UTC)
    await store.record_mailchimp_member("org", "per_a", "sub_mc", "old@example.com")
    await store.save_contact("org", Contact("per_a", 1, emails=("new@example.com", "old@example.com")))
    await store.record_mailchimp_member("org", "per_a", "sub_other", "old@example.com")

    contact = await store.contact("org", "per_a")

    assert contact is not None
    assert contact.emails == ("new@example.com", "old@example.com")
    assert contact.mailchimp_members == {"sub_mc": "old@example.com", "sub_other": "old@example.com"}
    await store.erase("org", "per_a", now)
    # Learnt as an attempt ends after the erasure, it would make the contact again.
    await store.record_mailchimp_member("org", "per_a", "sub_mc", "new@example.com")
    assert await store.contact("org", "per_a") is None
    # Only the erasure's own mark stays, which holds no address.
    assert [document async for document in database[CONTACTS].find() if "example.com" in repr(document)] == []


async def test_the_members_a_mailchimp_subscription_archived_itself_are_kept_by_hash_until_brought_back(
    database: AsyncDatabase[Document],
) -> None:
    store = MongoNotifyStore(database, SecretBox([new_key()]))
    await store.save_contact("org", Contact("per_a", 1, emails=("elise@example.com",)))
    await store.record_mailchimp_archived("org", "per_a", "sub_mc", "Elise@Example.com", archived=True)
    await store.record_mailchimp_archived("org", "per_a", "sub_other", "old@example.com", archived=True)

    archived = await store.contact("org", "per_a")
    await store.record_mailchimp_archived("org", "per_a", "sub_mc", "elise@example.com", archived=False)
    brought_back = await store.contact("org", "per_a")

    assert archived is not None
    assert archived.mailchimp_archived == {
        "sub_mc": frozenset({subscriber_hash("elise@example.com")}),
        "sub_other": frozenset({subscriber_hash("old@example.com")}),
    }
    assert brought_back is not None
    assert brought_back.mailchimp_archived == {"sub_other": frozenset({subscriber_hash("old@example.com")})}
    # A hash, not an address: nothing of the person is written there that an erasure would have to find.
    assert "old@example.com" not in repr(await database[CONTACTS].find_one({"person_id": "per_a"}))


async def test_signing_secrets_and_api_keys_are_stored_sealed_and_read_back_in_clear(
    database: AsyncDatabase[Document],
) -> None:
    key = new_key()
    store, now = MongoNotifyStore(database, SecretBox([key])), datetime.now(UTC).replace(microsecond=0)
    signing_secret, api_key = new_secret(), "0123456789abcdef0123456789abcdef-us21"
    subscription = Subscription(
        subscription_id="sub_sealed",
        organisation_id="org",
        kind=TargetKind.MAILCHIMP,
        url="https://us21.api.mailchimp.com/3.0",
        events=EventFilter(triggers=frozenset({"*"})),
        enabled=True,
        created_at=now,
        secrets=(SigningSecret(signing_secret, now),),
        mailchimp=MailchimpTarget("https://us21.api.mailchimp.com/3.0", api_key, "a6b5da1054"),
    )
    await store.save_subscription(subscription)
    stored = await database[SUBSCRIPTIONS].find_one({"_id": "sub_sealed"})
    read = await store.subscription("sub_sealed")
    rotated_key_store = MongoNotifyStore(database, SecretBox([new_key(), key]))
    wrong_key_store = MongoNotifyStore(database, SecretBox([new_key()]))
    assert stored is not None
    assert signing_secret not in str(stored)
    assert signing_secret.removeprefix("whsec_") not in str(stored)
    assert api_key not in str(stored)
    assert read == subscription
    assert await rotated_key_store.subscription("sub_sealed") == subscription
    with pytest.raises(SecretsKeyError, match="PARTERRE_NOTIFY_SECRETS_KEY"):
        await wrong_key_store.subscription("sub_sealed")


async def test_resealing_with_a_new_key_first_lets_the_old_key_go_and_a_subscription_no_key_opens_waits_alone(
    database: AsyncDatabase[Document],
) -> None:
    old_key, new, stranger = new_key(), new_key(), new_key()
    now = datetime.now(UTC).replace(microsecond=0)

    def subscription(subscription_id: str, *, mailchimp: bool) -> Subscription:
        return Subscription(
            subscription_id=subscription_id,
            organisation_id="org",
            kind=TargetKind.MAILCHIMP if mailchimp else TargetKind.WEBHOOK,
            url="https://us21.api.mailchimp.com/3.0" if mailchimp else "https://hooks.example.com/parterre",
            events=EventFilter(triggers=frozenset({"*"})),
            enabled=True,
            created_at=now,
            secrets=(SigningSecret(new_secret(), now), SigningSecret(new_secret(), now - timedelta(days=1), now)),
            mailchimp=MailchimpTarget("https://us21.api.mailchimp.com/3.0", "0123456789abcdef-us21", "a6b5da1054")
            if mailchimp
            else None,
        )

    saved = [subscription("sub_hook", mailchimp=False), subscription("sub_mailchimp", mailchimp=True)]
    for one in saved:
        await MongoNotifyStore(database, SecretBox([old_key])).save_subscription(one)
    await MongoNotifyStore(database, SecretBox([stranger])).save_subscription(subscription("sub_lost", mailchimp=False))

    first = await MongoNotifyStore(database, SecretBox([new, old_key])).reseal_secrets()
    again = await MongoNotifyStore(database, SecretBox([new, old_key])).reseal_secrets()
    new_key_only = MongoNotifyStore(database, SecretBox([new]))

    assert (first.subscriptions, first.resealed, first.unreadable, first.changed_meanwhile) == (3, 2, ["sub_lost"], [])
    assert (again.resealed, again.unreadable) == (0, ["sub_lost"])
    assert [await new_key_only.subscription(one.subscription_id) for one in saved] == saved
    # Read as the worker reads them all: the one no key opens is left out, not every organisation's. Read for a
    # message to queue, it fails, so that the message is tried again rather than queued for no one.
    readable = await new_key_only.subscriptions(readable_only=True)
    assert [one.subscription_id for one in readable] == ["sub_hook", "sub_mailchimp"]
    with pytest.raises(SecretsKeyError):
        await new_key_only.subscriptions("org")


@pytest.mark.parametrize(
    ("locale", "said", "refused"),
    [
        (
            "C.UTF-8",
            "2 subscriptions; 1 sealed again with the first key\n",
            "sub_lost  no key of PARTERRE_NOTIFY_SECRETS_KEY opens its secrets\n",
        ),
        (
            "fr_CA.UTF-8",
            "2 abonnements ; 1 scellé de nouveau avec la première clé\n",
            "sub_lost  aucune clé de PARTERRE_NOTIFY_SECRETS_KEY n'ouvre ses secrets\n",
        ),
    ],
    ids=["english", "french"],
)
async def test_the_reseal_command_says_what_it_sealed_and_names_a_subscription_no_key_opens(
    database: AsyncDatabase[Document],
    settings: ServiceSettings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    locale: str,
    said: str,
    refused: str,
) -> None:
    old_key, new = new_key(), new_key()
    now = datetime.now(UTC).replace(microsecond=0)
    for subscription_id, key in (("sub_kept", old_key), ("sub_lost", new_key())):
        await MongoNotifyStore(database, SecretBox([key])).save_subscription(
            Subscription(
                subscription_id=subscription_id,
                organisation_id="org",
                kind=TargetKind.WEBHOOK,
                url="https://hooks.example.com/parterre",
                events=EventFilter(triggers=frozenset({"*"})),
                enabled=True,
                created_at=now,
                secrets=(SigningSecret(new_secret(), now),),
            )
        )
    monkeypatch.setenv("PARTERRE_MONGO_URL", settings.mongo_url)
    monkeypatch.setenv("PARTERRE_MONGO_DATABASE", settings.mongo_database)
    monkeypatch.setenv("PARTERRE_NOTIFY_SECRETS_KEY", f"{new},{old_key}")
    monkeypatch.setenv("LANG", locale)

    exit_code = await asyncio.to_thread(main, ["notify", "reseal-secrets"])

    output = capsys.readouterr()
    assert exit_code == 1
    assert output.out == said
    assert output.err == refused
    assert await MongoNotifyStore(database, SecretBox([new])).subscription("sub_kept") is not None


async def test_a_mailchimp_key_replaced_alone_is_stored_sealed_beside_the_audience_it_kept(
    database: AsyncDatabase[Document],
) -> None:
    store, now = MongoNotifyStore(database, SecretBox([new_key()])), datetime.now(UTC).replace(microsecond=0)
    revoked, replacement = "0123456789abcdef0123456789abcdef-us21", "fedcba9876543210fedcba9876543210-us21"
    audience = MailchimpTarget("https://us21.api.mailchimp.com/3.0", revoked, "a6b5da1054")
    subscription = Subscription(
        subscription_id="sub_audience",
        organisation_id="org",
        kind=TargetKind.MAILCHIMP,
        url=audience.api_url,
        events=EventFilter(triggers=frozenset({"*"})),
        enabled=True,
        created_at=now,
        secrets=(SigningSecret(new_secret(), now),),
        mailchimp=audience,
    )
    await store.save_subscription(subscription)
    # What `PATCH` stores: the `mailchimp` field alone, with the new key.
    rotated = replace(subscription, mailchimp=replace(audience, api_key=replacement))
    await store.save_subscription(rotated, fields=("mailchimp",))

    stored = await database[SUBSCRIPTIONS].find_one({"_id": "sub_audience"})
    assert stored is not None
    assert replacement not in str(stored)
    assert revoked not in str(stored)
    assert await store.subscription("sub_audience") == rotated


async def test_an_edit_read_before_a_410_stores_its_own_fields_and_leaves_the_subscription_disabled(
    database: AsyncDatabase[Document],
) -> None:
    store, now = MongoNotifyStore(database, SecretBox([new_key()])), datetime.now(UTC).replace(microsecond=0)
    subscription = _webhook_subscription("sub_crm", now)
    await store.save_subscription(subscription)
    # An administrator's edit, read while the subscription was enabled, lands after a 410 disabled it.
    read_before = await store.subscription("sub_crm")
    assert read_before is not None
    await store.disable_subscription("sub_crm", "410 Gone", DisabledReason.RECEIVER_GONE)
    edited = replace(read_before, description="CRM de la billetterie")
    await store.save_subscription(edited, fields=("description",))

    stored = await store.subscription("sub_crm")
    assert stored is not None
    assert stored.description == "CRM de la billetterie"
    assert (stored.enabled, stored.disabled_reason, stored.disabled_reason_code) == (False, "410 Gone", "receiver_gone")


async def test_a_subscription_disabled_before_reasons_had_a_code_reads_back_with_its_reason_and_no_code(
    database: AsyncDatabase[Document],
) -> None:
    store, now = MongoNotifyStore(database, SecretBox([new_key()])), datetime.now(UTC).replace(microsecond=0)
    subscription = _webhook_subscription("sub_old", now)
    await store.save_subscription(subscription)
    # As a version that kept no code stored it.
    await database[SUBSCRIPTIONS].update_one(
        {"_id": "sub_old"},
        {
            "$set": {"enabled": False, "disabled_reason": "disabled by an administrator"},
            "$unset": {"disabled_reason_code": ""},
        },
    )
    assert "disabled_reason_code" not in (await database[SUBSCRIPTIONS].find_one({"_id": "sub_old"}) or {})

    stored = await store.subscription("sub_old")

    assert stored is not None
    assert (stored.enabled, stored.disabled_reason, stored.disabled_reason_code) == (
        False,
        "disabled by an administrator",
        None,
    )


async def test_an_erasure_leaves_no_word_a_receiver_quoted_of_the_person_nor_a_contact_made_after_it(
    database: AsyncDatabase[Document],
) -> None:
    store, now = MongoNotifyStore(database, SecretBox([new_key()])), datetime.now(UTC)
    quoted = "400: elise.gagnon@example.com looks fake or invalid, please enter a real email address"
    delivery = Delivery(
        "dlv_1", "org", "sub_a", "msg_1", "trigger.fired", {"email": "elise.gagnon@example.com"}, now, now, "per_elise"
    )
    await store.add_delivery(delivery)
    await store.claim_attempt(AttemptRecord(attempt_id("dlv_1", 1), "dlv_1", 1, now, "worker"))
    await store.finish_attempt(
        AttemptRecord(attempt_id("dlv_1", 1), "dlv_1", 1, now, "worker", now, "dead", 400, quoted, 0.1, True)
    )
    await store.update_delivery("dlv_1", {"status": DeliveryStatus.DEAD, "attempts": 1, "last_error": quoted})

    await store.erase("org", "per_elise", now)
    [held] = await store.person_deliveries("org", "per_elise")
    await store.forget_person_in_delivery(held, None)
    # An attempt under way when the erasure came ends after it, with an opt-out and a send to note.
    await store.record_opt_out("org", "per_elise", OptOut("marketing_email", now))
    await store.record_send("org", "per_elise", "msg_1", now, ())

    stored = [
        document for collection in (DELIVERIES, ATTEMPTS) for document in await database[collection].find().to_list()
    ]
    assert stored
    assert "elise.gagnon" not in str(stored)
    assert await store.contact("org", "per_elise") is None


async def test_a_persons_membership_of_a_segment_is_as_last_entered_or_left(database: AsyncDatabase[Document]) -> None:
    store = MongoNotifyStore(database, SecretBox([new_key()]))
    await store.enter_segments("org", [("vip", "per_a")])
    await store.set_membership("org", "abonnes", "per_a", True)
    await store.set_membership("org", "abonnes", "per_a", False)

    assert await store.is_member("org", "vip", "per_a")
    assert not await store.is_member("org", "abonnes", "per_a")
    # Of one organisation, one segment, one person.
    assert not await store.is_member("org", "vip", "per_b")
    assert not await store.is_member("other-org", "vip", "per_a")


async def test_a_contact_saved_as_new_that_was_stored_meanwhile_keeps_what_it_held(
    database: AsyncDatabase[Document],
) -> None:
    store, now = MongoNotifyStore(database, SecretBox([new_key()])), datetime(2026, 3, 1, tzinfo=UTC)
    # Read as stored nowhere, then an opt-out heard and a Mailchimp member recorded before the batch saves it.
    await store.record_opt_out("org", "per_a", OptOut("marketing_email", now))
    await store.record_mailchimp_member("org", "per_a", "sub_mc", "a@example.com")
    await store.save_contacts(
        "org",
        [Contact("per_a", 3, emails=("a@example.com",), first_name="Anne"), Contact("per_b", 2, city="Laval")],
        new_persons=["per_a", "per_b"],
    )
    anne, bernard = await store.contact("org", "per_a"), await store.contact("org", "per_b")
    assert anne is not None
    assert (anne.profile_version, anne.emails, anne.first_name) == (3, ("a@example.com",), "Anne")
    assert "marketing_email" in anne.opt_outs
    assert anne.mailchimp_members == {"sub_mc": "a@example.com"}
    assert bernard == Contact("per_b", 2, city="Laval")
    # Saved as new again (a batch delivered again after a crash): the same contact, nothing doubled.
    await store.save_contacts("org", [Contact("per_b", 2, city="Laval")], new_persons=["per_b"])
    assert await store.contact("org", "per_b") == bernard
    assert await database[CONTACTS].count_documents({"person_id": "per_b"}) == 1


async def test_contacts_read_together_are_those_read_one_by_one(database: AsyncDatabase[Document]) -> None:
    store = MongoNotifyStore(database, SecretBox([new_key()]))
    now = datetime(2026, 3, 1, tzinfo=UTC)
    await store.save_contacts("org", [Contact("per_a", 3, emails=("a@example.com",)), Contact("per_b", 1)])
    await store.save_contact("other-org", Contact("per_c", 2, emails=("c@example.com",)))
    # An opt-out heard before the profile announced the person makes their contact.
    await store.record_opt_out("org", "per_d", OptOut("marketing_email", now))

    asked = ["per_a", "per_b", "per_c", "per_d", "per_unknown"]
    together = await store.contacts("org", asked)

    one_by_one = {person: contact for person in asked if (contact := await store.contact("org", person)) is not None}
    assert together == one_by_one
    assert sorted(together) == ["per_a", "per_b", "per_d"]
    assert together["per_a"].emails == ("a@example.com",)
    assert "marketing_email" in together["per_d"].opt_outs


@pytest.mark.usefixtures("french_locale")
async def test_the_replay_command_says_in_french_that_a_delivery_named_is_not_found(
    settings: ServiceSettings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PARTERRE_MONGO_URL", settings.mongo_url)
    monkeypatch.setenv("PARTERRE_MONGO_DATABASE", settings.mongo_database)
    monkeypatch.setenv("PARTERRE_NOTIFY_SECRETS_KEY", new_key())

    exit_code = await asyncio.to_thread(main, ["notify", "replay", "--org", "theatre-du-nord", "dlv_aucune"])

    output = capsys.readouterr()
    assert exit_code == 1
    assert (output.out, output.err) == ("", "dlv_aucune  introuvable dans theatre-du-nord\n")
