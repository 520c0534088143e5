"""Persons stored before the blocking keys changed are filed under today's keys, so new records meet them again."""

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from services.identity.adapters.mongo import BLOCKS, MongoIdentityStore, SaltMismatchError
from services.identity.domain.matching import BLOCK_CAPACITY, BLOCKING_KEYS_VERSION, blocking_keys
from services.identity.domain.persons import Person, PersonStatus
from services.identity.domain.records import NormalisedRecord
from services.identity.handlers import IdentityDeps
from services.identity.ports import IdentityStore
from services.identity.refiling import refile_blocks
from shared.events.identity import MatchMethod
from shared.mongo import Document
from shared.settings import ServiceSettings
from tests.integration.identity.conftest import ORGANISATION, START, normalised, resolve
from tests.integration.terminal import run_from_terminal

FREDERIC = {"first_name": "Frédéric", "last_name": "Sirois", "email": "frederic.sirois13@hotmail.com"}
# One slip in the mailbox name: this record shares with Frédéric's only the key of both names at the e-mail's domain.
MISTYPED = {**FREDERIC, "email": "frederic.sirios13@hotmail.com"}


async def store_as_before(
    store: IdentityStore, person_id: str, *records: NormalisedRecord, organisation_id: str = ORGANISATION
) -> None:
    """A person as a release with fewer blocking keys left it: filed under its phone and mailbox name only."""
    await store.insert_person(
        Person(
            person_id=person_id,
            organisation_id=organisation_id,
            created_at=START,
            created_by_event=f"old-{person_id}",
            records=records,
        )
    )
    old_keys = [key for record in records for key in blocking_keys(record) if key.startswith(("el:", "ph:"))]
    await store.add_to_blocks(organisation_id, old_keys, person_id)


@pytest.mark.parametrize("refiled", [False, True], ids=["as stored", "refiled"])
async def test_a_record_meets_a_person_stored_before_its_key_existed_only_once_the_person_is_refiled(
    deps: IdentityDeps, refiled: bool
) -> None:
    await store_as_before(deps.store, "per_frederic", normalised(**FREDERIC))
    if refiled:
        report = await refile_blocks(deps.store, ORGANISATION)
        assert (report.persons, report.filed) == (1, len(blocking_keys(normalised(**FREDERIC))) - 1)

    found = await resolve(deps, "e-mistyped", **MISTYPED)

    if refiled:
        assert (found.person_id, found.match.method) == ("per_frederic", MatchMethod.PROBABILISTIC)
    else:
        assert (found.person_id, found.match.method) != ("per_frederic", MatchMethod.PROBABILISTIC)


async def test_refiling_files_active_persons_of_the_organisation_asked_once_and_nothing_the_second_time(
    identity_store: IdentityStore,
) -> None:
    store = identity_store
    marie = normalised(first_name="Marie", last_name="Tremblay", postal_code="H2J 2L1", phone="514 555 0199")
    # Two records kept of one person: each record's keys count.
    moved = normalised(first_name="Marie", last_name="Tremblay", postal_code="G1R 4P5")
    await store_as_before(store, "per_marie", marie, moved)
    await store_as_before(store, "per_merged", normalised(first_name="Luc", last_name="Roy", postal_code="H2J 2L1"))
    await store.set_status(
        ORGANISATION, "per_merged", status=PersonStatus.MERGED, merged_into="per_marie", expected=PersonStatus.ACTIVE
    )
    await store_as_before(
        store,
        "per_elsewhere",
        normalised(first_name="Olga", last_name="Côté", postal_code="H2J 2L1"),
        organisation_id="festival-sud",
    )
    seen: list[int] = []

    first = await refile_blocks(store, ORGANISATION, progress=lambda report: seen.append(report.persons))
    again = await refile_blocks(store, ORGANISATION)

    wanted = sorted(set(blocking_keys(marie)) | set(blocking_keys(moved)))
    assert (first.persons, first.filed, first.full) == (1, len([key for key in wanted if not key.startswith("ph:")]), 0)
    assert seen == [1]
    assert (again.persons, again.filed) == (1, 0)
    members = await store.block_members(ORGANISATION, wanted)
    assert all("per_marie" in members[key] for key in wanted)
    luc_keys = list(blocking_keys(normalised(first_name="Luc", last_name="Roy", postal_code="H2J 2L1")))
    assert not any("per_merged" in found for found in (await store.block_members(ORGANISATION, luc_keys)).values())
    olga_keys = list(blocking_keys(normalised(first_name="Olga", last_name="Côté", postal_code="H2J 2L1")))
    assert not any((await store.block_members("festival-sud", olga_keys)).values()), "another organisation waits"

    everyone = await refile_blocks(store, None)
    assert (everyone.persons, everyone.filed) == (2, len(olga_keys))


