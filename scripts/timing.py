#!/usr/bin/env python3
"""The CI run's timing table (docs/testing.md, "The timing table").

    scripts/timing.py run NAME -- COMMAND...   run COMMAND, record NAME's wall time and exit status
    scripts/timing.py record NAME SECONDS STATUS   record a step timed by its caller
    scripts/timing.py table                    print every recorded step, then the slowest tests

Steps go to ``$CAMOPS_TIMING_DIR/steps.tsv`` (default ``.timing/`` in the working tree), one
line each: name, seconds, exit status. The pytest plugin of ``tests/conftest.py`` adds a line
per lab test module and writes every test's duration to ``tests-<tier>.tsv`` beside it.
Standard library only: it times ``make setup`` too, before the virtualenv exists.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

SLOWEST = 15


def folder() -> Path:
    return Path(
        os.environ.get("CAMOPS_TIMING_DIR") or Path(__file__).resolve().parents[1] / ".timing"
    )


def record(name: str, seconds: float, status: int | str) -> None:
    target = folder()
    target.mkdir(parents=True, exist_ok=True)
    with (target / "steps.tsv").open("a", encoding="utf-8") as steps:
        steps.write(f"{name}\t{seconds:.1f}\t{status}\n")


def run(name: str, command: list[str]) -> int:
    start = time.monotonic()
    try:
        status = subprocess.call(command)  # noqa: S603  # the caller's own command
    except KeyboardInterrupt:
        status = 130
    record(name, time.monotonic() - start, status)
    return status


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)}:{seconds % 60:04.1f}"


def table() -> int:
    target = folder()
    steps_file = target / "steps.tsv"
    if not steps_file.exists():
        print(f"timing: nothing recorded in {target}")
        return 0
    rows = [line.split("\t") for line in steps_file.read_text("utf-8").splitlines() if line]
    # A step's nested rows (indented) are written before it, when they end: put them under it.
    pending: list[tuple[int, list[str], list[object]]] = []
    for row in rows:
        level = (len(row[0]) - len(row[0].lstrip(" "))) // 2
        children: list[object] = []
        while pending and pending[-1][0] > level:
            children.insert(0, pending.pop())
        pending.append((level, row, children))
    width = max(len(name) for name, *_ in rows) + 2
    print()
    print("== Timing (wall clock; an indented row is part of the row above it)")
    print(f"{'step':<{width}} {'m:ss':>8} {'seconds':>9}  status")

    def show(node: tuple[int, list[str], list[object]]) -> None:
        _, (name, seconds, status), children = node
        print(f"{name:<{width}} {_minutes(float(seconds)):>8} {float(seconds):>9.1f}  {status}")
        for child in children:
            show(child)  # type: ignore[arg-type]

    total = 0.0
    for node in pending:
        show(node)
        total += float(node[1][1]) if node[0] == 0 else 0.0
    print(f"{'total (top-level rows)':<{width}} {_minutes(total):>8} {total:>9.1f}")
    tests: list[tuple[float, str, str]] = []
    for tier_file in sorted(target.glob("tests-*.tsv")):
        tier = tier_file.stem.removeprefix("tests-")
        for line in tier_file.read_text("utf-8").splitlines():
            nodeid, took = line.rsplit("\t", 1)
            tests.append((float(took), tier, nodeid))
    if tests:
        tests.sort(reverse=True)
        print()
        print(f"== The {SLOWEST} slowest tests (setup + call + teardown; session fixtures count")
        print("   in the first test that asks for them)")
        for took_s, tier, nodeid in tests[:SLOWEST]:
            print(f"{took_s:>8.1f} s  {tier:<5} {nodeid}")
    return 0


def main(argv: list[str]) -> int:
    if len(argv) >= 4 and argv[0] == "run" and argv[2] == "--":
        return run(argv[1], argv[3:])
    if len(argv) == 4 and argv[0] == "record":
        record(argv[1], float(argv[2]), argv[3])
        return 0
    if argv == ["table"]:
        return table()
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
