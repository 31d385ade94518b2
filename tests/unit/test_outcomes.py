"""Every failure names a next step that works for the account, in both languages."""

from __future__ import annotations

import pytest

from shared.domain.flows import FailureReason, FlowKind, FlowStatus, LinkView
from shared.web import pages
from shared.web.outcomes import AccountFacts, failure_text, forgot_password

CHANGE, MIGRATION = FlowKind.NUMBER_CHANGE, FlowKind.MIGRATION


@pytest.mark.parametrize("reason", list(FailureReason))
@pytest.mark.parametrize("kind", list(FlowKind))
@pytest.mark.parametrize("lang", ["id", "en"])
def test_every_reason_says_why_and_what_to_do(reason: FailureReason, kind: FlowKind, lang: str) -> None:
    text = failure_text(reason, lang, AccountFacts(kind, has_email=True))
    steps = ("Profil", "Profile", "layanan JSS", "JSS support")
    assert any(step in text for step in steps), text
    assert "{" not in text


def test_a_hidden_sender_changing_the_number_is_offered_the_email_code_only_with_an_email() -> None:
    with_email = failure_text(FailureReason.SENDER_NUMBER_HIDDEN, "id", AccountFacts(CHANGE, has_email=True))
    assert "Melalui Email" in with_email
    without = failure_text(FailureReason.SENDER_NUMBER_HIDDEN, "id", AccountFacts(CHANGE, has_email=False))
    assert "Melalui Email" not in without
    assert "pengaturan privasi WhatsApp" in without
    unknown = failure_text(FailureReason.SENDER_NUMBER_HIDDEN, "id", AccountFacts(CHANGE))
    assert "Melalui Email" not in unknown  # the app's status answer does not know: it offers nothing unsure


def test_a_hidden_sender_migrating_is_never_sent_to_the_email_code() -> None:
    # B2 refuses accounts without a WhatsApp number, which is what a migration is for.
    text = failure_text(FailureReason.SENDER_NUMBER_HIDDEN, "id", AccountFacts(MIGRATION, has_email=True))
    assert "Melalui Email" not in text
    assert "Migrasi ke WhatsApp" in text


def test_a_number_held_by_another_account_says_more_than_start_again() -> None:
    text = failure_text(FailureReason.NUMBER_TAKEN, "id", AccountFacts(CHANGE, has_email=True))
    assert "ganti dulu nomor di akun tersebut" in text
    assert "nomor WhatsApp lain" in text
    assert "hubungi layanan JSS" in text


@pytest.mark.parametrize(("has_email", "step"), [(True, "Melalui Email"), (False, "hubungi layanan JSS")])
def test_a_forgotten_password_has_a_way_out(has_email: bool, step: str) -> None:
    assert step.lower() in forgot_password("id", has_email).lower()


def view(**fields: object) -> LinkView:
    base: dict[str, object] = {"kind": CHANGE, "status": FlowStatus.FAILED, "account_masked": "b***i@example.com"}
    return LinkView(**{**base, **fields})  # type: ignore[arg-type]


def test_the_failed_page_fits_the_account() -> None:
    hidden = view(reason=FailureReason.SENDER_NUMBER_HIDDEN, account_has_email=True)
    assert "Melalui Email" in pages.link_page(hidden, "T" * 32, "id").body
    no_email = view(reason=FailureReason.SENDER_NUMBER_HIDDEN, account_has_email=False, account_masked="Budi S.")
    page = pages.link_page(no_email, "T" * 32, "id").body
    assert "Melalui Email" not in page
    assert "<dd>Budi S.</dd>" in page


def test_the_password_page_has_a_way_out_for_a_forgotten_password() -> None:
    awaiting = view(status=FlowStatus.AWAITING_PASSWORD, tries_left=5, expires_at=1_750_000_600, account_has_email=True)
    page = pages.link_page(awaiting, "T" * 32, "id").body
    assert "Lupa password?" in page
    assert "Melalui Email" in page
    locked = view(status=FlowStatus.LOCKED, account_has_email=False)
    assert "Hubungi layanan JSS" in pages.link_page(locked, "T" * 32, "id").body
