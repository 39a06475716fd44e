"""Lab tier: real podman hosts with systemd, real networks, simulated cameras.

The session brings the lab up with `camops lab up` (a no-op when it is up already).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infra.lab import lab as lab_module
from infra.lab.plan import HostKind, LabHost
from tests.conftest import timed_fixture
from tests.helpers import INVENTORIES, ROOT


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under tests/lab/ is in the lab tier."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.lab)


CAMOPS = [sys.executable, "-m", "infra.cli"]


def camops(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CAMOPS, *args], capture_output=True, text=True, cwd=ROOT, check=False, timeout=900
    )


@pytest.fixture(scope="session")
def lab() -> lab_module.Lab:
    run = camops("lab", "up", str(INVENTORIES / "lab"))
    assert run.returncode == 0, run.stdout + run.stderr
    return lab_module.open_lab(str(INVENTORIES / "lab"), ROOT / ".lab")


def ssh(lab: lab_module.Lab, host: LabHost, command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*lab.shell_args(host), command], capture_output=True, text=True, check=False, timeout=60
    )


CAMERA_TOOLS_PYTHON = "/opt/camops/camera-tools/bin/python"
#: The remote side of camera_tools_script: the first line of its input is the JSON document
#: given to the script (as GIVEN), the rest the script.
_RUN_GIVEN = (
    "import json, sys; given = json.loads(sys.stdin.readline()); "
    "exec(compile(sys.stdin.read(), 'camops-test', 'exec'), {'GIVEN': given})"
)


def camera_tools_script(
    lab: lab_module.Lab, nvr: str, script: str, given: dict[str, Any]
) -> subprocess.CompletedProcess[str]:
    """Run a Python ``script`` on an NVR with the camera tools' interpreter (onvif-zeep-async):
    the camera LAN is reached only from there. ``given`` (credentials too) reaches the script as
    ``GIVEN`` through standard input, never on a command line or in a file."""
    return subprocess.run(
        [
            *lab.shell_args(lab.plan.host(nvr)),
            f'/opt/camops/camera-tools/bin/python -c "{_RUN_GIVEN}"',
        ],
        input=json.dumps(given) + "\n" + script,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def cameras(lab: lab_module.Lab) -> list[LabHost]:
    return [host for host in lab.plan.hosts if host.kind is HostKind.CAMERA]


def rtsp_url(host: LabHost, user: str, password: str) -> str:
    return f"rtsp://{user}:{password}@{host.address}:554/stream1"


def ffprobe(url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-rtsp_transport",
            "tcp",
            "-show_entries",
            "stream=codec_name,width,height,r_frame_rate",
            "-of",
            "json",
            url,
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )


def stream(url: str) -> dict[str, object]:
    run = ffprobe(url)
    assert run.returncode == 0, run.stderr
    return dict(json.loads(run.stdout)["streams"][0])


@pytest.fixture
def factory_reset(lab: lab_module.Lab) -> Iterator[None]:
    """Return every camera to its factory state after the test."""
    yield
    for host in cameras(lab):
        assert ssh(lab, host, "sudo camsim factory-reset").returncode == 0


def lab_state_dir() -> Path:
    return ROOT / ".lab"


#: Short recorder timings so that the lab tests see many closed segments within minutes.
FAST = [
    "-e",
    "recorder_segment_seconds=10",
    "-e",
    "recorder_seal_interval=5s",
    "-e",
    "recorder_upload_interval=10s",
]

#: Every playbook run of the lab tests, for the secrets-in-logs check.
PLAYBOOK_OUTPUT: list[str] = []
#: The facilities the estate rolls out, and each first rollout's run (timings, recaps).
SITES = ("lab_north_school", "lab_south_barracks")
ROLLOUTS: dict[str, subprocess.CompletedProcess[str]] = {}


def playbook(lab: lab_module.Lab, name: str, *extra: str) -> subprocess.CompletedProcess[str]:
    run = subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-playbook"),
            f"playbooks/{name}",
            "-i",
            lab.inventory.path,
            *extra,
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=lab_module.ansible_env(lab),
        check=False,
        timeout=1200,
    )
    PLAYBOOK_OUTPUT.append(run.stdout + run.stderr)
    return run


def recap(run: subprocess.CompletedProcess[str]) -> dict[str, dict[str, int]]:
    """Host → counters of the PLAY RECAP."""
    hosts: dict[str, dict[str, int]] = {}
    for line in run.stdout[run.stdout.rfind("PLAY RECAP") :].splitlines()[1:]:
        if ":" in line:
            host, counters = line.split(":", 1)
            hosts[host.strip()] = {
                key: int(value) for key, value in (part.split("=") for part in counters.split())
            }
    return hosts


@pytest.fixture(scope="session")
def estate(lab: lab_module.Lab) -> lab_module.Lab:
    """The lab rolled out: the central side (object store, recorders, platform, WireGuard hub),
    the accounts, then each facility with the one rollout playbook (cameras start at their
    factory credentials; south_cam04 is deliberately outdated and stays unconnected)."""
    with timed_fixture("estate: lab cameras, central, accounts, each facility's rollout"):
        return _roll_out(lab)


def _roll_out(lab: lab_module.Lab) -> lab_module.Lab:
    cams = playbook(
        lab,
        "lab_cameras.yml",
        "--skip-tags",
        "validate_inventory",
        "-e",
        "lab_camera_install_packages=false",
    )
    assert cams.returncode == 0, cams.stdout[-3000:]
    for name in ("central.yml", "accounts.yml"):
        run = playbook(lab, name, *FAST)
        assert run.returncode == 0, f"{name}: " + run.stdout[-5000:] + run.stderr[-2000:]
    for site in SITES:
        run = playbook(lab, "site_rollout.yml", *FAST, "-e", f"site={site}")
        ROLLOUTS[site] = run
        assert run.returncode == 0, f"rollout {site}: " + run.stdout[-6000:] + run.stderr[-2000:]
    return lab
