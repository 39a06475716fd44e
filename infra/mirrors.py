"""Package mirrors as the controller's own tools report them: this module names no host.

A province's isolated network has mirrors of its own, so camops writes no package host: the
lab asks the controller's apt (:func:`debian_mirrors`), pip (:func:`python_indexes`) and npm
(:func:`npm_registry`), each reading its own configuration. ``CAMOPS_DEBIAN_MIRROR``,
``CAMOPS_DEBIAN_SECURITY_MIRROR`` and ``CAMOPS_NPM_REGISTRY`` override them; pip has its own
``PIP_*`` variables. Each raises :class:`MirrorError` when it finds nothing usable, naming the
variable to set.
"""

from __future__ import annotations

import ast
import json
import os
import ssl
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

DEBIAN_MIRROR_VARIABLE = "CAMOPS_DEBIAN_MIRROR"
DEBIAN_SECURITY_VARIABLE = "CAMOPS_DEBIAN_SECURITY_MIRROR"
NPM_REGISTRY_VARIABLE = "CAMOPS_NPM_REGISTRY"
PIP_INDEX_VARIABLE = "PIP_INDEX_URL"  # pip's own
WEB_SCHEMES = ("http", "https")
#: Projects whose simple page tells where an index serves its files (any index has them).
PROBE_PROJECTS = ("pip", "setuptools")

#: Every index target of apt's enabled sources; ``--no-release-info``: also before the first
#: ``apt-get update`` (without it apt lists only the sources whose Release file it holds).
APT_FORMAT = "$(REPO_URI) $(RELEASE) $(COMPONENT) $(TARGET_OF)"
APT_TARGETS = ("apt-get", "indextargets", "--no-release-info", "--format", APT_FORMAT)
PIP_CONFIG = (sys.executable, "-m", "pip", "config", "list")
NPM_REGISTRY = ("npm", "config", "get", "registry")
#: Which of ``pip config list``'s sections ``pip install`` takes a setting from first: pip's
#: documented precedence (variables, then the command's section, then ``[global]``).
PIP_SECTIONS = (":env:", "install", "global")

#: ``run(command, env, fix) -> stdout``; raises :class:`MirrorError` ending with ``fix``.
Run = Callable[[Sequence[str], Mapping[str, str], str], str]


class MirrorError(RuntimeError):
    """Nothing usable was found; the message names what was asked and the variable to set."""


def is_web_url(url: str) -> bool:
    """True for an ``http://`` or ``https://`` URL with a host."""
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018  # raises ValueError for a bad port
    except ValueError:
        return False
    return parts.scheme in WEB_SCHEMES and bool(parts.hostname)


def endpoint(url: str) -> str:
    """``host:port`` of an http(s) URL (the scheme's port when none is given)."""
    if not is_web_url(url):
        raise ValueError(f"not an http(s) URL: {url!r}")
    parts = urlsplit(url.strip())
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def run_tool(command: Sequence[str], env: Mapping[str, str], fix: str) -> str:
    """What one of the controller's tools prints (stdout); ``env`` is the tool's environment."""
    shown = " ".join(command)
    try:
        result = subprocess.run(  # noqa: S603
            command, capture_output=True, text=True, timeout=60, check=False, env=dict(env)
        )
    except FileNotFoundError:
        raise MirrorError(f"{command[0]} is not installed on the controller: {fix}") from None
    except (OSError, subprocess.TimeoutExpired) as error:
        raise MirrorError(f"'{shown}' failed ({error}): {fix}") from error
    if result.returncode != 0:
        raise MirrorError(f"'{shown}' failed: {result.stderr.strip()[-300:]}; {fix}")
    return result.stdout