async def _frederic_for_the_command(
    settings: ServiceSettings, database: AsyncDatabase[Document], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Frédéric stored as before his missing blocking key, for the command the environment points at this store."""
    await store_as_before(MongoIdentityStore(database), "per_frederic", normalised(**FREDERIC))
    monkeypatch.setenv("PARTERRE_MONGO_URL", settings.mongo_url)
    monkeypatch.setenv("PARTERRE_MONGO_DATABASE", settings.mongo_database)


@pytest.mark.mongo
async def test_the_refile_command_shows_what_it_filed_and_refuses_a_bad_organisation(
    settings: ServiceSettings,
    database: AsyncDatabase[Document],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await _frederic_for_the_command(settings, database, monkeypatch)
    keys = len(blocking_keys(normalised(**FREDERIC))) - 1

    first = await run_from_terminal(["identity", "refile-blocks", "--organisation", ORGANISATION])
    first_output = capsys.readouterr().out
    again = await run_from_terminal(["identity", "refile-blocks"])
    again_output = capsys.readouterr().out
    refused = await run_from_terminal(["identity", "refile-blocks", "--organisation", "Not An Org!"])

    assert (first, again, refused) == (0, 0, 2)
    assert f"visited 1 persons; filed them under {keys} blocking keys they were missing" in first_output
    assert "visited 1 persons; filed them under 0 blocking keys they were missing" in again_output
    assert "--organisation" in capsys.readouterr().err


@pytest.mark.mongo
@pytest.mark.usefixtures("french_locale")
async def test_the_refile_command_says_in_french_what_it_filed(
    settings: ServiceSettings,
    database: AsyncDatabase[Document],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await _frederic_for_the_command(settings, database, monkeypatch)
    # One key missing: the word agrees with it.
    assert len(blocking_keys(normalised(**FREDERIC))) - 1 == 1

    first = await run_from_terminal(["identity", "refile-blocks"])
    first_said = capsys.readouterr()
    again = await run_from_terminal(["identity", "refile-blocks"])

    assert (first, again) == (0, 0)
    assert first_said.out == "1 personne visitée ; 1 clé de blocage manquante ajoutée\n"
    assert "1 personne " in first_said.err
    assert capsys.readouterr().out == "1 personne visitée ; 0 clé de blocage manquante ajoutée\n"


@pytest.mark.mongo
async def test_a_full_block_is_reported_not_counted_as_filed(database: AsyncDatabase[Document]) -> None:
    store = MongoIdentityStore(database)
    await store_as_before(store, "per_frederic", normalised(**FREDERIC))
    (by_names,) = [key for key in blocking_keys(normalised(**FREDERIC)) if key.startswith("nm:")]
    await store.add_to_blocks_all(ORGANISATION, [([by_names], f"per_namesake_{n}") for n in range(BLOCK_CAPACITY)])

    report = await refile_blocks(store, ORGANISATION)

    assert (report.persons, report.filed, report.full) == (1, 0, 1)
    assert "per_frederic" not in (await store.block_members(ORGANISATION, [by_names]))[by_names]


class _KeysInClear(MongoIdentityStore):
    """The store as releases before hashed blocking keys wrote them: each block under its key in clear."""

    def _stored_block_key(self, key: str) -> str:
        return key


@pytest.mark.mongo
async def test_blocks_stored_in_clear_by_an_earlier_release_are_deleted_once_every_organisation_is_refiled(
    database: AsyncDatabase[Document],
) -> None:
    await store_as_before(_KeysInClear(database), "per_frederic", normalised(**FREDERIC))
    store = MongoIdentityStore(database)
    keys = list(blocking_keys(normalised(**FREDERIC)))
    (mailbox,) = [key for key in keys if key.startswith("el:")]

    async def stored_blocks() -> str:
        return "\n".join([repr(document) async for document in database[BLOCKS].find({})])

    await refile_blocks(store, ORGANISATION)
    assert mailbox in await stored_blocks(), "one organisation refiled: another may still be read in clear"

    await refile_blocks(store, None)

    stored = await stored_blocks()
    assert [key for key in keys if key in stored] == []
    assert "sirois" not in stored
    assert await store.block_members(ORGANISATION, keys) == {key: ["per_frederic"] for key in keys}
    assert await store.blocks_filed_under() == BLOCKING_KEYS_VERSION


@pytest.mark.mongo
async def test_a_store_opened_with_another_salt_than_its_blocks_were_hashed_with_refuses_to_file_or_refile(
    settings: ServiceSettings,
    database: AsyncDatabase[Document],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await store_as_before(
        MongoIdentityStore(database, salt="the-service-s-salt"), "per_frederic", normalised(**FREDERIC)
    )
    elsewhere = MongoIdentityStore(database, salt="a-shell-s-salt")
    with pytest.raises(SaltMismatchError):
        await elsewhere.block_members(ORGANISATION, list(blocking_keys(normalised(**FREDERIC))))
    with pytest.raises(SaltMismatchError):
        await elsewhere.add_to_blocks(ORGANISATION, ["ph:+15145550199"], "per_someone")
    monkeypatch.setenv("PARTERRE_MONGO_URL", settings.mongo_url)
    monkeypatch.setenv("PARTERRE_MONGO_DATABASE", settings.mongo_database)

    monkeypatch.setenv("PARTERRE_IDENTITY_SUPPRESSION_SALT", "a-shell-s-salt")
    refused = await run_from_terminal(["identity", "refile-blocks"])
    refused_error = capsys.readouterr().err
    monkeypatch.setenv("LANG", "fr_CA.UTF-8")
    refused_in_french = await run_from_terminal(["identity", "refile-blocks"])
    french_error = capsys.readouterr().err
    monkeypatch.setenv("LANG", "C.UTF-8")
    monkeypatch.setenv("PARTERRE_IDENTITY_SUPPRESSION_SALT", "the-service-s-salt")
    done = await run_from_terminal(["identity", "refile-blocks"])

    assert (refused, refused_in_french, done) == (2, 2, 0)
    assert "PARTERRE_IDENTITY_SUPPRESSION_SALT" in refused_error
    assert french_error.startswith(
        "erreur : les clés de blocage de cette base de données ont été hachées avec un autre "
        "PARTERRE_IDENTITY_SUPPRESSION_SALT"
    )
    assert "visited 1 persons" in capsys.readouterr().out
