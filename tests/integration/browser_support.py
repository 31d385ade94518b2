"""What every browser test shares: Chromium from Debian, the phone and desktop contexts, the
screenshots kept in ``test-artifacts/browser/`` (CI keeps them as artifacts), and the accessibility
checks (axe-core from npm, ``package.json``, run in the page).

Chromium comes from Debian's package (Playwright's own browser download is not reachable here).
Outside CI, a machine without it skips these tests and says so; in CI their absence is a failure.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]

ARTIFACTS = ROOT / "test-artifacts" / "browser"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
# WCAG 2.0, 2.1 and 2.2, levels A and AA, and axe's best practices.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
AXE_FAILING_IMPACTS = ("critical", "serious")
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
MIGRATED = "Migrasi akun aplikasi Jogja Smart Service berhasil"
CHANGED = "Pergantian No. WhatsApp Berhasil"
UPDATED = "Data No. Whatsapp Berhasil diperbarui"


def chromium_path() -> str | None:
    return os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    executable = chromium_path()
    if executable is None:
        if os.environ.get("CI"):
            pytest.fail("Chromium is missing in CI: .ci/run installs Debian's chromium package")
        pytest.skip("Chromium not found: browser tests skipped (install Debian's chromium package to run them)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


def new_context(browser: Any, **options: Any) -> Any:
    """A browser context as every browser test wants it: Indonesian unless told otherwise, a 15 s
    default timeout, and the pages' Content-Security-Policy bypassed, so that Playwright can inject
    axe-core (``assert_accessible``) into the link pages, which send a strict one."""
    options.setdefault("locale", "id-ID")
    context = browser.new_context(bypass_csp=True, **options)
    context.set_default_timeout(15_000)
    return context


@pytest.fixture
def desktop(browser: Any) -> Iterator[Any]:
    context = new_context(browser, viewport=DESKTOP)
    yield context.new_page()
    context.close()


@pytest.fixture
def phone(browser: Any) -> Iterator[Any]:
    context = new_context(browser, viewport=PHONE, is_mobile=True, has_touch=True)
    yield context.new_page()
    context.close()


def keep(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def assert_accessible(page: Any, name: str, exclude: list[str] | None = None) -> None:
    """Runs axe-core in the page on the WCAG 2.x A/AA rules and axe's best practices, keeps a
    full-page screenshot as ``<name>.png``, and fails on every critical or serious violation, each
    with its rule, impact and the selectors of the elements it found. ``exclude``: CSS selectors of
    markup that is not ours (a third-party widget); moderate and minor findings do not fail."""
    if not AXE.is_file():
        pytest.fail(f"{AXE.relative_to(ROOT)} is missing: `make install` (npm ci) installs axe-core from package.json")
    page.add_script_tag(path=str(AXE))
    context = {"exclude": [[selector] for selector in exclude or []]}
    results = page.evaluate(
        """async ([context, tags]) => {
            const results = await axe.run(context, {
                runOnly: { type: "tag", values: tags },
                resultTypes: ["violations"],
            });
            return results.violations.map((v) => ({
                id: v.id,
                impact: v.impact,
                help: v.help,
                targets: v.nodes.map((n) => n.target.join(" ")),
            }));
        }""",
        [context, AXE_TAGS],
    )
    keep(page, name)
    failing = [v for v in results if v["impact"] in AXE_FAILING_IMPACTS]
    if failing:
        lines = [f"{v['id']} ({v['impact']}): {v['help']}: {', '.join(v['targets'])}" for v in failing]
        pytest.fail(f"{name}: {len(failing)} serious accessibility violation(s):\n" + "\n".join(lines))


def assert_no_sideways_scroll(page: Any) -> None:
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"the page scrolls sideways: {widths[0]} px of content in {widths[1]} px"
