"""Package mirrors as the controller is configured for them: this module names no host.

camops writes no package host into the project: a province's isolated network has mirrors of
its own. What the lab (and a role that fetches on the controller) needs is read from the
controller's own configuration instead:

- **Debian archive** (:func:`debian_mirrors`): the controller's apt sources —
  ``/etc/apt/sources.list`` and ``sources.list.d/*.list`` (one-line format),
  ``sources.list.d/*.sources`` (deb822) — the http(s) URI serving the release's suite with
  ``main``, its ``-updates`` suite and its security suite (``<suite>-security``) if the
  controller has them. ``CAMOPS_DEBIAN_MIRROR`` and ``CAMOPS_DEBIAN_SECURITY_MIRROR`` override
  what apt says, for a controller whose apt is set up otherwise.
- **Python package index** (:func:`python_indexes`): what ``pip install`` on the controller
  uses — pip's ``PIP_*`` variables, else pip's configuration files in pip's order. With no
  index configured, pip's own default index applies: it is asked from the pip installed with
  camops, never written here.
- **npm registry** (:func:`npm_registry`): ``CAMOPS_NPM_REGISTRY``, else npm's
  ``npm_config_registry``, else ``npm config get registry`` (npm's default when nothing is
  configured).

Each reader raises :class:`MirrorError` when it finds nothing usable; the message names what
was read and the variable to set.
"""

from __future__ import annotations

import configparser
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

APT_DIR = Path("/etc/apt")
DEBIAN_MIRROR_VARIABLE = "CAMOPS_DEBIAN_MIRROR"
DEBIAN_SECURITY_VARIABLE = "CAMOPS_DEBIAN_SECURITY_MIRROR"
NPM_REGISTRY_VARIABLE = "CAMOPS_NPM_REGISTRY"
PIP_INDEX_VARIABLE = "PIP_INDEX_URL"  # pip's own
WEB_SCHEMES = ("http", "https")
#: Projects whose simple page tells where an index serves its files (any index has them).
PROBE_PROJECTS = ("pip", "setuptools")

# apt reads sources.list.d/ files with these names only (others, e.g. "x.list.disabled", are
# ignored, as apt ignores them).
_APT_PART = re.compile(r"^[A-Za-z0-9_.-]+\.(list|sources)$")
# What `pip install` reads from pip's configuration, in override order (the environment last).
_PIP_SECTIONS = ("global", "install")


class MirrorError(RuntimeError):
    """Nothing usable was found; the message names what was read and the variable to set."""


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


# -- Debian ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AptSource:
    """One entry of apt's sources: a one-line ``deb`` line or a deb822 stanza."""

    file: Path
    types: tuple[str, ...]
    uris: tuple[str, ...]
    suites: tuple[str, ...]
    components: tuple[str, ...]
    enabled: bool = True

    def serves(self, suite: str, component: str = "main") -> bool:
        return (
            self.enabled
            and "deb" in self.types
            and suite in self.suites
            and component in self.components
        )


@dataclass(frozen=True)
class DebianMirrors:
    """Where a Debian host of the lab's release gets its packages."""

    archive: str
    updates: str | None = None
    security: str | None = None

    @property
    def urls(self) -> tuple[str, ...]:
        return tuple(url for url in (self.archive, self.updates, self.security) if url)


def apt_source_files(apt_dir: Path = APT_DIR) -> list[Path]:
    """The files apt reads, in apt's order: ``sources.list``, then ``sources.list.d/*.list``
    and ``*.sources`` by name; other names (``.disabled`` copies, backups) are ignored."""
    files = [apt_dir / "sources.list"] if (apt_dir / "sources.list").is_file() else []
    parts = apt_dir / "sources.list.d"
    if parts.is_dir():
        files += sorted(
            (path for path in parts.iterdir() if path.is_file() and _APT_PART.match(path.name)),
            key=lambda path: path.name,
        )
    return files


def parse_one_line(text: str, file: Path) -> list[AptSource]:
    """``deb [options] URI SUITE [COMPONENT...]`` lines (``#`` starts a comment)."""
    sources = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        kind, _, rest = line.replace("\t", " ").partition(" ")
        rest = rest.strip()
        if rest.startswith("["):  # options, e.g. [arch=amd64 signed-by=...]
            end = rest.find("]")
            rest = rest[end + 1 :] if end >= 0 else ""
        words = rest.split()
        if kind and len(words) >= 2:
            uri, suite, *components = words
            sources.append(AptSource(file, (kind,), (uri,), (suite,), tuple(components)))
    return sources


