"""The three journeys clicked through in Chromium, as a person would: the console on a desktop
viewport, the blue-link pages on a phone (390x844). Screenshots of every final page are kept in
``test-artifacts/browser/`` (``tests.integration.browser_support``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.integration.browser_support import CHANGED, MIGRATED, PHONE, UPDATED, keep
from tests.integration.conftest import (
    Api,
    Citizen,
    Stack,
    WhatsApp,
    eventually,
    export_row,
    imported_citizen,
    random_mobile,
    run_import,
    write_export,
)

pytestmark = pytest.mark.browser


def open_console(page: Any, stack: Stack, citizen: Citizen) -> None:
    page.goto(stack.url(f"/?account={citizen.account_id}"))
    page.wait_for_function("document.getElementById('profile-phone').dataset.e164.startsWith('+62')")


def shown_as(number: str) -> str:
    """How the console writes an Indonesian number: 0812-3456-7890."""
    return f"0{number[3:6]}-{number[6:10]}-{number[10:]}"


def wait_for_whatsapp_number(page: Any, number: str) -> None:
    page.wait_for_function(f"document.getElementById('profile-whatsapp').dataset.e164 === '{number}'")
    assert page.text_content("#profile-whatsapp") == shown_as(number)


def send_from_simulator(page: Any, sender: str) -> None:
    page.fill("#wa-sender", sender)
    page.click("#wa-send")
    page.locator(".bubble.out .ticks", has_text="✓✓").last.wait_for()


def open_blue_link(page: Any) -> Any:
    """Taps the blue link in the chat; it opens in a phone-sized window."""
    with page.expect_popup() as opened:
        page.locator(".bubble.out .blue-link").last.click()
    link_page = opened.value
    link_page.set_viewport_size(PHONE)
    link_page.wait_for_load_state()
    return link_page


def test_journey_a_migrate_to_whatsapp(api: Api, stack: Stack, desktop: Any) -> None:
    citizen = api.citizen()
    open_console(desktop, stack, citizen)
    assert desktop.text_content("#profile-whatsapp") == "belum ada"

    desktop.click("text=Migrasi ke WhatsApp")
    desktop.wait_for_function("document.getElementById('wa-message').value.includes('/m/')")
    assert desktop.locator("#qr svg").is_visible()
    new_number = random_mobile()
    send_from_simulator(desktop, new_number)

    link_page = open_blue_link(desktop)
    heading = link_page.locator("h1")
    assert heading.text_content() == MIGRATED
    keep(link_page, "journey-a-migration-done")

    wait_for_whatsapp_number(desktop, new_number)
    assert desktop.get_attribute("#profile-phone", "data-e164") == new_number
    assert desktop.text_content("#profile-phone") == shown_as(new_number)
    assert desktop.text_content("#profile-verified") == "terverifikasi WhatsApp"
    keep(desktop, "journey-a-console")


def test_journey_b1_change_through_whatsapp(api: Api, stack: Stack, desktop: Any) -> None:
    citizen = api.citizen(whatsapp=True, hash_kind="argon2id")
    open_console(desktop, stack, citizen)
    desktop.click("text=Melalui WhatsApp")
    desktop.wait_for_function("document.getElementById('wa-message').value.includes('/c/')")
    new_number = random_mobile()
    send_from_simulator(desktop, new_number)

    link_page = open_blue_link(desktop)
    assert link_page.locator("h1").text_content() == "Konfirmasi Pergantian Nomor WhatsApp"
    link_page.get_by_label("Password akun JSS").fill("salah sekali")
    link_page.get_by_role("button", name="Ubah").click()
    assert "Password salah. Sisa percobaan: 4" in link_page.locator("[role=alert]").text_content()
    # Screen readers announce the problem with the field it belongs to.
    assert link_page.get_attribute("#password", "aria-describedby") == "problem"
    keep(link_page, "journey-b1-wrong-password")

    link_page.get_by_label("Password akun JSS").fill(citizen.password)
    link_page.get_by_role("button", name="Ubah").click()
    assert link_page.locator("h1").text_content() == CHANGED
    keep(link_page, "journey-b1-change-done")

    wait_for_whatsapp_number(desktop, new_number)
    keep(desktop, "journey-b1-console")


def test_journey_b2_change_through_email(api: Api, stack: Stack, desktop: Any) -> None:
    citizen = api.citizen(whatsapp=True)
    open_console(desktop, stack, citizen)
    desktop.click("text=Melalui Email")
    desktop.get_by_label("Kode verifikasi (6 digit)").wait_for()

    # Read the code the way a person would: from the mailbox panel.
    mail = desktop.locator("#mailbox li", has_text=citizen.email or "").first
    mail.wait_for()
    code = re.search(r"\b(\d{6})\b", mail.locator("pre").text_content() or "")
    assert code, "no code in the email"
    desktop.get_by_label("Kode verifikasi (6 digit)").fill(code.group(1))
    desktop.get_by_role("button", name="Verifikasi").click()

    new_number = random_mobile()
    typed = shown_as(new_number)
    desktop.get_by_label("Nomor WhatsApp Baru").fill(typed)
    desktop.get_by_role("button", name="Simpan nomor baru").click()
    desktop.locator("#result", has_text=UPDATED).wait_for()
    assert desktop.text_content("#result") == UPDATED
    wait_for_whatsapp_number(desktop, new_number)
    assert desktop.text_content("#profile-verified") == "diubah lewat email"
    keep(desktop, "journey-b2-email-done")


def ready_change_link(api: Api, whatsapp: WhatsApp, citizen: Citizen) -> str:
    started = api.call("POST", "/v1/number-changes", citizen).json()
    whatsapp.send(started["message"], random_mobile())
    return str(started["link_url"])


def test_an_expired_link_shows_the_not_found_page(api: Api, whatsapp: WhatsApp, phone: Any) -> None:
    citizen = api.citizen(whatsapp=True)
    started = api.call("POST", "/v1/number-changes", citizen).json()
    api.expire_flow(started["flow_id"])
    phone.goto(started["link_url"])
    assert phone.locator("h1").text_content() == "Tautan tidak berlaku"
    keep(phone, "expired-link")


def test_an_unknown_link_shows_the_not_found_page(stack: Stack, phone: Any) -> None:
    answer = phone.goto(stack.url("/m/" + "Z" * 32))
    assert answer.status == 404
    assert phone.locator("h1").text_content() == "Tautan tidak berlaku"
    assert "sudah kedaluwarsa" in phone.locator("main").text_content()
    keep(phone, "unknown-link")


def test_the_password_page_is_accessible(api: Api, whatsapp: WhatsApp, browser: Any) -> None:
    link = ready_change_link(api, whatsapp, api.citizen(whatsapp=True))
    # 200% zoom on a 390-px phone leaves 195 CSS pixels: nothing may need sideways scrolling.
    context = browser.new_context(viewport={"width": 195, "height": 422}, device_scale_factor=2, locale="id-ID")
    page = context.new_page()
    page.goto(link)
    assert page.get_attribute("html", "lang") == "id"
    for field in page.locator("input:not([type=hidden])").all():
        field_id = field.get_attribute("id")
        assert field_id
        assert page.locator(f"label[for={field_id}]").count() == 1
    keep(page, "password-page-200-percent")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert page.get_by_role("button", name="Ubah").is_visible()
    keep(page, "password-page-200-percent")
    context.close()


def test_the_password_form_works_without_javascript(api: Api, whatsapp: WhatsApp, browser: Any) -> None:
    citizen = api.citizen(whatsapp=True)
    link = ready_change_link(api, whatsapp, citizen)
    context = browser.new_context(viewport=PHONE, java_script_enabled=False, locale="id-ID")
    page = context.new_page()
    page.goto(link)
    page.fill("#password", citizen.password)
    page.click("button[type=submit]")
    assert page.locator("h1").text_content() == CHANGED
    keep(page, "no-javascript-change-done")
    context.close()
    assert urlsplit(link).path.startswith("/c/")


def test_the_api_documentation_lists_every_route(stack: Stack, desktop: Any) -> None:
    desktop.goto(stack.url("/docs"))
    desktop.locator(".opblock").first.wait_for()
    text = desktop.locator("#swagger-ui").text_content() or ""
    for path in ("/v1/migrations", "/v1/number-changes", "/v1/email-verifications", "/whatsapp/webhook"):
        assert path in text
    keep(desktop, "api-docs")


def test_an_imported_citizen_migrates_and_a_password_changed_in_jss_then_works(
    api: Api, stack: Stack, desktop: Any, tmp_path: Path
) -> None:
    """The issue's "done when", by clicking: a citizen from an export walks journey A in the console,
    JSS hears of it, JSS changes the password through the queue, and the B1 page takes the new one."""
    row = export_row()
    assert run_import(stack, write_export(tmp_path / "export.csv", [row])).returncode == 0
    citizen = imported_citizen(api, row)

    desktop.goto(stack.url("/"))
    desktop.get_by_label("ID akun JSS lain").fill(citizen.account_id)
    desktop.get_by_role("button", name="Buka").click()
    desktop.wait_for_function(f"document.getElementById('profile-phone').dataset.e164 === '{citizen.phone_number}'")
    assert desktop.text_content("#profile-name") == row["name"]
    desktop.click("text=Migrasi ke WhatsApp")
    desktop.wait_for_function("document.getElementById('wa-message').value.includes('/m/')")
    send_from_simulator(desktop, citizen.phone_number or "")
    migration_page = open_blue_link(desktop)
    assert migration_page.locator("h1").text_content() == MIGRATED
    migration_page.close()  # the next blue link opens its own window
    desktop.locator("#events li", has_text=citizen.account_id).wait_for()
    assert "whatsapp_migration" in (desktop.locator("#events li", has_text=citizen.account_id).text_content() or "")
    keep(desktop, "imported-citizen-migrated")

    desktop.get_by_label("Password baru akun ini, diubah di JSS").fill("Sandi-Baru-dari-JSS")
    desktop.get_by_role("button", name="Kirim ke antrean JSS").click()
    desktop.locator("#result", has_text="antrean").wait_for()
    eventually(lambda: (api.stored(citizen.account_id) or {})["version"] > 2, what="the password change from JSS")
    desktop.click("text=Melalui WhatsApp")
    desktop.wait_for_function("document.getElementById('wa-message').value.includes('/c/')")
    send_from_simulator(desktop, random_mobile())
    link_page = open_blue_link(desktop)
    link_page.get_by_label("Password akun JSS").fill("Sandi-Baru-dari-JSS")
    link_page.get_by_role("button", name="Ubah").click()
    assert link_page.locator("h1").text_content() == CHANGED
    keep(link_page, "imported-citizen-changed-with-jss-password")
