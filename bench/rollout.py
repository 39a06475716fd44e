#!/usr/bin/env python3
"""Benchmark: a fresh 3-camera facility rollout, its idempotent re-run and its --check --diff.

"Fresh" means: the facility is deregistered centrally (site_deregister.yml: hub peer, central
recorder jobs, platform catalog), and its router, NVR and cameras are new containers (cameras at
their factory credentials and encoder), as on the day a facility is mobilised; the central side
stays converged (central.yml and accounts.yml run first, not timed). Packages come from the
lab's package cache (a warm mirror, as a province's rollout has).

Each round also times the re-run with Ansible's own ``linear`` strategy (no Mitogen) as the
baseline of the same run, and prints the ratio; and the re-run again with the lab's other
facilities paused (their simulated cameras encode H.264 and their recorders run on the same two
cores as everything else; a real facility's router, NVR and cameras are hardware of their own).
Every figure comes with the 1-minute load average when it started.

Prints figures with the changed counts; asserts nothing. Targets (issue [5]): fresh <= 90 s,
re-run <= 20 s with changed=0. Usage: python bench/rollout.py [--site ID] [--rounds N] [INVENTORY]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from infra import playbook as runner

ROOT = Path(__file__).resolve().parents[1]
CAMOPS = [sys.executable, "-m", "infra.cli"]

LOGS: Path | None = None  # --logs: each playbook's output, for a closer look


def playbook(
    inventory: str, name: str, *extra: str, strategy: str | None = None
) -> tuple[float, int, str]:
    """Seconds, total changed of the PLAY RECAP, output; exits on failure. ``strategy``
    overrides ansible.cfg's (``linear``: Ansible's own, without Mitogen)."""
    start = time.monotonic()
    run = runner.run(
        name,
        inventory=inventory,
        args=extra,
        vault_password_file=ROOT / ".lab" / "vault-pass",
        env_overrides={"ANSIBLE_STRATEGY": strategy} if strategy else None,
        cwd=ROOT,
    )
    seconds = time.monotonic() - start
    if LOGS is not None:
        LOGS.mkdir(parents=True, exist_ok=True)
        flags = [a.strip("-") for a in extra if a.startswith("--")]
        label = "-".join([name.removesuffix(".yml"), *flags])
        log = LOGS / f"{time.strftime('%H%M%S')}-{label}-{strategy or 'default'}.log"
        log.write_text(run.stdout + run.stderr, encoding="utf-8")
    if run.returncode != 0:
        sys.exit(f"{name} {' '.join(extra)} failed:\n{run.stdout[-4000:]}\n{run.stderr[-2000:]}")
    recap = run.stdout[run.stdout.rfind("PLAY RECAP") :]
    changed = sum(int(n) for n in re.findall(r"changed=(\d+)", recap))
    return seconds, changed, run.stdout


def camops(*args: str) -> None:
    subprocess.run([*CAMOPS, *args], check=True, cwd=ROOT, capture_output=True)  # noqa: S603


def fresh_site(inventory: str, site: str) -> None:
    """Deregister the facility centrally and give it new hosts at factory state."""
    sys.path.insert(0, str(ROOT))
    from camops_lab import lab as lab_module  # noqa: PLC0415

    playbook(inventory, "site_deregister.yml", "-e", f"site={site}")
    lab = lab_module.open_lab(inventory)
    containers = [host.container for host in lab.plan.hosts if host.facility == site]
    subprocess.run(["podman", "rm", "--force", "--time", "2", *containers], check=True)  # noqa: S603, S607
    camops("lab", "up", inventory)  # new containers; camera simulators at factory state


def _lab(inventory: str) -> object:
    sys.path.insert(0, str(ROOT))
    from camops_lab import lab as lab_module  # noqa: PLC0415

    return lab_module.open_lab(inventory)


@contextlib.contextmanager
def others_paused(inventory: str, site: str) -> Iterator[None]:
    """The other facilities' containers (router, NVR, cameras) paused, then resumed."""
    lab: Any = _lab(inventory)
    others = [h.container for h in lab.plan.hosts if h.facility and h.facility != site]
    subprocess.run(["podman", "pause", *others], check=True, capture_output=True)  # noqa: S603, S607
    try:
        yield
    finally:
        subprocess.run(["podman", "unpause", *others], check=True, capture_output=True)  # noqa: S603, S607


def load() -> str:
    return f"load {os.getloadavg()[0]:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("inventory", nargs="?", default="inventories/lab")
    parser.add_argument("--site", default="lab_north_school")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--logs",
        type=Path,
        help="keep each playbook's output here (with ansible.posix's "
        "profile_tasks: ANSIBLE_CALLBACKS_ENABLED=ansible.posix.profile_tasks)",
    )
    options = parser.parse_args()
    global LOGS  # noqa: PLW0603  # one run, one folder
    LOGS = options.logs
    inventory, site = options.inventory, options.site
    camops("lab", "up", inventory)
    for name in ("central.yml", "accounts.yml"):
        playbook(inventory, name)
    fresh, rerun, vanilla, alone = [], [], [], []
    rollout = ("site_rollout.yml", "-e", f"site={site}")
    for round_no in range(1, options.rounds + 1):
        fresh_site(inventory, site)
        busy = load()
        seconds, changed, _ = playbook(inventory, *rollout)
        fresh.append(seconds)
        print(
            f"round {round_no}: fresh rollout of {site} {seconds:.1f}s (changed={changed}, {busy})"
        )
        busy = load()
        seconds, changed, _ = playbook(inventory, *rollout)
        rerun.append(seconds)
        print(f"round {round_no}: re-run {seconds:.1f}s (changed={changed}, {busy})")
        busy = load()
        seconds, changed, _ = playbook(inventory, *rollout, strategy="linear")
        vanilla.append(seconds)
        print(
            f"round {round_no}: re-run without Mitogen {seconds:.1f}s (changed={changed}, {busy})"
        )
        busy = load()
        seconds, changed, _ = playbook(inventory, *rollout, "--check", "--diff")
        print(f"round {round_no}: --check --diff {seconds:.1f}s (changed={changed}, {busy})")
        with others_paused(inventory, site):
            time.sleep(20)  # the load average settles a little
            busy = load()
            seconds, changed, _ = playbook(inventory, *rollout)
        alone.append(seconds)
        print(
            f"round {round_no}: re-run, other facilities paused {seconds:.1f}s "
            f"(changed={changed}, {busy})"
        )
    print(
        f"fresh rollout: median {statistics.median(fresh):.1f}s, max {max(fresh):.1f}s (target 90s)"
    )
    print(
        f"re-run: median {statistics.median(rerun):.1f}s, max {max(rerun):.1f}s (target 20s); "
        f"ratio re-run/fresh {statistics.median(rerun) / statistics.median(fresh):.2f}"
    )
    print(
        f"re-run without Mitogen (baseline): median {statistics.median(vanilla):.1f}s; "
        f"ratio with/without {statistics.median(rerun) / statistics.median(vanilla):.2f}"
    )
    ratio = statistics.median(alone) / statistics.median(rerun)
    print(
        f"re-run with the other facilities paused: median {statistics.median(alone):.1f}s "
        f"(target 20s); ratio to the whole lab {ratio:.2f}"
    )


if __name__ == "__main__":
    main()
