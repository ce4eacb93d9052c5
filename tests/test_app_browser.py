"""``unpaired app`` in a real browser: headless Chromium (Debian's ``chromium`` and
``chromium-driver``, driven by selenium) opens the page, uploads an image, presses Translate,
waits for the output image and checks its size (the served PNG's own pixels) and the summary
line; a screenshot of the page is saved in the test's temporary folder. Then a damaged file:
the page shows its one error line.

Without Chromium the test is skipped, except in CI (``CI`` set), where ``.ci/run`` installs
it and a missing browser is a failure.

The README's screenshot comes from this code path::

    UNPAIRED_APP_MODEL=runs/demo UNPAIRED_APP_SCREENSHOT=docs/app.png \\
        .venv/bin/pytest tests/test_app_browser.py

(``UNPAIRED_APP_MODEL``: the model to serve, its run's first test image as the upload;
``UNPAIRED_APP_SCREENSHOT``: where to copy the screenshot.)
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from PIL import Image
from test_app import AppProcess

from conftest import make_images, make_model

pytestmark = pytest.mark.browser

WINDOW = (1280, 900)


def _missing(what: str) -> None:
    """Skip on a developer machine; fail in CI, where .ci/run installs the browser."""
    if os.environ.get("CI"):
        pytest.fail(f"{what} (in CI, .ci/run installs chromium and chromium-driver)")
    pytest.skip(what)


def browser_paths() -> tuple[str, str]:
    """(chromium, chromedriver) found on PATH."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if browser is None or driver is None:
        _missing("no chromium / chromedriver on PATH (apt-get install chromium chromium-driver)")
    try:
        import selenium  # noqa: F401
    except ImportError:
        _missing("selenium is not installed (the dev extra)")
    return str(browser), str(driver)


def translate_in_browser(
    url: str, image: Path, screenshot: Path, profile: Path, bad: Path | None = None
) -> dict:
    """Open the page at ``url``, upload ``image``, press Translate, wait for the output; then,
    with ``bad``, upload that file on a fresh page and press Translate again.

    Returns ``{"size": (w, h) of the output image as served, "summary": the summary line,
    "error": the page's text after the bad file}`` and saves a screenshot of the page (after
    the good image) at ``screenshot``.
    """
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser, driver_path = browser_paths()
    options = Options()
    options.binary_location = browser
    for arg in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        f"--user-data-dir={profile}",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        wait = WebDriverWait(driver, 60)
        driver.get(url)
        upload = wait.until(
            lambda d: d.find_element(By.CSS_SELECTOR, "#input-image input[type=file]")
        )
        upload.send_keys(str(image))
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#input-image img"))
        driver.find_element(By.CSS_SELECTOR, "#translate-button").click()
        served = (
            "const i = document.querySelector('#output-image img');"
            "return i && i.complete && i.naturalWidth > 0 ? [i.naturalWidth, i.naturalHeight] "
            ": null;"
        )
        size = wait.until(lambda d: d.execute_script(served))
        summary = wait.until(
            lambda d: d.find_element(By.CSS_SELECTOR, "#summary").text.strip() or None
        )
        # The whole page in the screenshot: the window as tall as the page.
        tall = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(WINDOW[0], min(int(tall) + 150, 2400))
        wait.until(lambda d: d.execute_script("return document.readyState") == "complete")
        driver.save_screenshot(str(screenshot))
        error = ""
        if bad is not None:
            driver.get(url)
            wait.until(
                lambda d: d.find_element(By.CSS_SELECTOR, "#input-image input[type=file]")
            ).send_keys(str(bad))
            driver.find_element(By.CSS_SELECTOR, "#translate-button").click()
            shown = f"cannot read image '{bad.name}'"

            def page_error(d: webdriver.Chrome) -> str | None:
                text = d.find_element(By.TAG_NAME, "body").text
                return text if shown in text else None

            error = wait.until(page_error)
    finally:
        driver.quit()
    return {"size": tuple(size), "summary": summary, "error": error}


def test_the_page_translates_an_uploaded_image(tmp_path: Path) -> None:
    browser_paths()
    chosen = os.environ.get("UNPAIRED_APP_MODEL")
    model = Path(chosen) if chosen else make_model(tmp_path / "cg")
    image = make_images(tmp_path / "in", 1, size=(48, 40))[0]
    if chosen:
        from unpaired.app.models import run_test_folders

        test_a = run_test_folders(model).get("a")
        image = sorted(test_a.glob("*.png"))[0] if test_a else image
    with Image.open(image) as opened:
        width, height = opened.size
    app = AppProcess([model])
    try:
        shot = tmp_path / "page.png"
        bad = tmp_path / "bad.png"
        bad.write_bytes(b"not an image")
        result = translate_in_browser(app.url, image, shot, tmp_path / "profile", bad)
    finally:
        assert app.stop() == 0
    assert result["size"] == (width, height)
    assert result["summary"].startswith(f"{width}×{height} a2b with ")
    assert "cannot read image 'bad.png': not a recognised image file" in result["error"]
    with Image.open(shot) as page:
        assert page.format == "PNG" and page.size[0] == WINDOW[0]
    target = os.environ.get("UNPAIRED_APP_SCREENSHOT")
    if target:
        with Image.open(shot) as page:
            page.convert("RGB").quantize(256).save(target, optimize=True)
