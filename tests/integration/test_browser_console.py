"""The local console (``GET /``) and the API documentation (``/docs``) in Chromium: accessible (axe,
no critical or serious violation) on a desktop and at 320 px, no sideways scrolling, the actions that
fit the account, plain words instead of codes, a refused start that leaves nothing to send, the
email code's resend countdown, the keyboard reaching the mailbox, and a word when JavaScript is off.
Screenshots are kept in ``test-artifacts/browser/`` (``tests.integration.browser_support``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.integration.browser_support import (
    assert_accessible,
    assert_no_sideways_scroll,
    keep,
    new_context,
)
from tests.integration.conftest import Api, Citizen, Stack, random_mobile

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
NARROW = {"width": 320, "height": 640}
# The console polls a flow every 2 s; a few polls' worth of silence means it stopped.
SEVERAL_POLLS_MS = 5_000


def display(e164: str) -> str:
    """An Indonesian mobile number as people write it: +6281234567890 -> 0812-3456-7890."""
    national = "0" + e164[3:]
    return f"{national[:4]}-{national[4:8]}-{national[8:]}"


def open_console(page: Any, stack: Stack, citizen: Citizen) -> None:
    page.goto(stack.url(f"/?account={citizen.account_id}"))
    page.wait_for_function(
        "(e164) => document.getElementById('profile-phone').dataset.e164 === e164", arg=citizen.phone_number
    )


def start_by_whatsapp(page: Any) -> str:
    """Presses Melalui WhatsApp; the flow id the console shows."""
    page.get_by_role("button", name="Melalui WhatsApp").click()
    page.wait_for_function("document.getElementById('wa-message').value.includes('/c/')")
    return str(page.get_attribute("#flow-info", "data-flow-id"))


def visible_actions(page: Any) -> list[str]:
    names = ("Migrasi ke WhatsApp", "Melalui WhatsApp", "Melalui Email")
    return [name for name in names if page.get_by_role("button", name=name, exact=True).is_visible()]


# ----------------------------------------------------------------------------------- accessibility


def test_the_console_is_accessible_on_a_desktop(api: Api, stack: Stack, desktop: Any) -> None:
    citizen = api.citizen(whatsapp=True)
    open_console(desktop, stack, citizen)
    assert desktop.get_attribute("html", "lang") == "id"
    assert_accessible(desktop, "console-desktop")

    # With a conversation, a QR code and the email steps on screen too.
    start_by_whatsapp(desktop)
    desktop.fill("#wa-sender", random_mobile())
    desktop.click("#wa-send")
    desktop.locator(".bubble.out .ticks", has_text="✓✓").last.wait_for()
    assert_accessible(desktop, "console-desktop-flow")
    desktop.get_by_role("button", name="Melalui Email").click()
    desktop.get_by_label("Kode verifikasi (6 digit)").wait_for()
    desktop.locator("#mailbox li", has_text=citizen.email or "").first.wait_for()
    assert_accessible(desktop, "console-desktop-email")


def test_the_console_fits_320_pixels(api: Api, stack: Stack, browser: Any) -> None:
    """WCAG 1.4.10: at 320 CSS pixels nothing needs sideways scrolling, and it stays accessible."""
    context = new_context(browser, viewport=NARROW)
    page = context.new_page()
    citizen = api.citizen(whatsapp=True)
    open_console(page, stack, citizen)
    assert_no_sideways_scroll(page)
    assert_accessible(page, "console-320")

    page.get_by_role("button", name="Melalui Email").click()
    page.locator("#mailbox li", has_text=citizen.email or "").first.wait_for()
    page.get_by_role("button", name="Melalui WhatsApp").click()
    page.wait_for_function("document.getElementById('wa-message').value.includes('/c/')")
    page.locator("#qr svg").wait_for()
    assert_no_sideways_scroll(page)
    assert_accessible(page, "console-320-flow")
    context.close()


def test_the_api_documentation_is_accessible_and_grouped_by_tags(stack: Stack, desktop: Any) -> None:
    desktop.goto(stack.url("/docs"))
    desktop.locator(".opblock").first.wait_for()
    assert desktop.get_attribute("html", "lang") == "en"
    assert desktop.title() == "API documentation - JSS WhatsApp number service (local)"

    declared = [tag["name"] for tag in json.loads((ROOT / "docs" / "openapi.json").read_text())["tags"]]
    shown = [section.get_attribute("data-tag") for section in desktop.locator(".opblock-tag").all()]
    assert shown == declared
    migration = desktop.locator(".opblock-tag-section", has=desktop.locator("[data-tag='A. Migrate to WhatsApp']"))
    assert "/v1/migrations" in (migration.text_content() or "")

    header = desktop.locator("header").text_content() or ""
    assert "/__dev/token" in header
    assert "Authorize" in header
    assert_accessible(desktop, "api-docs-desktop")


def test_the_api_documentation_gets_a_local_token_for_authorize(api: Api, stack: Stack, desktop: Any) -> None:
    citizen = api.citizen(whatsapp=True)
    desktop.goto(stack.url("/docs"))
    desktop.locator(".opblock").first.wait_for()
    desktop.get_by_label("Account id").fill(citizen.account_id)
    desktop.get_by_role("button", name="Get a local token and authorize").click()
    desktop.locator("#token-status", has_text=f"Authorized as {citizen.account_id}.").wait_for()

    # Swagger UI now sends the token: "Try it out" on GET /v1/contact answers the account's card.
    contact = desktop.locator(".opblock", has=desktop.locator("[data-path='/v1/contact']"))
    contact.locator(".opblock-summary-control").click()
    contact.get_by_role("button", name="Try it out").click()
    contact.get_by_role("button", name="Execute").click()
    response = contact.locator(".live-responses-table .response")
    response.first.wait_for()
    assert response.first.locator(".response-col_status").text_content() == "200"
    assert citizen.phone_number
    assert citizen.phone_number in (response.first.locator(".highlight-code").text_content() or "")
    # Swagger UI's request and response panels too (its copy buttons, curl box, example lists).
    assert_accessible(desktop, "api-docs-authorized")


# ----------------------------------------------------------------------------- what the console does


def test_the_console_offers_the_actions_that_fit_the_account(api: Api, stack: Stack, desktop: Any) -> None:
    without_whatsapp = api.citizen()
    open_console(desktop, stack, without_whatsapp)
    assert visible_actions(desktop) == ["Migrasi ke WhatsApp"]
    keep(desktop, "console-actions-no-whatsapp")

    without_email = api.citizen(whatsapp=True, email=False)
    open_console(desktop, stack, without_email)
    assert visible_actions(desktop) == ["Melalui WhatsApp"]
    assert desktop.locator("#no-email-hint").is_visible()
    assert desktop.text_content("#profile-email") == "tidak ada"
    keep(desktop, "console-actions-no-email")

    with_both = api.citizen(whatsapp=True)
    open_console(desktop, stack, with_both)
    assert visible_actions(desktop) == ["Melalui WhatsApp", "Melalui Email"]
    assert not desktop.locator("#no-email-hint").is_visible()


def test_the_console_shows_numbers_as_people_write_them(api: Api, stack: Stack, desktop: Any) -> None:
    without_whatsapp = api.citizen()
    open_console(desktop, stack, without_whatsapp)
    assert without_whatsapp.phone_number
    assert desktop.text_content("#profile-phone") == display(without_whatsapp.phone_number)
    assert desktop.text_content("#profile-whatsapp") == "belum ada"
    assert desktop.get_attribute("#profile-whatsapp", "data-e164") == ""

    citizen = api.citizen(whatsapp=True)
    open_console(desktop, stack, citizen)
    assert citizen.whatsapp_number
    assert desktop.text_content("#profile-whatsapp") == display(citizen.whatsapp_number)
    assert desktop.get_attribute("#profile-whatsapp", "data-e164") == citizen.whatsapp_number
    assert desktop.get_attribute("#profile-phone", "data-e164") == citizen.phone_number
    keep(desktop, "console-numbers")


def test_a_failed_flow_says_why_in_plain_words(api: Api, stack: Stack, desktop: Any) -> None:
    citizen = api.citizen(whatsapp=True)
    open_console(desktop, stack, citizen)
    flow_id = start_by_whatsapp(desktop)
    desktop.fill("#wa-sender", citizen.whatsapp_number or "")  # the number the account has already
    desktop.click("#wa-send")
    desktop.wait_for_function("document.getElementById('flow-info').dataset.status === 'failed'")

    said = desktop.text_content("#result") or ""
    answer = api.call("GET", f"/v1/number-changes/{flow_id}", citizen).json()
    assert answer["reason"] == "same_number"
    assert "same_number" not in said
    # The service's own words: the status answer gives them with every reason.
    expected = answer["reason_text"]
    assert expected in said, said
    assert desktop.get_attribute("#result", "data-tone") == "error"
    keep(desktop, "console-failed-in-words")


def test_a_refused_start_clears_the_composer_and_stops_polling(api: Api, stack: Stack, desktop: Any) -> None:
    citizen = api.citizen(whatsapp=True)
    for _ in range(4):  # the fifth start in ten minutes is the console's, the sixth is refused
        assert api.call("POST", "/v1/number-changes", citizen).status_code == 201
    open_console(desktop, stack, citizen)
    polled: list[str] = []
    desktop.on("request", lambda request: polled.append(request.url) if "/v1/number-changes/" in request.url else None)

    flow_id = start_by_whatsapp(desktop)
    assert desktop.locator("#qr svg").is_visible()
    desktop.wait_for_function("document.getElementById('flow-info').dataset.status === 'pending'")
    desktop.wait_for_timeout(SEVERAL_POLLS_MS)
    assert any(url.endswith(f"/v1/number-changes/{flow_id}") for url in polled), "the console never polled"

    desktop.get_by_role("button", name="Melalui WhatsApp").click()
    desktop.locator("#result", has_text="Terlalu banyak permintaan").wait_for()
    said = desktop.text_content("#result") or ""
    assert "too_many_starts" not in said
    assert "HTTP" not in said
    assert desktop.input_value("#wa-message") == ""
    assert not desktop.locator("#qr-figure").is_visible()
    assert not desktop.locator("#flow-info").is_visible()

    polled.clear()
    desktop.wait_for_timeout(SEVERAL_POLLS_MS)
    assert polled == [], "the console still polls the flow it no longer shows"

    desktop.click("#wa-send")  # nothing left to send
    desktop.locator("#result", has_text="Mulai proses dulu").wait_for()
    assert desktop.locator(".bubble.out").count() == 0
    keep(desktop, "console-refused-start")


def test_the_email_code_can_be_sent_again_after_a_visible_countdown(api: Api, stack: Stack, desktop: Any) -> None:
    citizen = api.citizen(whatsapp=True)
    desktop.clock.install()  # the page's own clock, to skip the minute's wait
    open_console(desktop, stack, citizen)
    desktop.get_by_role("button", name="Melalui Email").click()
    desktop.get_by_label("Kode verifikasi (6 digit)").wait_for()
    resend = desktop.get_by_role("button", name="Kirim ulang kode")
    assert resend.is_disabled()
    wait = desktop.locator("#resend-wait")
    assert re.fullmatch(r"Kode baru dapat diminta dalam [01]:\d\d\.", wait.text_content() or ""), wait.text_content()
    first = int(wait.get_attribute("data-seconds-left") or 0)
    assert 50 <= first <= 60
    desktop.clock.run_for(3_000)
    assert int(wait.get_attribute("data-seconds-left") or 0) < first  # it counts down
    keep(desktop, "console-resend-countdown")

    desktop.clock.fast_forward(61_000)
    desktop.wait_for_function("!document.getElementById('resend-code').disabled")
    assert wait.text_content() == "Belum menerima kode? Minta kode baru."

    # The service's minute has not passed (only the page's clock moved): it says so, in words, and
    # the countdown follows the wait it gives.
    resend.click()
    desktop.locator("#result", has_text="Kode baru dapat diminta lagi").wait_for()
    assert resend.is_disabled()
    assert int(wait.get_attribute("data-seconds-left") or 0) > 0

    # A minute later for the service too.
    forget_recent_codes(citizen.account_id)
    desktop.clock.fast_forward(61_000)
    desktop.wait_for_function("!document.getElementById('resend-code').disabled")
    resend.click()
    desktop.locator("#result", has_text="Kode baru dikirim").wait_for()
    assert resend.is_disabled()
    mails = desktop.locator("#mailbox li", has_text=citizen.email or "")
    desktop.wait_for_function(
        "(to) => [...document.querySelectorAll('#mailbox li')].filter((li) => li.textContent.includes(to)).length"
        " === 2",
        arg=citizen.email,
    )
    newest = re.search(r"\b(\d{6})\b", mails.first.locator("pre").text_content() or "")
    assert newest, "no code in the newest email"
    desktop.get_by_label("Kode verifikasi (6 digit)").fill(newest.group(1))
    desktop.get_by_role("button", name="Verifikasi").click()
    desktop.get_by_label("Nomor WhatsApp Baru").wait_for()
    keep(desktop, "console-resend-done")


def forget_recent_codes(account_id: str) -> None:
    """As if the minute between two codes had passed: the account's record of codes sent lately goes
    (``shared/domain/email_change.py`` names the limit ``email_code#<account id>``)."""
    from shared.adapters.dynamo import Dynamo
    from shared.domain.limits import SlidingWindowLimiter

    table, key = SlidingWindowLimiter(Dynamo(), "TokensTable").ref(f"email_code#{account_id}")
    Dynamo().delete(table, key)


def test_the_keyboard_reaches_the_mailbox_with_a_visible_focus_ring(api: Api, stack: Stack, desktop: Any) -> None:
    citizen = api.citizen(whatsapp=True)
    open_console(desktop, stack, citizen)
    desktop.get_by_role("button", name="Melalui Email").click()
    desktop.locator("#mailbox li", has_text=citizen.email or "").first.wait_for()

    desktop.locator("#mail-refresh").focus()
    desktop.keyboard.press("Tab")
    region = desktop.get_by_role("region", name="Email terkirim, terbaru di atas")
    assert region.evaluate("(element) => element === document.activeElement")
    ring = region.evaluate(
        "(element) => { const s = getComputedStyle(element); return [s.outlineStyle, s.outlineWidth]; }"
    )
    assert ring == ["solid", "3px"]
    # The list scrolls with the keyboard when it is longer than its region.
    scrollable = region.evaluate("(element) => element.scrollHeight > element.clientHeight")
    if scrollable:
        desktop.keyboard.press("End")
        desktop.wait_for_function("document.getElementById('mailbox-region').scrollTop > 0")
    keep(desktop, "console-mailbox-focused")

    # From the page's start, Tab gets there too (nothing on the way traps the focus).
    desktop.evaluate("document.activeElement.blur()")
    for _ in range(80):
        desktop.keyboard.press("Tab")
        if desktop.evaluate("document.activeElement.id") == "mailbox-region":
            break
    else:
        pytest.fail("80 presses of Tab did not reach the mailbox")


def test_the_console_says_it_needs_javascript(stack: Stack, browser: Any) -> None:
    context = new_context(browser, viewport=NARROW, java_script_enabled=False)
    page = context.new_page()
    page.goto(stack.url("/"))
    message = page.locator("#noscript")
    assert message.is_visible()
    assert "membutuhkan JavaScript" in (message.text_content() or "")
    keep(page, "console-no-javascript")
    context.close()


def test_with_javascript_the_no_script_message_stays_hidden(api: Api, stack: Stack, desktop: Any) -> None:
    open_console(desktop, stack, api.citizen())
    assert desktop.locator("#noscript").count() == 0
    assert not desktop.get_by_text("membutuhkan JavaScript").is_visible()
