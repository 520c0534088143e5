"""The console's other pages in headless Chromium: segments and their export, the overview's charts, operations with
a dead letter to replay, a patron's data exported after a confirmation step then erased, and moving around with the
keyboard alone."""

import json
import re

import pytest
from playwright.async_api import Page, expect

from tests.browser import season
from tests.browser.conftest import ConsoleUnderTest, log_in, screenshot
from tests.integration.demo.poison import publish_poison
from tests.integration.waiting import eventually

pytestmark = [pytest.mark.kafka, pytest.mark.mongo]


async def test_a_segment_lists_its_members_and_exports_them_as_csv(console: ConsoleUnderTest, page: Page) -> None:
    await log_in(page, console, "marie", then="/segments")
    row = page.get_by_role("row", name=re.compile("Abonnés à l'infolettre"))
    await expect(row).to_be_visible()
    await screenshot(page, "segments")
    await row.get_by_role("link").first.click()
    await expect(page.get_by_role("link", name="Hélène Côté")).to_be_visible()
    await screenshot(page, "segment")
    async with page.expect_download() as download_info:
        await page.get_by_role("button", name="Télécharger (CSV)").click()
    download = await download_info.value
    path = await download.path()
    text = path.read_text(encoding="utf-8-sig")
    assert text.splitlines()[0].startswith("person_id,first_name,last_name,email")
    assert season.HELENE.shop_email in text or season.HELENE.box_office_email in text


async def test_the_overview_draws_its_charts_with_their_figures(console: ConsoleUnderTest, page: Page) -> None:
    await log_in(page, console, "marie", then="/overview?refresh=true")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Vue d'ensemble du public")
    await expect(page.locator("svg.chart")).to_have_count(4)
    seasons = page.locator("section", has=page.get_by_role("heading", name="Nouveaux et fidèles, par saison"))
    await expect(seasons.get_by_role("rowheader", name="2026-2027")).to_be_visible()
    await expect(seasons.locator("svg rect.bar").first).to_be_visible()
    await screenshot(page, "overview")


async def test_operations_list_a_dead_letter_and_replay_it(console: ConsoleUnderTest, page: Page) -> None:
    platform = console.platform
    await publish_poison(platform.fleet.kafka_bootstrap, platform.namespace, season.ORGANISATION)
    await log_in(page, console, "exploitation", then="/operations")

    async def listed() -> bool:
        await page.reload()
        return await page.locator("#h-dead-letters ~ table tbody tr", has_text="identity").count() > 0

    assert await eventually(listed, deadline_seconds=60)
    await expect(page.get_by_role("cell", name="Prêt").first).to_be_visible()
    await screenshot(page, "operations")
    entry = page.locator("#h-dead-letters ~ table tbody tr", has_text="identity").first
    page.once("dialog", lambda dialog: dialog.accept())
    await entry.get_by_role("button", name="Renvoyer").click()
    await expect(page.locator(".notice")).to_contain_text("Message renvoyé")
    # The replay is recorded on the entry; the poison fails again and comes back as a new entry.
    await expect(page.locator("#h-dead-letters ~ table tbody tr", has_text="identity").first).to_be_visible()
    replayed = page.locator("#h-dead-letters ~ table tbody tr", has_text="identity").locator("td:nth-child(5)")
    assert "1" in await replayed.all_inner_texts()


async def test_a_patron_s_data_is_exported_then_erased_after_a_typed_confirmation(
    console: ConsoleUnderTest, page: Page
) -> None:
    person = await console.person_by_email(season.ZOE_EMAIL)
    assert person is not None
    person_id = person["person_id"]
    await log_in(page, console, "marie", then=f"/patrons/{person_id}")
    # Exporting is a step of its own: the page says the access is logged before anything is downloaded.
    await page.get_by_role("link", name="Exporter ses données…").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Exporter les données d'une personne")
    await expect(page.locator("main")).to_contain_text("inscrit au registre comme un accès")
    await screenshot(page, "export")
    async with page.expect_download() as download_info:
        await page.get_by_role("button", name="Télécharger et consigner (JSON)").click()
    exported = json.loads((await (await download_info.value).path()).read_text())
    assert exported["person_id"] == person_id
    assert season.ZOE_EMAIL in exported["profile"]["fields"]["emails"]
    erasure = await console.api("profile", f"/v1/persons/{person_id}/erasure")
    assert erasure is not None
    assert [entry["action"] for entry in erasure["entries"]] == ["exported"]

    await page.get_by_role("link", name="Retour à la fiche").click()
    await page.get_by_role("link", name="Effacer la personne…").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Effacer une personne")
    await page.get_by_label("Pour confirmer, tapez EFFACER").fill("oui")
    await page.get_by_role("button", name="Effacer définitivement").click()
    await expect(page.get_by_role("alert")).to_contain_text("Tapez le mot demandé")
    await page.get_by_label("Motif (conservé au registre)").fill("Demande de la personne, courriel du 28 novembre")
    await page.get_by_label("Pour confirmer, tapez EFFACER").fill("EFFACER")
    await page.get_by_role("button", name="Effacer définitivement").click()
    await expect(page.locator(".notice")).to_contain_text("Effacement demandé")

    async def erased() -> bool:
        return await console.api("profile", f"/v1/profiles/{person_id}") is None

    assert await eventually(erased, deadline_seconds=60)
    await page.goto(f"{console.url}/patrons?q=Zoé Lachance")
    await expect(page.get_by_role("status")).to_contain_text("Personne ne correspond")


async def test_every_field_has_a_label_and_the_keyboard_reaches_the_search(
    console: ConsoleUnderTest, page: Page
) -> None:
    person_id = await console.person_by_email(season.HELENE.shop_email)
    assert person_id is not None
    await log_in(page, console, "marie")
    for path in ("/patrons", "/review", "/segments", "/operations", f"/patrons/{person_id['person_id']}"):
        await page.goto(f"{console.url}{path}")
        unlabelled = await page.evaluate(
            """() => [...document.querySelectorAll('input:not([type=hidden]), textarea, select')]
                 .filter((field) => !field.labels?.length && !field.getAttribute('aria-label'))
                 .map((field) => field.name)"""
        )
        assert unlabelled == [], path
    # The first stop of the keyboard is the link that skips the navigation.
    await page.goto(f"{console.url}/review")
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.textContent.trim()") == "Aller au contenu"
    # The search page puts the cursor in the search box. Browsers apply `autofocus` at their next rendering
    # step, which on a busy machine comes after the load event `goto` waits for: wait for it, as a person would.
    await page.goto(f"{console.url}/patrons")
    await expect(page.locator("#q")).to_be_focused()
    await page.keyboard.type("helene cote")
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("link", name="Hélène Côté")).to_be_visible()
    await page.get_by_role("link", name="Hélène Côté").focus()
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Hélène Côté")