def parse_deb822(text: str, file: Path) -> list[AptSource]:
    """deb822 stanzas (``Types``, ``URIs``, ``Suites``, ``Components``, ``Enabled``),
    separated by blank lines; ``#`` lines are comments, indented lines continue a field."""
    stanzas: list[dict[str, str]] = []
    fields: dict[str, str] = {}
    last = ""
    for raw in [*text.splitlines(), ""]:
        if raw.startswith("#"):
            continue
        if not raw.strip():
            if fields:
                stanzas.append(fields)
            fields, last = {}, ""
        elif raw[0] in " \t":
            if last:
                fields[last] += "\n" + raw.strip()
        else:
            key, colon, value = raw.partition(":")
            if colon:
                last = key.strip().lower()
                fields[last] = value.strip()
    return [
        AptSource(
            file,
            tuple(stanza.get("types", "").split()),
            tuple(stanza.get("uris", "").split()),
            tuple(stanza.get("suites", "").split()),
            tuple(stanza.get("components", "").split()),
            stanza.get("enabled", "yes").strip().lower() not in {"no", "false", "0"},
        )
        for stanza in stanzas
    ]


def read_apt_sources(files: Iterable[Path]) -> list[AptSource]:
    sources: list[AptSource] = []
    for file in files:
        try:
            text = file.read_text(encoding="utf-8", errors="replace")
        except OSError as error:
            raise MirrorError(
                f"cannot read the controller's apt sources ({error}): set {DEBIAN_MIRROR_VARIABLE}"
            ) from error
        parse = parse_deb822 if file.suffix == ".sources" else parse_one_line
        sources += parse(text, file)
    return sources


def _serving(sources: Sequence[AptSource], suite: str) -> str | None:
    """The first http(s) URI that serves ``suite`` with ``main``, in apt's order."""
    for source in sources:
        if source.serves(suite):
            for uri in source.uris:
                if is_web_url(uri):
                    return uri.rstrip("/")
    return None


