"""The lab's package proxy: apt-cacher-ng on the controller, on the lab WAN's gateway address.

Lab networks have no egress. Hosts get ``Acquire::http::Proxy`` (apt) and ``proxy`` (pip) set
to this address by the lab's init, so roles install software with their ordinary apt and pip
tasks, exactly as on real hosts. Debian packages (from the controller's Debian mirror) are
cached; HTTPS to the controller's configured Python indexes, the hosts they serve files from,
the controller's npm registry and an https Debian mirror passes through (CONNECT) without
caching, and to nothing else. Started and stopped by PID.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from ipaddress import IPv4Address
from pathlib import Path

from infra import mirrors

PORT = 3143  # not 3142: a system apt-cacher-ng may hold that one
FILES_HOSTS_VARIABLE = "CAMOPS_PYPI_FILES_HOSTS"
FILES_HOSTS_CACHE = "pypi-file-hosts.json"

Log = Callable[[str], None]


def pass_through_pattern(endpoints: Iterable[str]) -> str:
    """apt-cacher-ng's ``PassThroughPattern``: CONNECT to exactly these ``host:port``."""
    allowed = sorted(set(endpoints))
    if not allowed:
        return "^$"  # CONNECT to nothing
    return "^(" + "|".join(re.escape(item) for item in allowed) + ")$"


def _variable_endpoints(value: str) -> list[str]:
    """``CAMOPS_PYPI_FILES_HOSTS``: hosts, ``host:port`` or URLs, separated by spaces or commas
    (a bare host means HTTPS, port 443)."""
    found = []
    for item in value.replace(",", " ").split():
        url = item if "://" in item else f"https://{item}"
        if not mirrors.is_web_url(url):
            raise mirrors.MirrorError(f"{FILES_HOSTS_VARIABLE}: {item!r} is not a host")
        found.append(mirrors.endpoint(url))
    return found


