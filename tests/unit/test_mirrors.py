"""infra.mirrors: the controller's apt, pip and npm configuration read, never a host written."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from infra import mirrors

# Documentation names (RFC 2606, RFC 6761): no real mirror.
ARCHIVE = "http://mirror.example.test/debian"
SECURITY = "http://mirror.example.test/debian-security"


def _apt(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "apt"
    (root / "sources.list.d").mkdir(parents=True)
    for name, text in files.items():
        (root / name).write_text(text, encoding="utf-8")
    return root


# -- Debian ------------------------------------------------------------------------------------
def test_one_line_sources(tmp_path: Path) -> None:
    apt = _apt(
        tmp_path,
        {
            "sources.list": (
                "# a comment line\n"
                "deb-src http://src.example.test/debian bookworm main\n"
                f"deb [arch=amd64 signed-by=/usr/share/keyrings/x.gpg] {ARCHIVE}/ bookworm main"
                " contrib  # trailing comment\n"
                f"deb\t{ARCHIVE} bookworm-updates main\n"
                f"deb {SECURITY} bookworm-security main non-free-firmware\n"
            )
        },
    )
    found = mirrors.debian_mirrors("bookworm", apt_dir=apt, env={})
    assert found == mirrors.DebianMirrors(ARCHIVE, ARCHIVE, SECURITY)


def test_deb822_sources_with_comments_continuations_and_disabled_stanzas(tmp_path: Path) -> None:
    apt = _apt(
        tmp_path,
        {
            "sources.list.d/debian.sources": (
                "Types: deb\n"
                "URIs: http://off.example.test/debian\n"
                "Suites: bookworm\n"
                "Components: main\n"
                "Enabled: no\n"
                "\n"
                "Types: deb deb-src\n"
                "# a snapshot, for the record\n"
                f"URIs: {ARCHIVE}\n"
                "Suites: bookworm bookworm-updates\n"
                "Components: main non-free-firmware\n"
                "Signed-By:\n"
                " -----BEGIN PGP PUBLIC KEY BLOCK-----\n"
                " .\n"
                " -----END PGP PUBLIC KEY BLOCK-----\n"
                "\n"
                "\n"
                "types: deb\n"
                f"uris: {SECURITY}\n"
                "suites: bookworm-security\n"
                "components: main\n"
            )
        },
    )
    found = mirrors.debian_mirrors("bookworm", apt_dir=apt, env={})
    assert found == mirrors.DebianMirrors(ARCHIVE, ARCHIVE, SECURITY)


def test_files_apt_ignores_are_ignored_and_apt_order_decides(tmp_path: Path) -> None:
    apt = _apt(
        tmp_path,
        {
            # Sorted before the real one, but apt reads neither of these names.
            "sources.list.d/a.sources.disabled-by-farm": (
                "Types: deb\nURIs: http://disabled.example.test/debian\n"
                "Suites: bookworm\nComponents: main\n"
            ),
            "sources.list.d/a.list.save": "deb http://backup.example.test/debian bookworm main\n",
            "sources.list.d/b.list": "deb cdrom:[Debian 12]/ bookworm main\n",
            "sources.list.d/c.list": f"deb {ARCHIVE} bookworm main\n",
            "sources.list.d/d.sources": (
                "Types: deb\nURIs: http://later.example.test/debian\n"
                "Suites: bookworm\nComponents: main\n"
            ),
        },
    )
    assert [path.name for path in mirrors.apt_source_files(apt)] == [
        "b.list",
        "c.list",
        "d.sources",
    ]
    found = mirrors.debian_mirrors("bookworm", apt_dir=apt, env={})
    # cdrom: is no mirror; no -updates and no security source on this controller.
    assert found == mirrors.DebianMirrors(ARCHIVE, None, None)
    assert found.urls == (ARCHIVE,)


def test_variables_override_apt(tmp_path: Path) -> None:
    apt = _apt(tmp_path, {"sources.list": f"deb {ARCHIVE} bookworm main\n"})
    env = {
        "CAMOPS_DEBIAN_MIRROR": "http://apt.example.test/debian/",
        "CAMOPS_DEBIAN_SECURITY_MIRROR": "https://apt.example.test/security",
    }
    found = mirrors.debian_mirrors("bookworm", apt_dir=apt, env=env)
    assert found == mirrors.DebianMirrors(
        "http://apt.example.test/debian",
        "http://apt.example.test/debian",
        "https://apt.example.test/security",
    )
    with pytest.raises(mirrors.MirrorError, match="CAMOPS_DEBIAN_MIRROR='ftp://x' is not"):
        mirrors.debian_mirrors("bookworm", apt_dir=apt, env={"CAMOPS_DEBIAN_MIRROR": "ftp://x"})


def test_no_mirror_found_names_the_files_read_and_the_variable(tmp_path: Path) -> None:
    apt = _apt(
        tmp_path,
        {
            "sources.list.d/other.list": f"deb {ARCHIVE} trixie main\n",
            "sources.list.d/contrib.list": f"deb {ARCHIVE} bookworm contrib\n",
        },
    )
    with pytest.raises(mirrors.MirrorError) as raised:
        mirrors.debian_mirrors("bookworm", apt_dir=apt, env={})
    message = str(raised.value)
    assert str(apt / "sources.list.d" / "other.list") in message
    assert str(apt / "sources.list.d" / "contrib.list") in message
    assert "CAMOPS_DEBIAN_MIRROR" in message
    with pytest.raises(mirrors.MirrorError, match="no sources file under"):
        mirrors.debian_mirrors("bookworm", apt_dir=tmp_path / "none", env={})


# -- Python ------------------------------------------------------------------------------------
def _conf(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_pip_files_in_pips_order(tmp_path: Path) -> None:
    system = _conf(
        tmp_path / "etc" / "pip.conf",
        "[global]\nindex-url = https://system.example.test/simple\ncert = /etc/ca.pem\n",
    )
    user = _conf(
        tmp_path / "user" / "pip.conf",
        "[global]\nindex_url = https://user.example.test/simple/\n"
        "extra-index-url =\n  file:///opt/wheels/simple\n  https://extra.example.test/simple\n",
    )
    found = mirrors.python_indexes(env={}, files=[system, user, tmp_path / "missing.conf"])
    assert found == mirrors.PythonIndexes(
        "https://user.example.test/simple",
        ("https://extra.example.test/simple",),
        default=False,
        cert="/etc/ca.pem",
    )
    assert found.urls == ("https://user.example.test/simple", "https://extra.example.test/simple")


def test_pip_install_section_and_environment_win(tmp_path: Path) -> None:
    conf = _conf(
        tmp_path / "pip.conf",
        "[install]\nindex-url = https://install.example.test/simple\n"
        "[global]\nindex-url = https://global.example.test/simple\n"
        "[download]\nindex-url = https://download.example.test/simple\n",
    )
    assert mirrors.python_indexes(env={}, files=[conf]).index_url == (
        "https://install.example.test/simple"
    )
    env = {"PIP_INDEX_URL": "https://env.example.test/simple", "PIP_PROXY": "http://p:3128"}
    found = mirrors.python_indexes(env=env, files=[conf])
    assert (found.index_url, found.proxy) == ("https://env.example.test/simple", "http://p:3128")


def test_pip_default_index_is_pips_own(tmp_path: Path) -> None:
    from pip._internal.models.index import PyPI  # noqa: PLC0415

    found = mirrors.python_indexes(env={}, files=[_conf(tmp_path / "pip.conf", "[global]\n")])
    assert found.default
    assert found.index_url == PyPI.simple_url


def test_pip_file_index_is_refused(tmp_path: Path) -> None:
    with pytest.raises(mirrors.MirrorError, match="PIP_INDEX_URL"):
        mirrors.python_indexes(env={"PIP_INDEX_URL": "file:///srv/simple"}, files=[])


def test_pip_config_files_are_the_ones_pip_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pip._internal.configuration import Configuration  # noqa: PLC0415

    def pips() -> list[Path]:
        return [
            Path(f) for _, files in Configuration(isolated=False).iter_config_files() for f in files
        ]

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_DIRS", f"{tmp_path / 'a'}{os.pathsep}{tmp_path / 'b'}")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("PIP_CONFIG_FILE", raising=False)
    assert mirrors.pip_config_files() == pips()
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.delenv("XDG_CONFIG_DIRS")
    assert mirrors.pip_config_files() == pips()
    # A PIP_CONFIG_FILE that exists replaces the user's files; /dev/null: no file at all.
    monkeypatch.setenv("PIP_CONFIG_FILE", str(_conf(tmp_path / "env.conf", "[global]\n")))
    assert mirrors.pip_config_files() == pips()
    assert mirrors.pip_config_files({"PIP_CONFIG_FILE": os.devnull}) == []


# -- where an index serves its files -----------------------------------------------------------
INDEX = "https://index.example.test/simple"


def test_file_hosts_from_an_html_page() -> None:
    page = (
        b"<html><body>"
        b'<a href="https://files.example.test/packages/pip-24.0.tar.gz#sha256=00">pip</a>'
        b'<a href="../../packages/pip-23.0.tar.gz">relative</a>'
        b'<a href="https://files.example.test:8443/packages/pip-22.0.tar.gz">port</a>'
        b"</body></html>"
    )
    asked = []

    def fetch(url: str) -> tuple[str, str, bytes]:
        asked.append(url)
        return url, "text/html", page

    assert mirrors.index_file_endpoints(INDEX + "/", fetch) == [
        "files.example.test:443",
        "files.example.test:8443",
        "index.example.test:443",
    ]
    assert asked == [f"{INDEX}/pip/"]


def test_file_hosts_from_a_json_page_after_a_failure() -> None:
    def fetch(url: str) -> tuple[str, str, bytes]:
        if url.endswith("/pip/"):
            raise OSError("HTTP Error 404: Not Found")
        body = json.dumps({"files": [{"url": "http://store.example.test/s-1.0.tar.gz"}]})
        return url, "application/vnd.pypi.simple.v1+json", body.encode()

    assert mirrors.index_file_endpoints(INDEX, fetch) == ["store.example.test:80"]


def test_file_hosts_unknown_says_why() -> None:
    def fetch(url: str) -> tuple[str, str, bytes]:
        raise OSError("no route to host")

    with pytest.raises(mirrors.MirrorError, match=r"/pip/: no route to host; .*/setuptools/"):
        mirrors.index_file_endpoints(INDEX, fetch)


@pytest.fixture
def local_index() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/simple/pip/":
                self.send_error(404)
                return
            body = b'<a href="/packages/pip-24.0.tar.gz">pip-24.0.tar.gz</a>'
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/simple"
    finally:
        server.shutdown()
        server.server_close()


def test_web_fetcher_asks_the_index(local_index: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # A loopback index, reached without any proxy of the environment.
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    fetch = mirrors.web_fetcher(mirrors.PythonIndexes(local_index), timeout=5)
    port = local_index.split(":")[2].split("/", maxsplit=1)[0]
    assert mirrors.index_file_endpoints(local_index, fetch) == [f"127.0.0.1:{port}"]


# -- npm ---------------------------------------------------------------------------------------
def _npm(tmp_path: Path, output: str, status: int = 0) -> Path:
    script = tmp_path / "bin" / "npm"
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(f"#!/bin/sh\necho '{output}'\nexit {status}\n", encoding="utf-8")
    script.chmod(0o755)
    return script


def test_npm_registry_from_npm(tmp_path: Path) -> None:
    npm = _npm(tmp_path, "http://npm.example.test/registry")
    env = {"PATH": str(npm.parent)}
    assert mirrors.npm_registry(env=env) == "http://npm.example.test/registry/"


def test_npm_registry_variables_first(tmp_path: Path) -> None:
    npm = _npm(tmp_path, "http://npm.example.test/")
    env = {"PATH": str(npm.parent), "npm_config_registry": "https://config.example.test/npm/"}
    assert mirrors.npm_registry(env=env) == "https://config.example.test/npm/"
    env["CAMOPS_NPM_REGISTRY"] = "http://camops.example.test/npm"
    assert mirrors.npm_registry(env=env) == "http://camops.example.test/npm/"


def test_npm_missing_or_failing_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(mirrors.MirrorError, match=r"not installed.*CAMOPS_NPM_REGISTRY"):
        mirrors.npm_registry(env={"PATH": str(tmp_path)})
    npm = _npm(tmp_path, "undefined", status=1)
    with pytest.raises(mirrors.MirrorError, match=r"failed.*CAMOPS_NPM_REGISTRY"):
        mirrors.npm_registry(env={"PATH": str(npm.parent)})
    npm = _npm(tmp_path, "undefined")
    with pytest.raises(mirrors.MirrorError, match=r"not an http.*CAMOPS_NPM_REGISTRY"):
        mirrors.npm_registry(env={"PATH": str(npm.parent)})


def test_endpoints() -> None:
    assert mirrors.endpoint("https://Index.Example.test/simple") == "index.example.test:443"
    assert mirrors.endpoint("http://mirror.example.test/debian") == "mirror.example.test:80"
    assert mirrors.endpoint("https://[fd00::5]:8443/npm/") == "[fd00::5]:8443"
    for bad in ("file:///srv", "https://host:port/", "mirror.example.test"):
        assert not mirrors.is_web_url(bad)
        with pytest.raises(ValueError, match="not an http"):
            mirrors.endpoint(bad)