def _url_variable(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    if not value:
        return None
    if not is_web_url(value):
        raise MirrorError(f"{name}={value!r} is not an http(s) URL")
    return value.rstrip("/")


def debian_mirrors(
    suite: str, *, apt_dir: Path = APT_DIR, env: Mapping[str, str] | None = None
) -> DebianMirrors:
    """The controller's Debian mirrors for ``suite`` (e.g. ``bookworm``).

    ``CAMOPS_DEBIAN_MIRROR`` replaces the archive and its ``-updates`` suite (a Debian mirror
    carries both); ``CAMOPS_DEBIAN_SECURITY_MIRROR`` the security archive. Without them, apt's
    sources decide; no security source on the controller gives ``security=None``.
    """
    env = os.environ if env is None else env
    files = apt_source_files(apt_dir)
    sources = read_apt_sources(files)
    archive = _url_variable(env, DEBIAN_MIRROR_VARIABLE)
    updates = archive
    if archive is None:
        archive = _serving(sources, suite)
        updates = _serving(sources, f"{suite}-updates")
    if archive is None:
        read = ", ".join(str(file) for file in files) or f"no sources file under {apt_dir}"
        raise MirrorError(
            f"no Debian mirror for {suite} (an http or https URI with component main) in the "
            f"controller's apt sources ({read}): set {DEBIAN_MIRROR_VARIABLE} to the Debian "
            f"archive to use, e.g. http://<mirror>/debian (and {DEBIAN_SECURITY_VARIABLE} "
            "for security updates)"
        )
    security = _url_variable(env, DEBIAN_SECURITY_VARIABLE) or _serving(
        sources, f"{suite}-security"
    )
    return DebianMirrors(archive, updates, security)


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


def pip_config_files(
    env: Mapping[str, str] | None = None, *, prefix: Path | None = None
) -> list[Path]:
    """pip's configuration files on this (Unix) controller, in pip's order (a later file wins):
    global (``$XDG_CONFIG_DIRS/pip/pip.conf``, ``/etc/pip.conf``), user (``~/.pip/pip.conf``,
    ``$XDG_CONFIG_HOME/pip/pip.conf``; skipped when ``PIP_CONFIG_FILE`` names a file), the
    virtualenv's (``<sys.prefix>/pip.conf``), then ``PIP_CONFIG_FILE``. None at all when
    ``PIP_CONFIG_FILE`` is ``/dev/null``, as in pip."""
    env = os.environ if env is None else env
    prefix = Path(sys.prefix) if prefix is None else prefix
    config_file = env.get("PIP_CONFIG_FILE")
    if config_file == os.devnull:
        return []
    home = Path(env.get("HOME") or Path.home())
    system_dirs = env.get("XDG_CONFIG_DIRS", "").strip() or "/etc/xdg"
    files = [Path(folder) / "pip" / "pip.conf" for folder in system_dirs.split(os.pathsep)]
    files.append(Path("/etc/pip.conf"))
    if not (config_file and Path(config_file).exists()):
        user_dir = env.get("XDG_CONFIG_HOME", "").strip() or str(home / ".config")
        files += [home / ".pip" / "pip.conf", Path(user_dir) / "pip" / "pip.conf"]
    files.append(prefix / "pip.conf")
    if config_file:
        files.append(Path(config_file))
    return files


def _pip_key(name: str) -> str:
    return name.lower().replace("_", "-").removeprefix("--")


def pip_settings(files: Iterable[Path], env: Mapping[str, str]) -> dict[str, str]:
    """What ``pip install`` reads: ``[global]`` then ``[install]`` (a later file wins within a
    section, ``[install]`` over ``[global]``), then the ``PIP_*`` variables over both."""
    sections: dict[str, dict[str, str]] = {name: {} for name in _PIP_SECTIONS}
    for file in files:
        parser = configparser.RawConfigParser()
        try:
            parser.read(file, encoding="utf-8")  # a missing file is skipped
        except configparser.Error as error:
            raise MirrorError(f"{file}: not a pip configuration file ({error})") from error
        for name in _PIP_SECTIONS:
            if parser.has_section(name):
                sections[name].update({_pip_key(k): v for k, v in parser.items(name)})
    settings: dict[str, str] = {}
    for name in _PIP_SECTIONS:
        settings.update({key: value for key, value in sections[name].items() if value})
    for name, value in env.items():
        if name.startswith("PIP_") and value:
            settings[_pip_key(name[4:])] = value
    return settings


def pip_default_index() -> str:
    """pip's own default index, as the pip installed with camops knows it (its
    ``pip._internal.models.index.PyPI``): no index host is written into camops."""
    try:
        from pip._internal.models.index import PyPI  # noqa: PLC0415  # pip is optional here
    except ImportError as error:
        raise MirrorError(
            f"no Python index is configured on the controller and pip ({sys.executable}) "
            f"cannot say its default: set {PIP_INDEX_VARIABLE} or index-url in pip.conf"
        ) from error
    return str(PyPI.simple_url)


def python_indexes(
    *, env: Mapping[str, str] | None = None, files: Iterable[Path] | None = None
) -> PythonIndexes:
    """The controller's Python indexes: ``index-url`` (pip's default when none is configured)
    and the http(s) ``extra-index-url`` ones (``file://`` indexes are local: left out)."""
    env = os.environ if env is None else env
    settings = pip_settings(pip_config_files(env) if files is None else files, env)
    extras = tuple(
        url.rstrip("/") for url in settings.get("extra-index-url", "").split() if is_web_url(url)
    )
    index = settings.get("index-url", "").strip()
    if index and not is_web_url(index):
        raise MirrorError(
            f"pip's index-url on the controller is {index!r}, not an http(s) index the lab's "
            f"hosts could reach: set {PIP_INDEX_VARIABLE} to one"
        )
    return PythonIndexes(
        index_url=index.rstrip("/") if index else pip_default_index(),
        extra_index_urls=extras,
        default=not index,
        cert=settings.get("cert") or None,
        proxy=settings.get("proxy") or None,
    )


#: ``fetch(url) -> (final URL, content type, body)``; raises OSError when the page cannot be had.
Fetch = Callable[[str], tuple[str, str, bytes]]


def web_fetcher(indexes: PythonIndexes, timeout: float = 20) -> Fetch:
    """Fetch as the controller's pip would: its CA bundle and proxy (else the environment's)."""
    handlers: list[urllib.request.BaseHandler] = [
        urllib.request.HTTPSHandler(context=ssl.create_default_context(cafile=indexes.cert))
    ]
    if indexes.proxy:
        handlers.append(urllib.request.ProxyHandler(dict.fromkeys(WEB_SCHEMES, indexes.proxy)))
    opener = urllib.request.build_opener(*handlers)

    def fetch(url: str) -> tuple[str, str, bytes]:
        if not is_web_url(url):
            raise OSError(f"not an http(s) URL: {url}")
        request = urllib.request.Request(url, headers={"Accept": "text/html"})  # noqa: S310
        with opener.open(request, timeout=timeout) as response:
            return (
                str(response.geturl()),
                str(response.headers.get_content_type()),
                bytes(response.read(64 * 1024 * 1024)),
            )

    return fetch


class _Links(HTMLParser):
    def __init__(self, base: str) -> None:
        super().__init__()
        self.base = base
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href")
        if href and tag == "base":
            self.base = urljoin(self.base, href)
        elif href and tag == "a":
            self.hrefs.append(urljoin(self.base, href))


def simple_page_links(url: str, content_type: str, body: bytes) -> list[str]:
    """The file links of a simple-API project page (PEP 503 HTML or PEP 691 JSON), absolute."""
    if content_type.endswith("+json") or content_type == "application/json":
        files = json.loads(body).get("files", [])
        return [urljoin(url, str(item["url"])) for item in files if "url" in item]
    parser = _Links(url)
    parser.feed(body.decode("utf-8", errors="replace"))
    return parser.hrefs


def index_file_endpoints(
    index_url: str, fetch: Fetch, projects: Sequence[str] = PROBE_PROJECTS
) -> list[str]:
    """Where an index serves its files (``host:port``): read from the links of one project's
    simple page (an index may serve files from a host other than its own)."""
    failures = []
    for project in projects:
        page = f"{index_url.rstrip('/')}/{project}/"
        try:
            final, content_type, body = fetch(page)
            links = simple_page_links(final, content_type, body)
        except (OSError, ValueError) as error:  # URLError and HTTPError are OSErrors
            failures.append(f"{page}: {error}")
            continue
        found = sorted({endpoint(link) for link in links if is_web_url(link)})
        if found:
            return found
        failures.append(f"{page}: no file links")
    raise MirrorError(f"cannot tell where {index_url} serves files: {'; '.join(failures)}")


# -- npm ---------------------------------------------------------------------------------------
def _registry(value: str, origin: str) -> str:
    if not is_web_url(value):
        raise MirrorError(
            f"{origin} gives {value!r}, not an http(s) registry: set {NPM_REGISTRY_VARIABLE}"
        )
    return value.strip().rstrip("/") + "/"


def npm_registry(*, env: Mapping[str, str] | None = None, npm: str | None = None) -> str:
    """The npm registry of the controller, ending in ``/``: ``CAMOPS_NPM_REGISTRY``, npm's
    ``npm_config_registry``, else ``npm config get registry`` (npm's default if unset)."""
    env = os.environ if env is None else env
    for name in (NPM_REGISTRY_VARIABLE, "npm_config_registry", "NPM_CONFIG_REGISTRY"):
        if env.get(name, "").strip():
            return _registry(env[name], name)
    program = npm or shutil.which("npm", path=env.get("PATH"))
    how = (
        f"set {NPM_REGISTRY_VARIABLE} to the npm registry to use (the province's own mirror), "
        "e.g. http://<mirror>/npm/"
    )
    if program is None:
        raise MirrorError(f"npm is not installed on the controller to say its registry: {how}")
    try:
        result = subprocess.run(  # noqa: S603
            [program, "config", "get", "registry"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env=dict(env),
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise MirrorError(f"'npm config get registry' failed ({error}): {how}") from error
    if result.returncode != 0:
        raise MirrorError(
            f"'npm config get registry' failed: {result.stderr.strip()[-300:]}; {how}"
        )
    return _registry(result.stdout.strip(), "'npm config get registry'")


# -- all of them -------------------------------------------------------------------------------
@dataclass(frozen=True)
class ControllerMirrors:
    debian: DebianMirrors
    python: PythonIndexes
    npm_registry: str


def controller_mirrors(suite: str) -> ControllerMirrors:
    """Every mirror the lab needs, from the controller's configuration (fails on the first
    one missing, naming the variable to set)."""
    return ControllerMirrors(debian_mirrors(suite), python_indexes(), npm_registry())
