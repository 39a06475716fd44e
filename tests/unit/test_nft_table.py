"""camops_nft (module_utils): a live nftables table against its file, with the real nft in a
throw-away network namespace (root, as CI runs): equal after loading, a rule deleted by hand is
drift with its line in the diff, loading the file restores it, another table is left alone."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]

TABLE = """\
table inet camops_test {}
delete table inet camops_test
table inet camops_test {
	chain forward {
		type filter hook forward priority filter; policy drop;
		ct state established,related accept
		iifname "lan0" ip saddr 10.79.1.2 oifname "wg0" counter accept comment "the NVR to central"
		iifname "wg0" oifname "lan0" tcp dport 554 counter accept comment "central opens RTSP"
	}
}
"""


def _load() -> Any:
    spec = importlib.util.spec_from_file_location(
        "camops_nft", ROOT / "module_utils" / "camops_nft.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


nft = _load()


@pytest.fixture
def netns() -> Iterator[str]:
    if os.geteuid() != 0:
        pytest.skip("needs root (network namespaces), as CI runs")
    name = f"camops-nft-test-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def runner(name: str) -> Any:
    def run(argv: list[str]) -> tuple[int, str, str]:
        done = subprocess.run(
            ["ip", "netns", "exec", name, *argv], capture_output=True, text=True, check=False
        )
        return done.returncode, done.stdout, done.stderr

    return run


def test_a_rule_deleted_by_hand_is_drift_and_loading_restores_it(
    netns: str, tmp_path: Path
) -> None:
    run = runner(netns)
    path = tmp_path / "20-test.nft"
    path.write_text(TABLE, encoding="utf-8")
    first = nft.compare(run, str(path), "inet", "camops_test")
    assert first.live is None and first.drift
    assert "central opens RTSP" in first.intended
    assert "counter packets" not in first.intended  # listed stateless
    nft.apply(run, str(path), "inet", "camops_test")
    assert not nft.compare(run, str(path), "inet", "camops_test").drift

    # Traffic counted, another table of someone else: still no drift.
    assert run(["nft", "add", "table", "ip", "other"])[0] == 0
    assert not nft.compare(run, str(path), "inet", "camops_test").drift

    # A rule deleted by hand (by its handle, as one would).
    listing = run(["nft", "-a", "list", "chain", "inet", "camops_test", "forward"])[1]
    handle = next(line.rsplit("# handle ", 1)[1] for line in listing.splitlines() if "RTSP" in line)
    deleted = run(["nft", "delete", "rule", "inet", "camops_test", "forward", "handle", handle])
    assert deleted[0] == 0, deleted[2]
    drift = nft.compare(run, str(path), "inet", "camops_test")
    assert drift.drift
    changed = [line for line in drift.diff("table inet camops_test") if line[:1] in "+-"]
    rule = 'iifname "wg0" oifname "lan0" tcp dport 554 counter accept comment "central opens RTSP"'
    assert changed[2:] == [f"+\t\t{rule}"]
    nft.apply(run, str(path), "inet", "camops_test")
    assert not nft.compare(run, str(path), "inet", "camops_test").drift
    assert run(["nft", "list", "table", "ip", "other"])[0] == 0  # left alone


def test_a_file_nft_refuses_is_an_error_naming_it(netns: str, tmp_path: Path) -> None:
    path = tmp_path / "bad.nft"
    path.write_text("table inet camops_test { chain x { nonsense } }\n", encoding="utf-8")
    with pytest.raises(nft.NftError, match=r"bad\.nft: nft could not apply it"):
        nft.compare(runner(netns), str(path), "inet", "camops_test")
