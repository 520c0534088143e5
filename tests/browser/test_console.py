"""The audience console in headless Chromium against the running platform: what staff do with it, page by page."""

import re

import pytest
from playwright.async_api import Page, expect

from services.console.context import load_catalog
from services.console.domain.i18n import Language
from tests.browser import season
from tests.browser.conftest import ConsoleUnderTest, log_in, screenshot
from tests.integration.waiting import eventually

pytestmark = [pytest.mark.kafka, pytest.mark.mongo]


async def _patron_id(console: ConsoleUnderTest, patron: season.MergedPatron) -> str:
    """The surviving person: whichever of the two records identity saw first."""
    person = await console.person_by_email(patron.shop_email)
    assert person is not None
    return str(person["merged_into"] or person["person_id"])


async def test_search_finds_a_patron_typed_without_her_accents(console: ConsoleUnderTest, page: Page) -> None:
    await log_in(page, console, "marie")
    await page.get_by_label("Nom, courriel, téléphone ou numéro de client").fill("helene cote")
    await page.get_by_role("button", name="Chercher").click()
    result = page.get_by_role("link", name="Hélène Côté")
    await expect(result).to_be_visible()
    await screenshot(page, "search")
    await result.click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Hélène Côté")


async def test_search_finds_a_patron_by_email_and_by_a_typo_in_her_name(console: ConsoleUnderTest, page: Page) -> None:
    await log_in(page, console, "marie")
    for query in ("HCote@Courriel.example", "Hélène Coté", "Emile Belenger"):
        await page.goto(f"{console.url}/patrons?q={query}")
        await expect(page.get_by_role("table")).to_be_visible()
    await expect(page.get_by_role("link", name="Émile Bélanger")).to_be_visible()


async def test_the_patron_page_shows_a_merge_that_came_from_three_sources(
    console: ConsoleUnderTest, page: Page
) -> None:
    person_id = await _patron_id(console, season.HELENE)
    await log_in(page, console, "marie", then=f"/patrons/{person_id}")
    known_to = page.locator("section", has=page.get_by_role("heading", name="Connu de"))
    for source in ("billetterie", "boutique", "infolettre"):
        await expect(known_to.get_by_text(source, exact=True)).to_be_visible()
    merges = page.locator("#merges")
    await expect(merges.get_by_role("row")).to_have_count(2)
    await expect(merges).to_contain_text("Automatique")
    await expect(merges).to_contain_text("En vigueur")
    await expect(merges.get_by_role("button", name="Annuler cette fusion")).to_be_visible()
    # What each system told: the ticket from the box office, the shop order, the newsletter.
    tickets = page.locator("section", has=page.get_by_role("heading", name="Billets", exact=True))
    await expect(tickets.get_by_role("rowheader", name="Les Belles-sœurs")).to_be_visible()
    await expect(page.locator("#email-today")).to_contain_text("Oui")
    timeline = page.locator("ol.timeline")
    for label in ("Achat de billets", "Commande en boutique", "Inscription à l'infolettre"):
        await expect(timeline).to_contain_text(label)
    await screenshot(page, "patron")


async def test_undoing_a_merge_splits_the_profile(console: ConsoleUnderTest, page: Page) -> None:
    survivor_id = await _patron_id(console, season.EMILE)
    survivor = await console.api("identity", f"/v1/persons/{survivor_id}")
    (restored_id,) = survivor["merges"][0]["merged_person_ids"]
    await log_in(page, console, "marie", then=f"/patrons/{survivor_id}")
    page.once("dialog", lambda dialog: dialog.accept())
    await page.get_by_role("button", name="Annuler cette fusion").click()
    await expect(page.locator(".notice")).to_contain_text("Fusion annulée")
    await expect(page.locator("#merges")).to_contain_text("Annulée le")

    async def split() -> bool:
        # Two profiles again, each with its own facts: the box office's ticket is on one of them only.
        profiles = [await console.api("profile", f"/v1/profiles/{person}") for person in (survivor_id, restored_id)]
        return all(profile is not None and profile["merged_into"] is None for profile in profiles) and sorted(
            profile["fields"]["tickets_bought"] for profile in profiles if profile
        ) == [0, 1]

    assert await eventually(split, deadline_seconds=60)
    box_office = await console.person_by_email(season.EMILE.box_office_email)
    assert box_office is not None
    assert box_office["merged_into"] is None
    shop = await console.person_by_email(season.EMILE.shop_email)
    assert shop is not None
    assert shop["person_id"] != box_office["person_id"]
    await page.goto(f"{console.url}/patrons/{box_office['person_id']}")
    await expect(page.get_by_role("rowheader", name="Les Belles-sœurs")).to_be_visible()
    await page.goto(f"{console.url}/patrons/{shop['person_id']}")
    await expect(page.get_by_text("Aucun billet.")).to_be_visible()
    await expect(page.locator("section", has=page.get_by_role("heading", name="Connu de"))).to_contain_text("boutique")


