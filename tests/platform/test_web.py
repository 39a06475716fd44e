"""The viewer page's pieces agree: every element the script uses exists, every text has both
languages (Vietnamese first), and it only calls paths the platform serves."""

from __future__ import annotations

import re
from importlib import resources

import pytest
from fastapi.testclient import TestClient

WEB = resources.files("camops_platform").joinpath("web")
HTML = WEB.joinpath("index.html").read_text(encoding="utf-8")
SCRIPT = WEB.joinpath("viewer.js").read_text(encoding="utf-8")


def texts(language: str) -> set[str]:
    block = re.search(rf"^  {language}: \{{(.*?)^  \}},", SCRIPT, re.S | re.M)
    assert block is not None, language
    return set(re.findall(r"(\w+): [\"`]", block[1]))


def test_every_element_the_script_uses_is_on_the_page() -> None:
    used = set(re.findall(r"\$\(\"([a-z-]+)\"\)", SCRIPT))
    present = set(re.findall(r'id="([a-z-]+)"', HTML))
    assert used - present == set()
    # Ids the lab tests and people's habits rely on stay.
    assert {"login-form", "email", "password", "facilities", "player", "back"} <= present
    assert {"playback-form", "pb-camera", "pb-from", "pb-to", "export-form", "ex-approval"} <= (
        present
    )


def test_every_text_exists_in_vietnamese_and_english() -> None:
    vi, en = texts("vi"), texts("en")
    assert vi == en
    keys = set(re.findall(r'data-i18n="(\w+)"', HTML)) | set(re.findall(r'\bt\("(\w+)"\)', SCRIPT))
    assert keys - vi == set()
    assert 'lang="vi"' in HTML


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/exports"),
        ("post", "/api/v1/exports"),
        ("get", "/api/v1/me"),
        ("get", "/playback/n1_cam01/index.m3u8"),
    ],
)
def test_the_paths_the_page_calls_exist(client: TestClient, method: str, path: str) -> None:
    assert path.removesuffix("/n1_cam01/index.m3u8").split("/n1_cam01", 1)[0] in SCRIPT
    assert client.request(method, path, json={}).status_code == 401  # served, login needed
