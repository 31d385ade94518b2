"""The "Bukan saya" page in Chromium: axe-core finds no critical or serious violation in any state,
nothing scrolls sideways at 320 px, it works with the keyboard alone, and Back after the post never
posts again."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration import test_browser_link_pages
from tests.integration.browser_support import (
    PHONE,
    assert_accessible,
    assert_no_sideways_scroll,
    keep,
    new_context,
)
from tests.integration.conftest import Api, Stack, random_mobile
from tests.integration.test_undo_journey import changed_by_email, undo_link_in_mail

pytestmark = pytest.mark.browser

# The link pages' fixtures: a phone page at 390 px and at 320 px.
viewport, page = test_browser_link_pages.viewport, test_browser_link_pages.page
SUBMIT = "Ya, batalkan perubahan"


def checked(page: Any, name: str, viewport: dict[str, int]) -> None:
    assert_no_sideways_scroll(page)
    assert_accessible(page, f"undo-{name}-{viewport['width']}px")


def undo_link(api: Api, stack: Stack) -> str:
    """A fresh citizen whose WhatsApp number B2 just changed: the undo link from the email."""
    citizen = api.citizen(whatsapp=True)
    changed_by_email(api, citizen, random_mobile())
    return undo_link_in_mail(api, stack, citizen)


def test_every_state_of_the_undo_page_is_accessible(
    api: Api, stack: Stack, page: Any, viewport: dict[str, int]
) -> None:
    link = undo_link(api, stack)
    page.goto(link)
    assert page.locator("h1").text_content() == "Batalkan penggantian Nomor WhatsApp?"
    checked(page, "ready", viewport)

    page.get_by_role("button", name=SUBMIT).click()
    page.locator("h1", has_text="Perubahan dibatalkan").wait_for()
    assert page.url == link  # the 303 landed on the page itself
    checked(page, "undone", viewport)

    page.goto(stack.url("/u/" + "Z" * 43))
    assert page.locator("h1").text_content() == "Tautan tidak berlaku"
    checked(page, "not-found", viewport)


def test_a_superseded_change_says_why_and_offers_no_button(
    api: Api, stack: Stack, page: Any, viewport: dict[str, int]
) -> None:
    citizen = api.citizen(whatsapp=True)
    changed_by_email(api, citizen, random_mobile())
    link = undo_link_in_mail(api, stack, citizen)
    from tests.integration.test_email_change_journey import forget_resend_limit

    forget_resend_limit(citizen)
    changed_by_email(api, citizen, random_mobile())  # changed again: the first link can no longer undo

    page.goto(link)
    assert page.locator("h1").text_content() == "Perubahan tidak dapat dibatalkan"
    assert page.locator("form").count() == 0
    assert "hubungi layanan JSS" in (page.locator("main").text_content() or "")
    checked(page, "superseded", viewport)


def test_the_undo_with_the_keyboard_only_and_back_never_posts_again(api: Api, stack: Stack, browser: Any) -> None:
    context = new_context(browser, viewport=PHONE)
    page = context.new_page()
    link = undo_link(api, stack)
    methods: list[str] = []
    page.on("request", lambda request: methods.append(request.method) if "/u/" in request.url else None)
    page.goto(link)

    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent") == SUBMIT:
            break
    else:
        pytest.fail("Tab never reached the button")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"  # the focus ring shows on the dark button
    keep(page, "undo-keyboard-focus-on-button")
    page.keyboard.press("Enter")
    page.locator("h1", has_text="Perubahan dibatalkan").wait_for()

    page.go_back()
    page.wait_for_load_state()
    page.reload()
    assert page.locator("h1").text_content() == "Perubahan dibatalkan"  # the link as it is now
    assert methods.count("POST") == 1
    context.close()