async def test_accepting_a_review_item_merges_the_two_persons(console: ConsoleUnderTest, page: Page) -> None:
    await log_in(page, console, "marie", then="/review")
    card = page.locator("article", has_text="Bouchart")
    await expect(card.get_by_role("row", name=re.compile("Nom de famille"))).to_contain_text("Concorde")
    await screenshot(page, "review")
    await card.get_by_role("button", name="Accepter : même personne").click()
    await expect(page.locator(".notice")).to_contain_text("Suggestion acceptée")

    async def merged() -> bool:
        first = await console.person_by_email("g.bouchard@example.org")
        second = await console.person_by_email("gbouchard@autre.example")
        return first is not None and second is not None and first["person_id"] == second["person_id"]

    assert await eventually(merged, deadline_seconds=30)
    person = await console.person_by_email("gbouchard@autre.example")
    assert person is not None
    await page.goto(f"{console.url}/patrons/{person['person_id']}")
    await expect(page.locator("#merges")).to_contain_text("Confirmée par une personne")


# Every label a page shows: headings, table cells, list items, form labels and help. What is data (a patron's name,
# an email, a production's title, a service's reason) is marked `translate="no"` and left out of each label's text.
LABELS = ":is(h1, h2, h3, th, td, dt, li, label, button, nav a, p.help, .answer strong, caption):not([translate=no])"
# Words French and English write alike ("Segments", "Production"): the catalog says which.
SAME_IN_BOTH = {
    texts[Language.FR] for texts in load_catalog().texts.values() if texts[Language.FR] == texts[Language.EN]
}
# A text with no word of two letters is a figure (a count, an amount, a season, a dash), not a label.
WORD = re.compile(r"[^\W\d_]{2,}")


async def _labels(page: Page) -> list[str]:
    texts: list[str] = await page.evaluate(
        """(selector) => [...document.querySelectorAll(selector)].map((element) => {
             const label = element.cloneNode(true);
             label.querySelectorAll("[translate=no]").forEach((data) => data.remove());
             return label.textContent.replace(/\\s+/g, " ").trim();
           })""",
        LABELS,
    )
    return texts


async def _labels_in_both_languages(page: Page, url: str) -> tuple[list[str], list[str]]:
    """The page's labels in French, then in English once switched.

    Read again while the two differ in number: the page itself may change between the two reads (a delivery of the
    season's triggers adds a row; a service slow to answer on a loaded machine shows a notice for its section instead),
    which says nothing of its language. A label missing from one language differs on every read and still fails.
    """
    for _ in range(5):
        await page.goto(url)
        await expect(page.locator("html")).to_have_attribute("lang", "fr")
        french = await _labels(page)
        await page.get_by_role("link", name="English").click()
        await expect(page.locator("html")).to_have_attribute("lang", "en")
        english = await _labels(page)
        if len(french) == len(english):
            break
        await page.get_by_role("link", name="Français").click()
        await expect(page.locator("html")).to_have_attribute("lang", "fr")
    return french, english


