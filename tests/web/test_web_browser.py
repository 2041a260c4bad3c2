"""The studio in a real browser: Debian's Chromium driven by Playwright.

Never ``playwright install`` (it downloads a browser): ``make test`` installs Debian's
``chromium``. Without it this test fails and says so, unless PAINTERLY_SKIP_BROWSER=1.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PIL import Image

pytest.importorskip("starlette", reason="the studio needs painterly[web]")
playwright = pytest.importorskip("playwright.sync_api", reason="pip install playwright")

from studio_http import Studio  # noqa: E402

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture
def server(serve: Callable[..., Studio]) -> str:
    """The address of a studio in a thread of this process."""
    return f"http://127.0.0.1:{serve().port}"


@pytest.fixture
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: run 'make test' (it installs Debian's chromium)"
        if os.environ.get("PAINTERLY_SKIP_BROWSER"):
            pytest.skip(message)
        pytest.fail(message)
    with playwright.sync_playwright() as p:
        instance = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield instance
        instance.close()


def wait_until(page: object, condition: str, seconds: float = 60) -> None:
    """Poll a condition from here: the studio's policy forbids the eval that Playwright's
    own wait_for_function needs."""
    deadline = time.monotonic() + seconds
    while not page.evaluate(f"() => Boolean({condition})"):  # type: ignore[attr-defined]
        assert time.monotonic() < deadline, f"timed out waiting for {condition}"
        time.sleep(0.1)


def test_make_a_picture_in_the_browser(
    server: str, browser: object, tmp_path: Path, content_path: Path, style2_path: Path
) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 1000})  # type: ignore[attr-defined]
    outside: list[str] = []
    refused: list[str] = []  # what the Content-Security-Policy blocked, if anything
    page.on(
        "console",
        lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None,
    )
    page.on(
        "request", lambda r: None if r.url.startswith((server, "data:")) else outside.append(r.url)
    )
    page.goto(server)
    page.wait_for_selector("#photos img")
    photo, painting = tmp_path / "photo.jpg", tmp_path / "painting.jpg"
    shutil.copy(content_path, photo)
    shutil.copy(style2_path, painting)
    page.set_input_files("#upload", [str(photo), str(painting)])
    page.wait_for_selector("#photos input[value^='u-']:checked")
    page.wait_for_selector("#paintings input[value^='u-']:checked")
    assert page.locator("#paintings input:checked").count() == 1
    page.fill("#size", "64")
    page.fill("#iterations", "8")
    # Record every preview the page shows, from before the start: a fast run may be
    # over before a test could look twice.
    page.evaluate(
        """() => {
            window.previews = [];
            new MutationObserver(() => window.previews.push(preview.src))
                .observe(preview, {attributes: true, attributeFilter: ["src"]});
        }"""
    )
    page.click("#start")
    wait_until(page, "new Set(window.previews).size >= 2")
    page.wait_for_selector("#gallery .card", timeout=60_000)
    assert page.is_visible("#preview")
    wait_until(page, "document.querySelector('#status').textContent.startsWith('Done')")
    with page.expect_download() as download:
        page.click("#gallery .card a[download]:has-text('PNG')")
    saved = tmp_path / "downloaded.png"
    download.value.save_as(saved)
    assert Image.open(saved).size == (64, 48)
    page.fill("#size", "300")
    page.click("#gallery .card .load")
    assert page.input_value("#size") == "64"
    page.screenshot(path=str(tmp_path / "studio.png"), full_page=True)
    assert outside == [] and refused == []
