"""The local console (``GET /``) and the API documentation (``/docs``) in Chromium: accessible (axe,
no critical or serious violation) on a desktop and at 320 px, no sideways scrolling, the actions that
fit the account, plain words instead of codes, a refused start that leaves nothing to send, the
email code's resend countdown, the keyboard reaching the mailbox, a word when JavaScript is off, and
what the city's number sends (read from the local Graph API's outbox) in the WhatsApp simulator's
chat: the reply, the blue ticks on the citizen's message, a warning template to a replaced number.
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
from tests.integration.test_email_change_journey import change, permit_for

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


# ----------------------------------------------------------------- the city's side of the chat

BLUE_TICKS = "rgb(10, 102, 194)"  # console.css: WhatsApp's blue, darkened to 4.5:1 on the bubble


def test_journey_a_shows_the_citys_reply_and_blue_ticks(api: Api, stack: Stack, desktop: Any) -> None:
    citizen = api.citizen()
    open_console(desktop, stack, citizen)
    desktop.get_by_role("button", name="Migrasi ke WhatsApp").click()
    desktop.wait_for_function("document.getElementById('wa-message').value.includes('/m/')")
    desktop.fill("#wa-sender", random_mobile())
    desktop.click("#wa-send")

    sent = desktop.locator(".bubble.out").last
    ticks = sent.locator(".ticks")
    ticks.filter(has_text="Dibaca").wait_for()  # the city marked it read, through the Graph API
    assert ticks.get_attribute("data-status") == "read"
    assert sent.locator(".ticks [aria-hidden='true']").text_content() == "✓✓"  # a screen reader hears the word
    assert ticks.evaluate("(element) => getComputedStyle(element).color") == BLUE_TICKS
    reply = desktop.locator(".bubble.in", has_text="sudah terhubung dengan akun Jogja Smart Service")
    reply.wait_for()
    quoted = reply.locator(".quote").text_content() or ""
    assert quoted.startswith("Membalas: ")
    assert quoted.removeprefix("Membalas: ")[:40] in (desktop.input_value("#wa-message") or "")
    # The reply came after the citizen's message, in the same chat.
    assert desktop.locator("#chat > .bubble").evaluate_all("(all) => all.map((b) => b.className)") == [
        "bubble out",
        "bubble in",
    ]
    assert_accessible(desktop, "console-city-reply")

    desktop.set_viewport_size(NARROW)
    assert_no_sideways_scroll(desktop)
    assert_accessible(desktop, "console-city-reply-320")


def test_the_warning_to_a_number_the_profile_shows_appears_labelled_with_its_template(
    api: Api, stack: Stack, desktop: Any
) -> None:
    """While the console follows a journey of the account, the number changes through email (B2, by
    the API here): the warning template to the replaced number, which the profile showed, appears."""
    citizen = api.citizen(whatsapp=True)
    open_console(desktop, stack, citizen)
    start_by_whatsapp(desktop)  # from now on the console reads the outbox

    changed = change(api, citizen, permit_for(api, citizen), random_mobile())

    assert changed.status_code == 200, changed.text
    warning = desktop.locator(".bubble.in", has_text="Template jss_nomor_whatsapp_diganti")
    warning.wait_for()
    assert citizen.whatsapp_number
    assert warning.locator(".bubble-label").text_content() == (
        f"Template jss_nomor_whatsapp_diganti untuk {citizen.whatsapp_number}"
    )
    assert "****" in (warning.text_content() or "")  # its first parameter: the new number, masked
    assert_accessible(desktop, "console-template-warning")


def test_a_hidden_number_is_asked_to_share_it_in_the_same_chat(api: Api, stack: Stack, desktop: Any) -> None:
    """The simulator hides the number behind a WhatsApp username: the city answers that user id."""
    citizen = api.citizen()
    open_console(desktop, stack, citizen)
    desktop.get_by_role("button", name="Migrasi ke WhatsApp").click()
    desktop.wait_for_function("document.getElementById('wa-message').value.includes('/m/')")
    desktop.get_by_label("Tanpa nomor (memakai username WhatsApp)").check()
    desktop.click("#wa-send")

    request = desktop.locator(".bubble.in", has_text="Permintaan berbagi nomor")
    request.wait_for()
    assert "menyembunyikan nomor Anda" in (request.text_content() or "")
    desktop.locator(".bubble.out .ticks", has_text="Dibaca").wait_for()
    keep(desktop, "console-hidden-number-asked")


def test_the_hidden_sender_shares_the_number_with_the_button_and_journey_a_completes(
    api: Api, stack: Stack, desktop: Any
) -> None:
    """Meta's "Bagikan nomor" under the city's contact request shares the sender field's number: the
    contact appears as the citizen's message, the city answers that number, the profile shows it."""
    citizen = api.citizen()
    number = random_mobile()
    open_console(desktop, stack, citizen)
    desktop.get_by_role("button", name="Migrasi ke WhatsApp").click()
    desktop.wait_for_function("document.getElementById('wa-message').value.includes('/m/')")
    desktop.fill("#wa-sender", number)
    desktop.get_by_label("Tanpa nomor (memakai username WhatsApp)").check()
    desktop.click("#wa-send")
    request = desktop.locator(".bubble.in", has_text="Permintaan berbagi nomor")
    button = request.get_by_role("button", name="Bagikan nomor")
    button.wait_for()
    described = desktop.locator(f"#{button.get_attribute('aria-describedby')}").text_content() or ""
    assert "Nomor WhatsApp pengirim" in described  # which number it shares, in words
    assert_accessible(desktop, "console-share-number-offered")

    button.focus()
    desktop.keyboard.press("Enter")  # the keyboard reaches and presses it

    contact = desktop.locator(".bubble.out", has_text="Kontak dibagikan")
    contact.wait_for()
    assert number in (contact.text_content() or "")
    contact.locator(".ticks", has_text="Dibaca").wait_for()
    reply = desktop.locator(".bubble.in", has_text="sudah terhubung dengan akun Jogja Smart Service")
    reply.wait_for()
    assert (reply.locator(".quote").text_content() or "").startswith("Membalas: Kontak: Warga Jogja")
    desktop.wait_for_function("(e164) => document.getElementById('profile-whatsapp').dataset.e164 === e164", arg=number)
    assert desktop.locator("#chat > .bubble").evaluate_all("(all) => all.map((b) => b.className)") == [
        "bubble out",
        "bubble in",
        "bubble out",
        "bubble in",
    ]
    assert_accessible(desktop, "console-share-number-answered")

    desktop.set_viewport_size(NARROW)
    assert_no_sideways_scroll(desktop)
    assert_accessible(desktop, "console-share-number-320")