async def test_switching_language_changes_every_label(console: ConsoleUnderTest, page: Page) -> None:
    person_id = await _patron_id(console, season.HELENE)
    await log_in(page, console, "marie")
    pages = {
        "/patrons?q=cote": "patrons",
        f"/patrons/{person_id}": "patron",
        f"/patrons/{person_id}/export": "export",
        "/review": "review",
        "/segments": "segments",
        "/segments/newsletter-subscribers": "segment",
        "/overview": "overview",
        "/operations": "operations",
    }
    for path, name in pages.items():
        french, english = await _labels_in_both_languages(page, f"{console.url}{path}")
        assert len(french) == len(english) > 5, path
        unchanged = [
            text
            for before, text in zip(french, english, strict=True)
            if before == text and WORD.search(text) and text not in SAME_IN_BOTH
        ]
        assert unchanged == [], f"{path}: labels left untranslated: {unchanged}"
        await screenshot(page, f"en-{name}")
        await page.get_by_role("link", name="Français").click()
        await expect(page.locator("html")).to_have_attribute("lang", "fr")


async def test_an_unauthorised_user_cannot_see_a_profile(console: ConsoleUnderTest, page: Page) -> None:
    person_id = await _patron_id(console, season.HELENE)
    # Not logged in: sent to the login page, nothing of the patron shown.
    await page.goto(f"{console.url}/patrons/{person_id}")
    await expect(page).to_have_url(re.compile(r"/login\?next="))
    assert "Côté" not in await page.content()
    # Logged in for another organisation: the patron does not exist there.
    await log_in(page, console, "voisin")
    answer = await page.goto(f"{console.url}/patrons/{person_id}")
    assert answer is not None
    assert answer.status == 404
    assert "Côté" not in await page.content()
    await page.get_by_role("button", name="Se déconnecter").click()
    # Logged in with a role that reads no profile: refused, and the link is not even shown.
    await log_in(page, console, "exploitation", then="/operations")
    answer = await page.goto(f"{console.url}/patrons/{person_id}")
    assert answer is not None
    assert answer.status == 403
    await expect(page.get_by_role("heading", level=1)).to_have_text("Accès refusé")
    assert "Côté" not in await page.content()
    await expect(page.get_by_role("link", name="Publics")).to_have_count(0)


async def test_a_viewer_sees_the_patron_but_no_action_that_changes_or_erases_it(
    console: ConsoleUnderTest, page: Page
) -> None:
    person_id = await _patron_id(console, season.HELENE)
    await log_in(page, console, "guichet", then=f"/patrons/{person_id}")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Hélène Côté")
    for action in ("Annuler cette fusion", "Effacer la personne…", "Exporter ses données…"):
        await expect(page.get_by_text(action)).to_have_count(0)
    answer = await page.goto(f"{console.url}/review")
    assert answer is not None
    assert answer.status == 403


async def test_the_patron_s_segments_are_links_only_for_a_member_who_may_open_them(
    console: ConsoleUnderTest, page: Page
) -> None:
    person_id = await _patron_id(console, season.HELENE)
    await log_in(page, console, "marie", then=f"/patrons/{person_id}")
    segments = page.locator("section", has=page.get_by_role("heading", name="Segments"))
    await expect(segments.get_by_role("link", name="Abonnés à l'infolettre")).to_be_visible()
    await page.get_by_role("button", name="Se déconnecter").click()
    # The privacy role reads profiles, not segments: it reads their titles, and is offered no page it would be
    # refused.
    await log_in(page, console, "confidentialite", then=f"/patrons/{person_id}")
    segments = page.locator("section", has=page.get_by_role("heading", name="Segments"))
    await expect(segments).to_contain_text("Abonnés à l'infolettre")
    await expect(segments.get_by_role("link")).to_have_count(0)


async def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong(
    console: ConsoleUnderTest, page: Page
) -> None:
    await page.goto(f"{console.url}/login")
    await page.get_by_label("Nom d'utilisateur").fill("marie")
    await page.get_by_label("Mot de passe").fill("not the password at all")
    await page.get_by_role("button", name="Se connecter").click()
    await expect(page.get_by_role("alert")).to_have_text("Nom d'utilisateur ou mot de passe incorrect.")
    await page.get_by_label("Nom d'utilisateur").fill("nobody-here")
    await page.get_by_label("Mot de passe").fill("not the password at all")
    await page.get_by_role("button", name="Se connecter").click()
    await expect(page.get_by_role("alert")).to_have_text("Nom d'utilisateur ou mot de passe incorrect.")
    await screenshot(page, "login")
