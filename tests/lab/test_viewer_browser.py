"""A real browser on the viewer page (issue [4]): Debian's headless Chromium logs in as a
district official through nginx and TLS, sees only that district's facilities, plays live
video with hls.js (the video element's clock advances) and plays back the last hour.

Chromium trusts the lab's CA through an NSS database of its own (certutil), as a workstation
of the province would after installing the CA: no certificate errors are ignored.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import Select, WebDriverWait

from camops_lab import lab as lab_module
from tests.lab.test_platform import CA, NORTH, URL, secrets

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    for binary in (CHROMIUM, CHROMEDRIVER):
        assert binary.exists(), f"{binary} missing: make setup installs chromium, chromium-driver"
    home = tmp_path / "home"
    nss = home / ".pki" / "nssdb"
    nss.mkdir(parents=True)
    for args in (
        ["-N", "--empty-password"],
        ["-A", "-t", "C,,", "-n", "camops lab CA", "-i", str(CA)],
    ):
        subprocess.run(["certutil", "-d", f"sql:{nss}", *args], check=True, timeout=30)
    options = Options()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",  # root in a container
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--autoplay-policy=no-user-gesture-required",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=1280,900",
    ):
        options.add_argument(argument)
    service = Service(str(CHROMEDRIVER), env={**os.environ, "HOME": str(home)})
    driver = webdriver.Chrome(service=service, options=options)
    yield driver
    driver.quit()


def test_district_official_sees_own_facilities_and_live_video_plays(
    estate: lab_module.Lab, browser: webdriver.Chrome
) -> None:
    wait = WebDriverWait(browser, 30)
    browser.get(f"{URL}/")
    wait.until(expected_conditions.visibility_of_element_located((By.ID, "email")))
    assert "Đăng nhập" in browser.page_source  # Vietnamese first
    browser.find_element(By.ID, "email").send_keys(NORTH)
    browser.find_element(By.ID, "password").send_keys(
        secrets(estate)["vault_platform_initial_passwords"][NORTH]
    )
    browser.find_element(By.CSS_SELECTOR, "#login-form button[type=submit]").click()
    wait.until(expected_conditions.visibility_of_element_located((By.ID, "cameras-view")))
    wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "#facilities button.camera"))

    north = next(f for f in estate.inventory.facilities if f.id == "lab_north_school")
    titles = [h.text for h in browser.find_elements(By.CSS_SELECTOR, "#facilities .facility h3")]
    assert titles == [north.name]
    buttons = browser.find_elements(By.CSS_SELECTOR, "#facilities button.camera")
    assert [b.get_attribute("data-camera") for b in buttons] == [c.id for c in north.cameras]
    assert browser.execute_script("return window.Hls !== undefined && Hls.isSupported()") is True

    buttons[0].click()
    wait.until(expected_conditions.visibility_of_element_located((By.ID, "player")))

    def position() -> float:
        return float(browser.execute_script("return document.getElementById('player').currentTime"))

    WebDriverWait(browser, 45).until(lambda _b: position() > 0.5)
    first = position()
    time.sleep(4)
    later = position()
    assert later > first + 2, f"the video did not advance: {first} -> {later}"
    assert browser.execute_script("return document.getElementById('player').paused") is False
    size = browser.execute_script(
        "const v = document.getElementById('player'); return [v.videoWidth, v.videoHeight]"
    )
    assert size == [640, 360]

    # Playback of the default range (the last hour) of the same camera, from the recordings.
    browser.find_element(By.ID, "back").click()
    wait.until(expected_conditions.element_to_be_clickable((By.ID, "pb-play")))
    Select(browser.find_element(By.ID, "pb-camera")).select_by_value(north.cameras[0].id)
    browser.find_element(By.ID, "pb-play").click()
    wait.until(lambda b: "→" in b.find_element(By.ID, "player-title").text)
    WebDriverWait(browser, 45).until(lambda _b: position() > 1)
    first = position()
    time.sleep(4)
    assert position() > first + 2, "the recording did not play"
