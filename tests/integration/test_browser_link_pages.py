"""The blue-link pages in Chromium, in every state a citizen can meet: axe-core finds no critical or
serious violation, nothing scrolls sideways at 320 px, Back after a password post never asks to
post again, journey B1 works with the keyboard alone, the waiting page turns into the next state
without a reload, and an English phone keeps the guide's Indonesian marked as such.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from shared.web import anti_forgery
from tests.integration.browser_support import (
    CHANGED,
    MIGRATED,
    PHONE,
    assert_accessible,
    assert_no_sideways_scroll,
    keep,
    new_context,
)
from tests.integration.conftest import Api, Citizen, Stack, WhatsApp, random_mobile

pytestmark = pytest.mark.browser

NARROW = {"width": 320, "height": 568}


@pytest.fixture(params=[PHONE, NARROW], ids=["390px", "320px"])
def viewport(request: pytest.FixtureRequest) -> dict[str, int]:
    return dict(request.param)


@pytest.fixture
def page(browser: Any, viewport: dict[str, int]) -> Iterator[Any]:
    context = new_context(browser, viewport=viewport, is_mobile=True, has_touch=True)
    yield context.new_page()
    context.close()


def checked(page: Any, name: str, viewport: dict[str, int]) -> None:
    """Every page state passes axe and fits the screen, and is kept as a screenshot."""
    assert_no_sideways_scroll(page)
    assert_accessible(page, f"link-{name}-{viewport['width']}px")


def started_change(api: Api, citizen: Citizen) -> dict[str, Any]:
    answer = api.call("POST", "/v1/number-changes", citizen)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def password_page(api: Api, whatsapp: WhatsApp, page: Any, citizen: Citizen) -> dict[str, Any]:
    started = started_change(api, citizen)
    whatsapp.send(started["message"], random_mobile())
    page.goto(started["link_url"])
    page.get_by_label("Password akun JSS").wait_for()
    return started


def type_password(page: Any, password: str) -> None:
    page.get_by_label("Password akun JSS").fill(password)
    page.get_by_role("button", name="Ubah").click()
    page.wait_for_load_state()


def test_every_state_of_a_number_change_is_accessible(
    api: Api, whatsapp: WhatsApp, page: Any, viewport: dict[str, int]
) -> None:
    citizen = api.citizen(whatsapp=True)
    started = started_change(api, citizen)
    page.goto(started["link_url"])
    assert page.locator("h1").text_content() == "Menunggu pesan WhatsApp Anda"
    checked(page, "waiting", viewport)

    whatsapp.send(started["message"], random_mobile())
    page.get_by_label("Password akun JSS").wait_for()  # the page turned by itself
    checked(page, "password", viewport)

    type_password(page, "bukan password saya")
    assert "Password salah. Sisa percobaan: 4." in (page.locator("[role=alert]").text_content() or "")
    checked(page, "wrong-password", viewport)

    type_password(page, citizen.password)
    assert page.locator("h1").text_content() == CHANGED
    checked(page, "changed", viewport)


def test_a_locked_flow_and_a_failed_flow_are_accessible(
    api: Api, whatsapp: WhatsApp, page: Any, viewport: dict[str, int]
) -> None:
    citizen = api.citizen(whatsapp=True)
    password_page(api, whatsapp, page, citizen)
    for _ in range(5):
        type_password(page, "bukan password saya")
    assert page.locator("h1").text_content() == "Proses dikunci"
    assert page.locator("form").count() == 0
    assert "Melalui Email" in (page.locator("main").text_content() or "")  # a way that needs no password
    checked(page, "locked", viewport)

    failed = started_change(api, api.citizen(whatsapp=True))
    whatsapp.send(failed["message"], citizen.whatsapp_number)  # a number another account holds
    page.goto(failed["link_url"])
    assert page.locator("h1").text_content() == "Proses tidak berhasil"
    text = page.locator("main").text_content() or ""
    assert "ganti dulu nomor di akun tersebut" in text
    assert "Nomor WhatsApp pengirim" in text
    checked(page, "failed", viewport)


def test_the_migration_pages_and_the_missing_link_page_are_accessible(
    api: Api, whatsapp: WhatsApp, stack: Stack, page: Any, viewport: dict[str, int]
) -> None:
    citizen = api.citizen()
    started = api.call("POST", "/v1/migrations", citizen).json()
    page.goto(started["link_url"])
    checked(page, "migration-waiting", viewport)
    whatsapp.send(started["message"], citizen.phone_number)
    page.locator("h1", has_text=MIGRATED).wait_for()
    assert page.locator("h1").text_content() == MIGRATED
    checked(page, "migrated", viewport)

    page.goto(stack.url("/c/" + "Z" * 32))
    assert page.locator("h1").text_content() == "Tautan tidak berlaku"
    checked(page, "not-found", viewport)


def test_the_waiting_page_turns_without_a_reload_and_says_so_politely(api: Api, whatsapp: WhatsApp, page: Any) -> None:
    citizen = api.citizen(whatsapp=True)
    started = started_change(api, citizen)
    page.goto(started["link_url"])
    page.evaluate("window.stillTheSamePage = true")
    page.get_by_role("link", name="Muat ulang").focus()

    whatsapp.send(started["message"], random_mobile())
    page.get_by_label("Password akun JSS").wait_for()
    assert page.evaluate("window.stillTheSamePage === true")  # no reload: the card was swapped
    assert page.get_attribute("#card", "aria-live") == "polite"
    # Focus was on the card: it goes to the new heading, not to the top of the page.
    assert page.evaluate("document.activeElement.tagName") == "H1"
    assert page.title().startswith("Konfirmasi Pergantian Nomor WhatsApp")


def test_back_after_a_password_post_never_asks_to_post_again(api: Api, whatsapp: WhatsApp, page: Any) -> None:
    citizen = api.citizen(whatsapp=True)
    started = password_page(api, whatsapp, page, citizen)
    methods: list[str] = []
    page.on("request", lambda request: methods.append(request.method) if "/c/" in request.url else None)

    type_password(page, "bukan password saya")
    assert page.url == started["link_url"]  # the 303 landed on the link page itself
    page.reload()
    assert "Password salah" not in (page.locator("main").text_content() or "")  # the notice is shown once

    type_password(page, citizen.password)
    assert page.locator("h1").text_content() == CHANGED
    page.go_back()
    page.wait_for_load_state()
    assert page.locator("h1").text_content() == CHANGED  # the page as the flow is now
    page.reload()
    assert page.locator("h1").text_content() == CHANGED
    assert methods.count("POST") == 2  # the two presses of Ubah, nothing posted again
    keep(page, "link-back-after-post")


def test_journey_b1_with_the_keyboard_only(api: Api, whatsapp: WhatsApp, browser: Any) -> None:
    context = new_context(browser, viewport=PHONE)
    page = context.new_page()
    citizen = api.citizen(whatsapp=True)
    password_page(api, whatsapp, page, citizen)

    def tab_to(element_id: str) -> None:
        for _ in range(10):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.id") == element_id:
                return
        pytest.fail(f"Tab never reached #{element_id}")

    tab_to("password")
    page.keyboard.type("bukan password saya")
    page.keyboard.press("Enter")
    page.locator("[role=alert]").wait_for()
    # After a refused try the field has the focus again, and says why.
    assert page.evaluate("document.activeElement.id") == "password"
    assert page.get_attribute("#password", "aria-describedby") == "problem"
    page.keyboard.type(citizen.password)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Ubah"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"  # the focus ring shows on the dark button
    keep(page, "link-keyboard-focus-on-ubah")
    page.keyboard.press("Enter")
    page.locator("h1", has_text=CHANGED).wait_for()
    context.close()


def test_on_an_english_phone_the_guides_words_stay_marked_indonesian(
    api: Api, whatsapp: WhatsApp, browser: Any
) -> None:
    context = new_context(browser, viewport=PHONE, locale="en-US", is_mobile=True)
    page = context.new_page()
    citizen = api.citizen(whatsapp=True)
    password_page_en = started_change(api, citizen)
    whatsapp.send(password_page_en["message"], random_mobile())
    page.goto(password_page_en["link_url"])
    assert page.get_attribute("html", "lang") == "en"
    assert page.locator("h1").text_content() == "Confirm the WhatsApp number change"
    assert page.get_attribute("button[type=submit]", "lang") == "id"
    page.get_by_label("JSS account password").fill(citizen.password)
    page.get_by_role("button", name="Ubah").click()
    page.locator("h1", has_text=CHANGED).wait_for()
    assert page.get_attribute("h1", "lang") == "id"
    assert "You can go back to the JSS app now." in (page.locator("main").text_content() or "")
    assert_accessible(page, "link-english-changed")
    context.close()


def test_an_account_locked_for_wrong_passwords_and_an_expired_form_are_accessible(
    api: Api, whatsapp: WhatsApp, page: Any, viewport: dict[str, int]
) -> None:
    citizen = api.citizen(whatsapp=True)
    for _ in range(2):  # ten wrong passwords over two flows lock confirmation for the account
        started = started_change(api, citizen)
        whatsapp.send(started["message"], random_mobile())
        for _ in range(5):
            api.call("POST", urlsplit(started["link_url"]).path, json={"password": "bukan password saya"})
    password_page_url = started_change(api, citizen)
    whatsapp.send(password_page_url["message"], random_mobile())
    page.goto(password_page_url["link_url"])
    text = page.locator("main").text_content() or ""
    assert "dikunci sampai pukul" in text
    assert "Tautan ini berakhir sebelum itu." in text
    assert page.locator("form").count() == 0
    checked(page, "account-locked", viewport)


def test_a_form_left_open_too_long_says_the_time_is_over(
    api: Api, whatsapp: WhatsApp, page: Any, viewport: dict[str, int]
) -> None:
    citizen = api.citizen(whatsapp=True)
    password_page(api, whatsapp, page, citizen)
    issued = int((page.get_attribute("input[name=csrf_token]", "value") or "").split(".")[0])
    # The form as a page opened 11 minutes ago carries it: signed with the server's key, only older.
    token = page.url.rsplit("/", 1)[1]
    page.evaluate(
        "value => { document.querySelector('input[name=csrf_token]').value = value; }",
        anti_forgery.issue(token, issued - 11 * 60),
    )
    type_password(page, citizen.password)
    assert "Waktu 10 menit untuk mengganti nomor sudah habis" in (page.locator("main").text_content() or "")
    checked(page, "form-expired", viewport)
