"""The lab's package proxy: apt-cacher-ng on the controller, on the lab WAN's gateway address.

Lab networks have no egress. Hosts get ``Acquire::http::Proxy`` (apt) and ``proxy`` (pip) set
to this address by the lab's init, so roles install software with their ordinary apt and pip
tasks, exactly as on real hosts. Debian packages are cached; HTTPS to PyPI passes through
(CONNECT) without caching. Started and stopped by PID.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from ipaddress import IPv4Address
from pathlib import Path

PORT = 3143  # not 3142: a system apt-cacher-ng may hold that one
TUNNELLED_HOSTS = r"^(pypi\.org|files\.pythonhosted\.org|registry\.npmjs\.org):443$"


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

    def start(self, timeout: float = 15) -> int:
        """Start apt-cacher-ng unless it runs already; return its PID."""
        running = self.pid()
        if running is not None:
            return running
        cache, logs, run = self.state / "cache", self.state / "log", self.state / "run"
        conf = self.state / "conf"
        uid, gid = _acng_ids()
        for folder in (self.state, cache, logs, run, conf):
            folder.mkdir(parents=True, exist_ok=True)
            os.chown(folder, uid, gid)
        # Our own configuration, independent of the system's /etc/apt-cacher-ng: a plain
        # caching proxy for the URLs hosts ask (no mirror remapping).
        (conf / "acng.conf").write_text(
            f"CacheDir: {cache}\nLogDir: {logs}\nPort: {PORT}\nBindAddress: {self.address}\n"
            f"PidFile: {self.pidfile}\nSocketPath: {run / 'socket'}\n"
            f"PassThroughPattern: {TUNNELLED_HOSTS}\nExThreshold: 4\nVerboseLog: 1\n",
            encoding="utf-8",
        )
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
