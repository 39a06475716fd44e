"""Shared fixtures: copies of the committed inventories that a test may break on purpose; the
timing records of the CI run's table (scripts/timing.py, docs/testing.md)."""

from __future__ import annotations

import os
import shutil
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.helpers import INVENTORIES, InventoryCopy

#: What a running lab adds to inventories/lab (not in git): its vault and its connection file.
LAB_STATE = shutil.ignore_patterns("vault.yml", "lab-hosts.yml")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--reuse-estate",
        action="store_true",
        help="lab tier: skip the estate's rollouts when the lab is still exactly the estate the "
        "last run rolled out (same inputs and containers; docs/testing.md)",
    )


@pytest.fixture
def lab(tmp_path: Path) -> InventoryCopy:
    target = tmp_path / "lab"
    shutil.copytree(INVENTORIES / "lab", target, ignore=LAB_STATE)
    return InventoryCopy(target)


@pytest.fixture
def dong_thap(tmp_path: Path) -> InventoryCopy:
    target = tmp_path / "dong_thap"
    shutil.copytree(INVENTORIES / "dong_thap", target, ignore=LAB_STATE)
    return InventoryCopy(target)


# -- timing (scripts/timing.py table) ---------------------------------------------------------
# With CAMOPS_TIMING_TIER set (make test-fast, scripts/test-lab.sh), every test's duration goes
# to $CAMOPS_TIMING_DIR/tests-<tier>.tsv and, in the lab tier, one row per test module (and per
# timed session fixture, e.g. the estate's rollouts) to steps.tsv.

_DURATIONS: dict[str, float] = defaultdict(float)
_FIXTURES: list[tuple[str, float, str]] = []  # name, seconds, nodeid of the test that paid
_PENDING: list[tuple[str, float]] = []


@contextmanager
def timed_fixture(name: str) -> Iterator[None]:
    """Time a session fixture's set-up: the table shows it on a row of its own, and the test
    module that first asked for it is shown without it."""
    start = time.monotonic()
    yield
    _PENDING.append((name, time.monotonic() - start))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _DURATIONS[report.nodeid] += report.duration
    if report.when == "setup":
        while _PENDING:
            name, seconds = _PENDING.pop(0)
            _FIXTURES.append((name, seconds, report.nodeid))


def _timing_folder() -> Path:
    default = Path(__file__).resolve().parent.parent / ".timing"
    return Path(os.environ.get("CAMOPS_TIMING_DIR") or default)


def pytest_sessionfinish(session: pytest.Session) -> None:
    tier = os.environ.get("CAMOPS_TIMING_TIER")
    if not tier or hasattr(session.config, "workerinput") or not _DURATIONS:
        return
    folder = _timing_folder()
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / f"tests-{tier}.tsv").open("a", encoding="utf-8") as out:
        for nodeid, seconds in _DURATIONS.items():
            out.write(f"{nodeid}\t{seconds:.2f}\n")
    if tier != "lab":
        return
    modules: dict[str, float] = defaultdict(float)
    for nodeid, seconds in _DURATIONS.items():
        modules[nodeid.split("::", 1)[0]] += seconds
    with (folder / "steps.tsv").open("a", encoding="utf-8") as steps:
        for name, seconds, nodeid in _FIXTURES:
            modules[nodeid.split("::", 1)[0]] -= seconds
            steps.write(f"    {name} (fixture)\t{seconds:.1f}\t-\n")
        for module, seconds in modules.items():
            steps.write(f"    {module}\t{seconds:.1f}\t-\n")