def _url_variable(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    if value and not is_web_url(value):
        raise MirrorError(f"{name}={value!r} is not an http(s) URL")
    return value.rstrip("/") or None


# -- Debian ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DebianMirrors:
    """Where a Debian host of the lab's release gets its packages."""

    archive: str
    updates: str | None = None
    security: str | None = None

    @property
    def urls(self) -> tuple[str, ...]:
        return tuple(url for url in (self.archive, self.updates, self.security) if url)


def deb_suites(targets: str) -> dict[str, str]:
    """Suite (as the sources name it) -> the first http(s) URI apt fetches its ``deb`` packages
    of ``main`` from, in apt's order, out of :data:`APT_TARGETS`' output."""
    found: dict[str, str] = {}
    for line in targets.splitlines():
        fields = line.rsplit(" ", 3)  # from the right: a cdrom: URI has spaces
        if len(fields) == 4 and fields[2:] == ["main", "deb"] and is_web_url(fields[0]):
            found.setdefault(fields[1], fields[0].rstrip("/"))
    return found


def debian_mirrors(
    suite: str, *, env: Mapping[str, str] | None = None, run: Run = run_tool
) -> DebianMirrors:
    """The controller's Debian mirrors for ``suite`` (e.g. ``bookworm``).

    ``CAMOPS_DEBIAN_MIRROR`` replaces the archive and its ``-updates`` suite (a Debian mirror
    carries both); ``CAMOPS_DEBIAN_SECURITY_MIRROR`` the security archive. Otherwise apt
    decides; no security source on the controller gives ``security=None``.
    """
    env = os.environ if env is None else env
    archive = _url_variable(env, DEBIAN_MIRROR_VARIABLE)
    security = _url_variable(env, DEBIAN_SECURITY_VARIABLE)
    if archive and security:
        return DebianMirrors(archive, archive, security)
    fix = (
        f"set {DEBIAN_MIRROR_VARIABLE} to the Debian archive to use, e.g. http://<mirror>/debian "
        f"(and {DEBIAN_SECURITY_VARIABLE} for security updates)"
    )
    try:
        apt = deb_suites(run(APT_TARGETS, env, fix))
    except MirrorError:
        if archive is None:
            raise
        apt = {}  # the archive is given; no security source then
    if archive is None:
        if suite not in apt:
            raise MirrorError(
                f"apt on the controller has no http(s) deb source of {suite} main ('apt-get "
                f"indextargets' lists {', '.join(sorted(apt)) or 'none'}): {fix}"
            )
        archive, updates = apt[suite], apt.get(f"{suite}-updates")
    else:
        updates = archive
    return DebianMirrors(archive, updates, security or apt.get(f"{suite}-security"))


# -- Python ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PythonIndexes:
    """The indexes ``pip install`` on the controller uses, and how it reaches them."""

    index_url: str
    extra_index_urls: tuple[str, ...] = ()
    default: bool = False  # nothing configured: pip's own default index
    cert: str | None = None  # the CA bundle pip trusts (pip's ``cert``), if set
    proxy: str | None = None  # pip's ``proxy``, if set

    @property
    def urls(self) -> tuple[str, ...]:
        return (self.index_url, *self.extra_index_urls)


def pip_settings(listing: str) -> dict[str, str]:
    """``pip config list``'s ``section.key='value'`` lines, as ``{"section.key": value}``."""
    lines = (line.partition("=") for line in listing.splitlines())
    return {key: str(ast.literal_eval(value)) for key, equals, value in lines if equals}


def pip_setting(settings: Mapping[str, str], key: str) -> str:
    """The value ``pip install`` takes for ``key`` (empty when unset)."""
    values = (settings.get(f"{section}.{key}", "").strip() for section in PIP_SECTIONS)
    return next((value for value in values if value), "")


def python_indexes(*, env: Mapping[str, str] | None = None, run: Run = run_tool) -> PythonIndexes:
    """The controller's Python indexes: ``index-url`` (pip's default when none is configured)
    and the http(s) ``extra-index-url`` ones (``file://`` indexes are local: left out)."""
    env = os.environ if env is None else env
    fix = f"set {PIP_INDEX_VARIABLE} to the Python index the lab's hosts should use"
    settings = pip_settings(run(PIP_CONFIG, env, fix))
    index = pip_setting(settings, "index-url")
    if index and not is_web_url(index):
        raise MirrorError(f"pip's index-url on the controller is {index!r}, not http(s): {fix}")
    default = not index
    if default:  # pip's own default index, from the pip that just answered (same interpreter)
        from pip._internal.models.index import PyPI  # noqa: PLC0415

        index = PyPI.simple_url
    extras = pip_setting(settings, "extra-index-url").split()
    return PythonIndexes(
        index_url=index.rstrip("/"),
        extra_index_urls=tuple(url.rstrip("/") for url in extras if is_web_url(url)),
        default=default,
        cert=pip_setting(settings, "cert") or None,
        proxy=pip_setting(settings, "proxy") or None,
    )


#: ``fetch(url) -> (final URL, content type, body)``; raises OSError when the page cannot be had.
Fetch = Callable[[str], tuple[str, str, bytes]]


def web_fetcher(indexes: PythonIndexes, timeout: float = 20) -> Fetch:
    """Fetch as the controller's pip would: its CA bundle and proxy (else the environment's)."""
    opener = urllib.request.build_opener(
        urllib.request.HTTPSHandler(context=ssl.create_default_context(cafile=indexes.cert)),
        urllib.request.ProxyHandler(  # None: the environment's proxies
            dict.fromkeys(WEB_SCHEMES, indexes.proxy) if indexes.proxy else None
        ),
    )

    def fetch(url: str) -> tuple[str, str, bytes]:
        if not is_web_url(url):
            raise OSError(f"not an http(s) URL: {url}")
        request = urllib.request.Request(url, headers={"Accept": "text/html"})  # noqa: S310
        with opener.open(request, timeout=timeout) as response:
            content_type = str(response.headers.get_content_type())
            return str(response.geturl()), content_type, bytes(response.read(64 << 20))

    return fetch


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href")
        if tag == "a" and href:
            self.hrefs.append(href)


def simple_page_links(url: str, content_type: str, body: bytes) -> list[str]:
    """The file links of a simple-API project page (HTML, or PEP 691 JSON), absolute."""
    if content_type.endswith("json"):
        hrefs = [str(item["url"]) for item in json.loads(body).get("files", []) if "url" in item]
    else:
        parser = _Links()
        parser.feed(body.decode("utf-8", errors="replace"))
        hrefs = parser.hrefs
    return [urljoin(url, href) for href in hrefs]


def index_file_endpoints(
    index_url: str, fetch: Fetch, projects: Sequence[str] = PROBE_PROJECTS
) -> list[str]:
    """Where an index serves its files (``host:port``): read from the links of one project's
    simple page (an index may serve files from a host other than its own)."""
    failures = []
    for project in projects:
        page = f"{index_url.rstrip('/')}/{project}/"
        try:
            links = simple_page_links(*fetch(page))
        except (OSError, ValueError) as error:  # URLError and HTTPError are OSErrors
            failures.append(f"{page}: {error}")
            continue
        found = sorted({endpoint(link) for link in links if is_web_url(link)})
        if found:
            return found
        failures.append(f"{page}: no file links")
    raise MirrorError(f"cannot tell where {index_url} serves files: {'; '.join(failures)}")


# -- npm ---------------------------------------------------------------------------------------
def npm_registry(*, env: Mapping[str, str] | None = None, run: Run = run_tool) -> str:
    """The npm registry of the controller, ending in ``/``: ``CAMOPS_NPM_REGISTRY``, else
    ``npm config get registry``."""
    env = os.environ if env is None else env
    fix = (
        f"set {NPM_REGISTRY_VARIABLE} to the npm registry to use (the province's own mirror), "
        "e.g. http://<mirror>/npm/"
    )
    origin = NPM_REGISTRY_VARIABLE
    registry = env.get(origin, "").strip()
    if not registry:
        origin, registry = "'npm config get registry'", run(NPM_REGISTRY, env, fix).strip()
    if not is_web_url(registry):
        raise MirrorError(f"{origin} gives {registry!r}, not an http(s) registry: {fix}")
    return registry.rstrip("/") + "/"


# -- all of them -------------------------------------------------------------------------------
@dataclass(frozen=True)
class ControllerMirrors:
    debian: DebianMirrors
    python: PythonIndexes
    npm_registry: str


def controller_mirrors(suite: str) -> ControllerMirrors:
    """Every mirror the lab needs, from the controller's tools (fails on the first one missing,
    naming the variable to set)."""
    return ControllerMirrors(debian_mirrors(suite), python_indexes(), npm_registry())
