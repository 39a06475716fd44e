"""Lab tier: real podman hosts with systemd, real networks, simulated cameras.

The session brings the lab up with `camops lab up` (a no-op when it is up already).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from camops_lab import lab as lab_module
from camops_lab.plan import HostKind, LabHost
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


def playbook(
    lab: lab_module.Lab, name: str, *extra: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
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
        env={**lab_module.ansible_env(lab), **(env or {})},
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


#: The estate's record: a digest of what it was rolled out from and each first rollout's output,
#: so that ``pytest --reuse-estate`` (docs/testing.md) can skip the rollouts on a lab that is
#: still exactly that estate.
ESTATE_RECORD = ROOT / ".lab" / "estate"
#: What the rollouts read: a change in any of these files makes a new estate.
ESTATE_INPUTS = (
    "ansible.cfg",
    "infra",
    "inventories/lab",
    "library",
    "module_utils",
    "playbooks",
    "plugins",
    "roles",
    "services/platform/src",
)


def estate_digest(lab: lab_module.Lab) -> str:
    """The estate's inputs by content (tracked and untracked files), the recorder timings, and
    the lab's containers (a lab brought down and up again is a new one)."""
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", *ESTATE_INPUTS],
        capture_output=True, text=True, cwd=ROOT, check=True,
    ).stdout.split()  # fmt: skip
    containers = subprocess.run(
        ["podman", "ps", "--filter", f"label=camops.lab={lab.inventory.name}", "--format",
         "{{.ID}}"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    sha = hashlib.sha256(" ".join([*FAST, *sorted(containers)]).encode())
    for name in sorted(set(files)):
        path = ROOT / name
        if path.is_file():
            sha.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return sha.hexdigest()


def estate_spoiled() -> None:
    """Called by a test that leaves the estate changed (a facility removed, credentials handed
    over): the next ``--reuse-estate`` rolls out again."""
    (ESTATE_RECORD / "digest").unlink(missing_ok=True)


def _reused(lab: lab_module.Lab, digest: str) -> bool:
    record = ESTATE_RECORD / "digest"
    if not (record.exists() and record.read_text(encoding="utf-8") == digest):
        return False
    for site in SITES:
        saved = json.loads((ESTATE_RECORD / f"rollout-{site}.json").read_text(encoding="utf-8"))
        ROLLOUTS[site] = subprocess.CompletedProcess(
            saved["args"], saved["returncode"], saved["stdout"], saved["stderr"]
        )
        PLAYBOOK_OUTPUT.append(saved["stdout"] + saved["stderr"])
    return True


@pytest.fixture(scope="session")
def estate(lab: lab_module.Lab, request: pytest.FixtureRequest) -> lab_module.Lab:
    """The lab rolled out: the central side (object store, recorders, platform, WireGuard hub),
    the accounts, then each facility with the one rollout playbook (cameras start at their
    factory credentials, as `camops lab up` installed them; south_cam04 is deliberately
    outdated and stays unconnected). With ``--reuse-estate``, a lab still exactly as the last
    estate left it (same inputs, same containers, nothing spoiled) is used as it is."""
    with timed_fixture("estate: central, accounts, each facility's rollout"):
        digest = estate_digest(lab)
        if request.config.getoption("reuse_estate") and _reused(lab, digest):
            print("estate: reused (--reuse-estate; same inputs and containers)")
            return lab
        estate_spoiled()
        _roll_out(lab)
        ESTATE_RECORD.mkdir(parents=True, exist_ok=True)
        for site, run in ROLLOUTS.items():
            saved = {
                "args": run.args,
                "returncode": run.returncode,
                "stdout": run.stdout,
                "stderr": run.stderr,
            }
            (ESTATE_RECORD / f"rollout-{site}.json").write_text(json.dumps(saved), "utf-8")
        (ESTATE_RECORD / "digest").write_text(digest, encoding="utf-8")
        return lab


#: The estate's playbooks print each task's time (in .lab/estate/<playbook>.log): where a
#: fresh rollout spends its minutes.
PROFILED = {"ANSIBLE_CALLBACKS_ENABLED": "ansible.posix.profile_tasks"}


def _roll_out(lab: lab_module.Lab) -> None:
    ESTATE_RECORD.mkdir(parents=True, exist_ok=True)

    def keep(name: str, run: subprocess.CompletedProcess[str]) -> None:
        (ESTATE_RECORD / f"{name}.log").write_text(run.stdout + run.stderr, encoding="utf-8")

    for name in ("central.yml", "accounts.yml"):
        run = playbook(lab, name, *FAST, env=PROFILED)
        keep(name, run)
        assert run.returncode == 0, f"{name}: " + run.stdout[-5000:] + run.stderr[-2000:]
    for site in SITES:
        run = playbook(lab, "site_rollout.yml", *FAST, "-e", f"site={site}", env=PROFILED)
        keep(f"site_rollout-{site}", run)
        ROLLOUTS[site] = run
        assert run.returncode == 0, f"rollout {site}: " + run.stdout[-6000:] + run.stderr[-2000:]


def s3(lab: lab_module.Lab, identity: str) -> Any:
    """The lab's WORM store as one of its identities (keys from the lab's vault)."""
    import boto3  # noqa: PLC0415
    from botocore.config import Config  # noqa: PLC0415

    from infra import vault  # noqa: PLC0415

    keys = vault.read(lab.vault_file, lab.vault_password_file)
    return boto3.client(
        "s3",
        endpoint_url="http://10.77.0.10:8333",
        aws_access_key_id=keys[f"vault_object_store_{identity}_access_key"],
        aws_secret_access_key=keys[f"vault_object_store_{identity}_secret_key"],
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}),
    )
