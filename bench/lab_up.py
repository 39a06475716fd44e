#!/usr/bin/env python3
"""Benchmark: how long `camops lab up` takes from cached images, and a second (no-op) `up`.

Prints figures; asserts nothing. Target (issue [2]): the default lab up in <= 30 s from cached
images. Usage: python bench/lab_up.py [--rounds N] [INVENTORY]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

CAMOPS = [sys.executable, "-m", "infra.cli"]


def timed(*args: str) -> tuple[float, str]:
    start = time.monotonic()
    run = subprocess.run([*CAMOPS, *args], capture_output=True, text=True, check=True)  # noqa: S603
    return time.monotonic() - start, run.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("inventory", nargs="?", default="inventories/lab")
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    timed("lab", "up", options.inventory)  # images built and cached
    cold, noop = [], []
    for round_no in range(1, options.rounds + 1):
        timed("lab", "down", options.inventory)
        seconds, out = timed("lab", "up", options.inventory)
        cold.append(seconds)
        phases = next(line for line in out.splitlines() if line.startswith("lab up in"))
        print(f"round {round_no}: up from cached images {seconds:.1f}s — {phases}")
        seconds, _ = timed("lab", "up", options.inventory)
        noop.append(seconds)
        print(f"round {round_no}: second up (no-op) {seconds:.1f}s")
    print(
        f"up from cached images: median {statistics.median(cold):.1f}s, max {max(cold):.1f}s "
        f"(target 30s)"
    )
    print(
        f"second up: median {statistics.median(noop):.1f}s; "
        f"ratio no-op/up {statistics.median(noop) / statistics.median(cold):.2f}"
    )


if __name__ == "__main__":
    main()
