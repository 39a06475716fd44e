"""infra.mirrors: the controller's apt, pip and npm asked, never a host written.

The selection is tested against captured answers of the tools (a fake runner); one real call
of each tool on this machine checks that its answer still has the shape we read.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from infra import mirrors

# Documentation names (RFC 2606, RFC 6761): no real mirror.
ARCHIVE = "http://mirror.example.test/debian"
SECURITY = "http://mirror.example.test/debian-security"


class Tool:
    """A fake runner: one captured answer, and the commands it was asked."""

    def __init__(self, answer: str = "", error: str | None = None) -> None:
        self.answer, self.error = answer, error
        self.asked: list[tuple[str, ...]] = []

    def __call__(self, command: Sequence[str], env: Mapping[str, str], fix: str) -> str:
        self.asked.append(tuple(command))
        if self.error is not None:
            raise mirrors.MirrorError(f"{self.error}: {fix}")
        return self.answer


# -- Debian: apt-get indextargets --------------------------------------------------------------
# What apt 2.6 prints for APT_TARGETS (one line per index target, e.g. binary-amd64 and
# binary-all Packages) with these sources, in apt's order:
#   sources.list: deb http://flat.example.test/repo ./
#                 deb [arch=amd64] cdrom:[Debian 12]/ bookworm main
#   a.sources:    a stanza of http://off.example.test/debian with "Enabled: no", then
#                 Types: deb deb-src / URIs: ARCHIVE / Suites: bookworm bookworm-updates /
#                 Components: contrib main
#   b.list:       deb http://later.example.test/debian bookworm main
#                 deb SECURITY bookworm-security main
INDEXTARGETS = f"""\
http://flat.example.test/repo/ ./ $(COMPONENT) deb
cdrom://Debian 12/ bookworm main deb
cdrom://Debian 12/ bookworm main deb
{ARCHIVE}/ bookworm contrib deb
{ARCHIVE}/ bookworm contrib deb
{ARCHIVE}/ bookworm main deb
{ARCHIVE}/ bookworm main deb
{ARCHIVE}/ bookworm-updates contrib deb
{ARCHIVE}/ bookworm-updates contrib deb
{ARCHIVE}/ bookworm-updates main deb
{ARCHIVE}/ bookworm-updates main deb
{ARCHIVE}/ bookworm contrib deb-src
{ARCHIVE}/ bookworm main deb-src
{ARCHIVE}/ bookworm-updates contrib deb-src
{ARCHIVE}/ bookworm-updates main deb-src
http://later.example.test/debian/ bookworm main deb
http://later.example.test/debian/ bookworm main deb
{SECURITY}/ bookworm-security main deb
{SECURITY}/ bookworm-security main deb
"""


def test_debian_mirrors_from_apts_targets() -> None:
    apt = Tool(INDEXTARGETS)
    found = mirrors.debian_mirrors("bookworm", env={}, run=apt)
    # A flat repository, cdrom: and deb-src are no mirror; the first deb main one wins.
    assert found == mirrors.DebianMirrors(ARCHIVE, ARCHIVE, SECURITY)
    assert found.urls == (ARCHIVE, ARCHIVE, SECURITY)
    assert apt.asked == [mirrors.APT_TARGETS]
    assert mirrors.APT_TARGETS[:3] == ("apt-get", "indextargets", "--no-release-info")


def test_debian_without_updates_or_security() -> None:
    found = mirrors.debian_mirrors("bookworm", env={}, run=Tool(f"{ARCHIVE}/ bookworm main deb\n"))
    assert found == mirrors.DebianMirrors(ARCHIVE, None, None)


def test_variables_override_apt() -> None:
    env = {
        "CAMOPS_DEBIAN_MIRROR": "http://apt.example.test/debian/",
        "CAMOPS_DEBIAN_SECURITY_MIRROR": "https://apt.example.test/security",
    }
    apt = Tool(INDEXTARGETS)
    found = mirrors.debian_mirrors("bookworm", env=env, run=apt)
    assert found == mirrors.DebianMirrors(
        "http://apt.example.test/debian",
        "http://apt.example.test/debian",
        "https://apt.example.test/security",
    )
    assert apt.asked == []  # both given: apt is not asked
    # The archive alone: apt still gives the security source, if it can.
    archive = {"CAMOPS_DEBIAN_MIRROR": "http://apt.example.test/debian"}
    assert mirrors.debian_mirrors("bookworm", env=archive, run=apt).security == SECURITY
    no_apt = mirrors.debian_mirrors("bookworm", env=archive, run=Tool(error="no apt-get"))
    assert no_apt == mirrors.DebianMirrors(
        archive["CAMOPS_DEBIAN_MIRROR"], archive["CAMOPS_DEBIAN_MIRROR"]
    )
    with pytest.raises(mirrors.MirrorError, match="CAMOPS_DEBIAN_MIRROR='ftp://x' is not"):
        mirrors.debian_mirrors("bookworm", env={"CAMOPS_DEBIAN_MIRROR": "ftp://x"}, run=apt)


def test_no_debian_mirror_names_what_apt_lists_and_the_variable() -> None:
    apt = Tool(f"{ARCHIVE}/ trixie main deb\n{ARCHIVE}/ bookworm contrib deb\n")
    with pytest.raises(mirrors.MirrorError) as raised:
        mirrors.debian_mirrors("bookworm", env={}, run=apt)
    message = str(raised.value)
    assert "no http(s) deb source of bookworm main" in message
    assert "lists trixie" in message
    assert "CAMOPS_DEBIAN_MIRROR" in message
    with pytest.raises(mirrors.MirrorError, match=r"lists none.*CAMOPS_DEBIAN_MIRROR"):
        mirrors.debian_mirrors("bookworm", env={}, run=Tool(""))
    with pytest.raises(mirrors.MirrorError, match=r"apt broke.*CAMOPS_DEBIAN_MIRROR"):
        mirrors.debian_mirrors("bookworm", env={}, run=Tool(error="apt broke"))


@pytest.mark.skipif(shutil.which("apt-get") is None, reason="no apt on this machine")
def test_apt_answers_in_the_shape_read() -> None:
    answer = mirrors.run_tool(mirrors.APT_TARGETS, os.environ, "fix")
    lines = answer.splitlines()
    assert lines, "apt lists no source at all"
    for line in lines:  # REPO_URI RELEASE COMPONENT TARGET_OF
        fields = line.rsplit(" ", 3)
        assert len(fields) == 4, line
        assert fields[3] in ("deb", "deb-src"), line
    assert all(mirrors.is_web_url(uri) for uri in mirrors.deb_suites(answer).values())


# -- Python: pip config list -------------------------------------------------------------------
# What `python -m pip config list` prints: every file's settings merged, then the variables.
PIP_LIST = """\
global.cert='/etc/ssl/ca.pem'
global.extra-index-url='\\nfile:///opt/wheels/simple\\nhttps://extra.example.test/simple/'
global.index-url='https://global.example.test/simple'
global.find-links='/opt/wheels'
install.index-url='https://install.example.test/simple/'
download.index-url='https://download.example.test/simple'
:env:.proxy='http://proxy.example.test:3128'
:env:.disable-pip-version-check='1'
"""


def test_python_indexes_from_pips_configuration() -> None:
    pip = Tool(PIP_LIST)
    found = mirrors.python_indexes(env={}, run=pip)
    # [install] over [global] (pip's precedence for `pip install`); file:// indexes are local.
    assert found == mirrors.PythonIndexes(
        "https://install.example.test/simple",
        ("https://extra.example.test/simple",),
        default=False,
        cert="/etc/ssl/ca.pem",
        proxy="http://proxy.example.test:3128",
    )
    assert found.urls == (
        "https://install.example.test/simple",
        "https://extra.example.test/simple",
    )
    assert pip.asked == [(sys.executable, "-m", "pip", "config", "list")]


def test_pip_variables_win() -> None:
    listing = PIP_LIST + (
        ":env:.index-url='https://env.example.test/simple'\n"
        ":env:.extra-index-url='https://a.example.test/s https://b.example.test/s'\n"
    )
    found = mirrors.python_indexes(env={}, run=Tool(listing))
    assert found.urls == (
        "https://env.example.test/simple",
        "https://a.example.test/s",
        "https://b.example.test/s",
    )


def test_pip_default_index_is_pips_own() -> None:
    from pip._internal.models.index import PyPI  # noqa: PLC0415

    found = mirrors.python_indexes(env={}, run=Tool(":env:.default-timeout='60'\n"))
    assert found.default
    assert found.index_url == PyPI.simple_url
    assert (found.extra_index_urls, found.cert, found.proxy) == ((), None, None)


def test_pip_file_index_is_refused_and_a_failing_pip_named() -> None:
    with pytest.raises(mirrors.MirrorError, match=r"not http.*PIP_INDEX_URL"):
        mirrors.python_indexes(env={}, run=Tool(":env:.index-url='file:///srv/simple'\n"))
    with pytest.raises(mirrors.MirrorError, match=r"No module named pip.*PIP_INDEX_URL"):
        mirrors.python_indexes(env={}, run=Tool(error="No module named pip"))


def test_pip_answers_in_the_shape_read() -> None:
    env = {**os.environ, "PIP_INDEX_URL": "https://index.example.test/simple/"}
    answer = mirrors.run_tool(mirrors.PIP_CONFIG, env, "fix")
    settings = mirrors.pip_settings(answer)
    assert settings[":env:.index-url"] == "https://index.example.test/simple/"
    assert all("." in key for key in settings), settings
    found = mirrors.python_indexes(env=env, run=lambda *_: answer)
    assert (found.index_url, found.default) == ("https://index.example.test/simple", False)


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
        body = b'{"files": [{"url": "http://store.example.test/s-1.0.tar.gz"}]}'
        return url, "application/vnd.pypi.simple.v1+json", body

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


# -- npm: npm config get registry --------------------------------------------------------------
def test_npm_registry_from_npm() -> None:
    npm = Tool("http://npm.example.test/registry\n")
    assert mirrors.npm_registry(env={}, run=npm) == "http://npm.example.test/registry/"
    assert npm.asked == [("npm", "config", "get", "registry")]


def test_npm_registry_variable_first() -> None:
    npm = Tool("http://npm.example.test/")
    env = {"CAMOPS_NPM_REGISTRY": "http://camops.example.test/npm"}
    assert mirrors.npm_registry(env=env, run=npm) == "http://camops.example.test/npm/"
    assert npm.asked == []


def test_npm_missing_failing_or_odd_names_the_variable() -> None:
    with pytest.raises(mirrors.MirrorError, match=r"failed.*CAMOPS_NPM_REGISTRY"):
        mirrors.npm_registry(env={}, run=Tool(error="'npm config get registry' failed"))
    with pytest.raises(mirrors.MirrorError, match=r"not an http.*CAMOPS_NPM_REGISTRY"):
        mirrors.npm_registry(env={}, run=Tool("undefined\n"))


@pytest.mark.skipif(shutil.which("npm") is None, reason="no npm on this machine")
def test_npm_answers_in_the_shape_read() -> None:
    env = {name: value for name, value in os.environ.items() if name != "CAMOPS_NPM_REGISTRY"}
    answer = mirrors.run_tool(mirrors.NPM_REGISTRY, env, "fix").strip()
    assert mirrors.is_web_url(answer), answer
    assert mirrors.npm_registry(env=env, run=lambda *_: answer).endswith("/")


# -- running a tool ----------------------------------------------------------------------------
def _script(tmp_path: Path, body: str) -> Path:
    script = tmp_path / "bin" / "tool"
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(f"#!/bin/sh\n{body}\n", encoding="utf-8")
    script.chmod(0o755)
    return script


def test_run_tool(tmp_path: Path) -> None:
    env = {"PATH": str(_script(tmp_path, 'echo "$1 $TOOL_VARIABLE"').parent)}
    assert mirrors.run_tool(["tool", "asked"], {**env, "TOOL_VARIABLE": "x"}, "fix") == "asked x\n"
    with pytest.raises(mirrors.MirrorError, match="not installed on the controller: set X"):
        mirrors.run_tool(["absent-tool"], env, "set X")
    _script(tmp_path, "echo 'E: Malformed entry 1 in list file' >&2; exit 100")
    with pytest.raises(mirrors.MirrorError, match=r"'tool a' failed: E: Malformed.*; set X"):
        mirrors.run_tool(["tool", "a"], env, "set X")


def test_endpoints() -> None:
    assert mirrors.endpoint("https://Index.Example.test/simple") == "index.example.test:443"
    assert mirrors.endpoint("http://mirror.example.test/debian") == "mirror.example.test:80"
    assert mirrors.endpoint("https://[fd00::5]:8443/npm/") == "[fd00::5]:8443"
    for bad in ("file:///srv", "https://host:port/", "mirror.example.test"):
        assert not mirrors.is_web_url(bad)
        with pytest.raises(ValueError, match="not an http"):
            mirrors.endpoint(bad)
