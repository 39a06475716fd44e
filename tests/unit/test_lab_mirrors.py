"""The lab's image and package proxy use the controller's mirrors (infra.mirrors), no host of
their own."""

from __future__ import annotations

import json
import re
from ipaddress import IPv4Address
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from camops_lab import image, proxy
from camops_lab import lab as lab_module
from infra import mirrors
from tests.helpers import INVENTORIES

DEBIAN = mirrors.DebianMirrors(
    "http://mirror.example.test/debian",
    "http://mirror.example.test/debian",
    "http://mirror.example.test/debian-security",
)
PYTHON = mirrors.PythonIndexes(
    "https://index.example.test/simple", ("https://extra.example.test:8443/simple",)
)


def test_image_apt_sources_are_the_controllers_mirrors() -> None:
    assert image.apt_sources(DEBIAN).splitlines()[1:] == [
        "deb http://mirror.example.test/debian bookworm main",
        "deb http://mirror.example.test/debian bookworm-updates main",
        "deb http://mirror.example.test/debian-security bookworm-security main",
    ]
    alone = image.apt_sources(mirrors.DebianMirrors("http://mirror.example.test/debian"))
    assert [line for line in alone.splitlines() if line.startswith("deb")] == [
        "deb http://mirror.example.test/debian bookworm main"
    ]
    assert "CAMOPS_DEBIAN_SECURITY_MIRROR" in alone
    # No sources file of its own in the image's tree: it is written at build time.
    assert not (image.ROOTFS_FILES / "etc" / "apt" / "sources.list").exists()


def test_a_changed_mirror_makes_new_images() -> None:
    other = mirrors.DebianMirrors(DEBIAN.archive, DEBIAN.updates, "http://sec.example.test/d")
    assert image.base_spec(DEBIAN) == image.base_spec(DEBIAN)
    assert image.base_spec(DEBIAN) != image.base_spec(other)
    assert image.camera_spec(DEBIAN) != image.camera_spec(other)


def test_pass_through_pattern_allows_exactly_the_endpoints() -> None:
    pattern = proxy.pass_through_pattern(["index.example.test:443", "my-mirror.example.test:8443"])
    assert pattern.startswith("^(") and pattern.endswith(")$")
    for allowed in ("index.example.test:443", "my-mirror.example.test:8443"):
        assert re.match(pattern, allowed)
    for refused in (
        "indexxexample.test:443",
        "index.example.test:4433",
        "a.index.example.test:443",
    ):
        assert not re.match(pattern, refused)
    assert proxy.pass_through_pattern([]) == "^$"
    conf = proxy.Proxy(IPv4Address("10.78.0.1"), Path("/x")).config(["a.test:443"])
    assert "PassThroughPattern: ^(a\\.test:443)$\n" in conf


def _page(url: str) -> tuple[str, str, bytes]:
    host = urlsplit(url).hostname
    return url, "text/html", f'<a href="https://files.{host}/p/x.tar.gz">x</a>'.encode()


def test_file_hosts_are_asked_once_and_kept(tmp_path: Path) -> None:
    cache = tmp_path / "proxy" / proxy.FILES_HOSTS_CACHE
    asked: list[str] = []
    logged: list[str] = []

    def fetch(url: str) -> tuple[str, str, bytes]:
        asked.append(url)
        return _page(url)

    found = proxy.file_endpoints(PYTHON, cache, logged.append, env={}, fetch=fetch)
    assert found == ["files.extra.example.test:443", "files.index.example.test:443"]
    assert len(asked) == 2
    assert json.loads(cache.read_text(encoding="utf-8"))[PYTHON.index_url] == [
        "files.index.example.test:443"
    ]
    assert proxy.file_endpoints(PYTHON, cache, logged.append, env={}, fetch=fetch) == found
    assert len(asked) == 2  # from the lab's state, not asked again
    assert not logged


def test_an_index_that_cannot_be_asked_warns_and_is_asked_again(tmp_path: Path) -> None:
    cache = tmp_path / proxy.FILES_HOSTS_CACHE
    logged: list[str] = []

    def offline(url: str) -> tuple[str, str, bytes]:
        raise OSError("network unreachable")

    assert proxy.file_endpoints(PYTHON, cache, logged.append, env={}, fetch=offline) == []
    assert len(logged) == 2
    assert "CAMOPS_PYPI_FILES_HOSTS" in logged[0]
    assert proxy.file_endpoints(PYTHON, cache, logged.append, env={}, fetch=_page)


def test_file_hosts_variable_wins(tmp_path: Path) -> None:
    def never(url: str) -> tuple[str, str, bytes]:
        raise AssertionError(url)

    env = {"CAMOPS_PYPI_FILES_HOSTS": "files.example.test, https://other.example.test:8443/x"}
    found = proxy.file_endpoints(PYTHON, tmp_path / "c.json", print, env=env, fetch=never)
    assert found == ["files.example.test:443", "other.example.test:8443"]
    with pytest.raises(mirrors.MirrorError, match="CAMOPS_PYPI_FILES_HOSTS"):
        proxy.file_endpoints(
            PYTHON, tmp_path / "c.json", print, env={proxy.FILES_HOSTS_VARIABLE: "b:x"}
        )


def test_tunnelled_endpoints(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAMOPS_PYPI_FILES_HOSTS", "files.example.test")
    sources = mirrors.ControllerMirrors(
        mirrors.DebianMirrors(
            "http://mirror.example.test/debian", None, "https://sec.example.test/"
        ),
        PYTHON,
        "https://npm.example.test/registry/",
    )
    assert proxy.tunnelled_endpoints(sources, tmp_path / "c.json", print) == [
        "extra.example.test:8443",
        "files.example.test:443",
        "index.example.test:443",
        "npm.example.test:443",
        "sec.example.test:443",  # an https Debian mirror; http ones are proxied and cached
    ]


def test_hosts_get_the_controllers_pip_indexes(tmp_path: Path) -> None:
    lab = lab_module.open_lab(str(INVENTORIES / "lab"), state=tmp_path / ".lab")
    lab.ssh_key.parent.mkdir(parents=True)
    lab.ssh_key.with_suffix(".pub").write_text("ssh-ed25519 AAAA camops-lab\n", encoding="utf-8")
    lab_module._write_host_config(lab, lab.plan.host("nvr-north"), PYTHON)
    written = (lab.host_dir(lab.plan.host("nvr-north")) / "pip-index").read_text(encoding="utf-8")
    assert written == (
        "index-url = https://index.example.test/simple\n"
        "extra-index-url = https://extra.example.test:8443/simple\n"
    )