def file_endpoints(
    indexes: mirrors.PythonIndexes,
    cache: Path,
    log: Log,
    *,
    env: Mapping[str, str] | None = None,
    fetch: mirrors.Fetch | None = None,
) -> list[str]:
    """Where pip on the lab's hosts downloads files from, besides the indexes themselves.

    An index may serve its files from another host than its own, and that host is nowhere in
    pip's configuration. ``CAMOPS_PYPI_FILES_HOSTS`` names them, for a controller that knows
    better. Otherwise each index is asked once for a project's simple page (as pip would: the
    controller's pip CA bundle and proxy) and the hosts its file links point to are kept in
    ``cache`` (the lab's state), for as long as the controller's indexes stay the same. An index
    that cannot be asked (the controller offline) gets its own host only, with a warning, and is
    asked again at the next ``lab up``.
    """
    env = os.environ if env is None else env
    if env.get(FILES_HOSTS_VARIABLE, "").strip():
        return _variable_endpoints(env[FILES_HOSTS_VARIABLE])
    try:
        known = json.loads(cache.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        known = {}
    if not isinstance(known, dict):
        known = {}
    fetch = fetch or mirrors.web_fetcher(indexes)
    learnt: dict[str, list[str]] = {}
    for url in indexes.urls:
        cached = known.get(url)
        if isinstance(cached, list) and all(isinstance(item, str) for item in cached):
            learnt[url] = cached
            continue
        try:
            learnt[url] = mirrors.index_file_endpoints(url, fetch)
        except mirrors.MirrorError as error:
            log(
                f"warning: {error}; the lab's proxy lets pip reach {mirrors.endpoint(url)} "
                f"only (set {FILES_HOSTS_VARIABLE} to the hosts it serves files from)"
            )
    if learnt != known:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(learnt, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return sorted({item for found in learnt.values() for item in found})


def tunnelled_endpoints(sources: mirrors.ControllerMirrors, cache: Path, log: Log) -> list[str]:
    """Every ``host:port`` the lab's hosts may CONNECT to through the proxy: the controller's
    Python indexes and their file hosts, its npm registry, and its Debian mirrors if https."""
    urls = [
        *sources.python.urls,
        sources.npm_registry,
        *(url for url in sources.debian.urls if url.startswith("https:")),
    ]
    endpoints = {mirrors.endpoint(url) for url in urls}
    endpoints.update(file_endpoints(sources.python, cache, log))
    return sorted(endpoints)


@dataclass(frozen=True)
class Proxy:
    address: IPv4Address
    state: Path  # folder for cache, logs and the PID file

    @property
    def url(self) -> str:
        return f"http://{self.address}:{PORT}"

    @property
    def pidfile(self) -> Path:
        return self.state / "run" / "apt-cacher-ng.pid"

    def pid(self) -> int | None:
        try:
            pid = int(self.pidfile.read_text(encoding="utf-8").strip())
        except (OSError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except OSError:
            return None
        cmdline = Path(f"/proc/{pid}/cmdline")
        if not cmdline.exists() or b"apt-cacher-ng" not in cmdline.read_bytes():
            return None
        return pid

    def listening(self) -> bool:
        try:
            with socket.create_connection((str(self.address), PORT), timeout=1):
                return True
        except OSError:
            return False

    def config(self, tunnelled: Iterable[str]) -> str:
        """Our own configuration, independent of the system's /etc/apt-cacher-ng: a plain
        caching proxy for the URLs hosts ask (no mirror remapping), CONNECT to ``tunnelled``."""
        cache, logs, run = self.state / "cache", self.state / "log", self.state / "run"
        return (
            f"CacheDir: {cache}\nLogDir: {logs}\nPort: {PORT}\nBindAddress: {self.address}\n"
            f"PidFile: {self.pidfile}\nSocketPath: {run / 'socket'}\n"
            f"PassThroughPattern: {pass_through_pattern(tunnelled)}\n"
            "ExThreshold: 4\nVerboseLog: 1\n"
        )

    def start(self, tunnelled: Iterable[str], timeout: float = 15) -> int:
        """Start apt-cacher-ng unless it runs already with the same configuration (it is
        restarted when the hosts it may CONNECT to changed); return its PID."""
        cache, logs, run = self.state / "cache", self.state / "log", self.state / "run"
        conf = self.state / "conf"
        text = self.config(tunnelled)
        running = self.pid()
        if running is not None:
            try:
                current = (conf / "acng.conf").read_text(encoding="utf-8")
            except OSError:
                current = ""
            if current == text:
                return running
            self.stop()
        uid, gid = _acng_ids()
        for folder in (self.state, cache, logs, run, conf):
            folder.mkdir(parents=True, exist_ok=True)
            os.chown(folder, uid, gid)
        (conf / "acng.conf").write_text(text, encoding="utf-8")
        # The daemon drops to its own service user, as Debian's init script runs it.
        subprocess.run(  # noqa: S603
            [
                "/usr/sbin/runuser",
                "-u",
                "apt-cacher-ng",
                "--",
                "/usr/sbin/apt-cacher-ng",
                "-c",
                str(conf),
                "ForeGround=0",
            ],
            check=True,
            capture_output=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid = self.pid()
            if pid is not None and self.listening():
                return pid
            time.sleep(0.2)
        raise RuntimeError(f"apt-cacher-ng did not start on {self.url}; see {logs}")

    def stop(self, timeout: float = 10) -> bool:
        """Stop the proxy this lab started (by its PID file). True if one was running."""
        pid = self.pid()
        if pid is None:
            self.pidfile.unlink(missing_ok=True)
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.pid() is not None:
            time.sleep(0.1)
        if self.pid() is not None:
            os.kill(pid, signal.SIGKILL)
        self.pidfile.unlink(missing_ok=True)
        return True


def _acng_ids() -> tuple[int, int]:
    """The apt-cacher-ng service user, created by the Debian package."""
    import pwd  # noqa: PLC0415

    entry = pwd.getpwnam("apt-cacher-ng")
    return (entry.pw_uid, entry.pw_gid)
