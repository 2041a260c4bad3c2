"""A fast model in a real browser: pick it, upload a photo, and its picture appears
without pressing Start (Debian's Chromium driven by Playwright, as in test_web_browser)."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest

pytest.importorskip("starlette", reason="the studio needs painterly[web]")
playwright = pytest.importorskip("playwright.sync_api", reason="pip install playwright")

from studio_http import Studio  # noqa: E402

pytestmark = pytest.mark.browser
CHROMIUM = Path("/usr/bin/chromium")


def test_the_picture_appears_when_the_photo_is_uploaded(
    serve: Callable[..., Studio],
    tiny_model: Path,
    tmp_path: Path,
    content_path: Path,
    style2_path: Path,
) -> None:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: run 'make test' (it installs Debian's chromium)"
        if os.environ.get("PAINTERLY_SKIP_BROWSER"):
            pytest.skip(message)
        pytest.fail(message)
    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(tiny_model, models / "tiny.safetensors")
    server = f"http://127.0.0.1:{serve(models=models).port}"
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        refused: list[str] = []
        page.on(
            "console",
            lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None,
        )
        page.goto(server)
        page.wait_for_selector("#fast-model option[value='tiny.safetensors']", state="attached")
        page.fill("#size", "64")
        page.select_option("#fast-model", "tiny.safetensors")
        assert page.locator("#fast-weights input").count() == 2  # the model's two styles
        page.wait_for_selector("#fast-picture[src^='data:image/png']", state="attached")
        first = page.get_attribute("#fast-picture", "src")
        photo, painting = tmp_path / "photo.jpg", tmp_path / "painting.jpg"
        shutil.copy(content_path.with_name("shipwreck.jpg"), photo)  # not the first photo
        shutil.copy(style2_path, painting)
        page.set_input_files("#upload", [str(photo), str(painting)])  # the first: the photo
        page.wait_for_selector("#photos input[value^='u-']:checked", state="attached")
        deadline = time.monotonic() + 60
        while page.get_attribute("#fast-picture", "src") == first:
            assert time.monotonic() < deadline, page.text_content("#fast-status")
            time.sleep(0.1)
        assert page.is_visible("#fast-picture") and "painted in" in (
            page.text_content("#fast-status") or ""
        )
        page.screenshot(path=str(tmp_path / "fast.png"), full_page=True)
        shutil.copy(tmp_path / "fast.png", "/tmp/fast_studio.png")
        browser.close()
    assert refused == []
