"""One nftables table as a desired state: the file the role rendered against the live kernel.

A rule deleted by hand leaves the file as it was, so "the file did not change" does not mean
"the firewall is as intended" (R9: nobody may alter transmission without authority). The
intended table is the file applied in a scratch network namespace and listed there; the live
one is listed the same way (``nft -s``: no counters, no handles), so the two compare line by
line and a drift shows as a diff.

Standard library only: shipped to modules by Ansible, tested without it.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass

Runner = Callable[[list[str]], tuple[int, str, str]]

#: The file applied in an empty network namespace, then listed (nothing reaches the host's).
SCRATCH = 'nft -f "$1" >/dev/null && nft -s list table "$2" "$3"'


class NftError(Exception):
    """nft refused something; the message says what."""


@dataclass(frozen=True)
class Comparison:
    intended: str
    live: str | None  # None: the table is not in the kernel

    @property
    def drift(self) -> bool:
        return self.live != self.intended

    def diff(self, label: str) -> list[str]:
        """Unified diff lines from the live table to the intended one."""
        return list(
            difflib.unified_diff(
                (self.live or "").splitlines(),
                self.intended.splitlines(),
                fromfile=f"{label} (live)",
                tofile=f"{label} (intended)",
                lineterm="",
            )
        )


def _normal(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip().splitlines()) + "\n"


def intended(run: Runner, path: str, family: str, table: str) -> str:
    rc, out, err = run(["unshare", "--net", "sh", "-c", SCRATCH, "sh", path, family, table])
    if rc != 0:
        raise NftError(f"{path}: nft could not apply it in a scratch namespace: {err.strip()}")
    return _normal(out)


def live(run: Runner, family: str, table: str) -> str | None:
    rc, out, err = run(["nft", "-s", "list", "table", family, table])
    if rc != 0:
        if "No such file or directory" in err or "does not exist" in err:
            return None
        raise NftError(f"nft list table {family} {table}: {err.strip()}")
    return _normal(out)


def compare(run: Runner, path: str, family: str, table: str) -> Comparison:
    return Comparison(intended(run, path, family, table), live(run, family, table))


def apply(run: Runner, path: str, family: str, table: str) -> Comparison:
    """Load the file (one transaction: it replaces only its own table) and check the result."""
    rc, _out, err = run(["nft", "-f", path])
    if rc != 0:
        raise NftError(f"nft -f {path}: {err.strip()}")
    result = compare(run, path, family, table)
    if result.drift:
        raise NftError(f"table {family} {table} still differs from {path} after loading it")
    return result
