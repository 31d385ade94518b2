"""What the emails say, and that their plain-text and HTML versions say the same."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import pytest

from shared.adapters.mail import Email
from shared.domain.notifications import number_changed_email, number_taken_over_email, verification_code_email


class _Paragraphs(HTMLParser):
    """The text of each paragraph of an HTML email, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.blocks: list[str] = []
        self._open = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "p":
            self.blocks.append("")
            self._open = True

    def handle_endtag(self, tag: str) -> None:
        self._open = False if tag == "p" else self._open

    def handle_data(self, data: str) -> None:
        if self._open:
            self.blocks[-1] += data


def blocks(email: Email) -> list[str]:
    parser = _Paragraphs()
    parser.feed(email.html)
    return [html.unescape(b) for b in parser.blocks]


CODE = verification_code_email("482913", 10)


def test_the_code_stands_alone_on_its_line_and_large() -> None:
    assert "\n\n482913\n\n" in CODE.text
    assert re.search(r'<p style="font-size:32px[^"]*">482913</p>', CODE.html)


def test_the_code_comes_first_where_mail_apps_preview_it_but_never_in_the_subject() -> None:
    assert "482913" not in CODE.subject  # shown on locked screens and in every mail list
    assert CODE.text.startswith("Kode verifikasi Anda:\n\n482913\n\n")
    assert blocks(CODE)[:2] == ["Kode verifikasi Anda:", "482913"]
    assert CODE.text.count("482913") == 1


@pytest.mark.parametrize(
    "email",
    [
        CODE,
        number_changed_email("Pergantian No. WhatsApp Berhasil", "0812-****-7890", 1_750_000_000),
        number_taken_over_email("0812-****-7890", 1_750_000_000),
    ],
    ids=["code", "changed", "taken-over"],
)
def test_the_text_and_html_versions_say_the_same(email: Email) -> None:
    assert email.text.rstrip("\n").split("\n\n") == blocks(email)
