"""``camops lab verify``: is every camera recorded at its NVR, at central and in the WORM store?

Reads what the hosts hold (over the lab's SSH) and what the store holds (with the auditor's
read-only keys from the lab's vault), waiting up to a deadline for the first segments after a
fresh rollout. The verification summary of ``make demo``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from camops_lab.lab import Lab
from infra import vault
from infra.model import CentralRole
from infra.placement import recorder_jobs

RECORDINGS = "/var/lib/camops/recordings"
BUCKET = "recordings"


@dataclass
class CameraCheck:
    facility: str
    camera: str
    nvr_segments: int = 0
    nvr_newest: str = ""
    central_segments: int = 0
    stored_objects: int = 0
    connected: bool = True  # registered by the site rollout (conforming, R2)

    @property
    def ok(self) -> bool:
        """Recorded everywhere; a camera the rollout left unconnected is not counted as a fault
        here (the conformance report names why)."""
        if not self.connected:
            return True
        return self.nvr_segments > 0 and self.central_segments > 0 and self.stored_objects > 0


def _sealed(lab: Lab, hostname: str) -> dict[str, tuple[int, str]]:
    """Camera → (sealed segments, newest start) on one recorder host."""
    import subprocess  # noqa: PLC0415

    script = (
        f"for d in {RECORDINGS}/*/; do c=$(basename $d); "
        f"n=$(cat $d/manifest-*.jsonl 2>/dev/null | wc -l); "
        f'l=$(ls $d | grep -E "[0-9]{{8}}T[0-9]{{6}}Z" | tail -1); echo "$c $n $l"; done'
    )
    run = subprocess.run(  # noqa: S603
        [*lab.shell_args(lab.plan.host(hostname)), f"sudo sh -c '{script}'"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    found: dict[str, tuple[int, str]] = {}
    for line in run.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[1].isdigit():
            found[parts[0]] = (int(parts[1]), parts[2] if len(parts) > 2 else "")
    return found


def _registered(lab: Lab, hostname: str) -> set[str]:
    """The cameras that site rollouts registered with a central recorder (connected ones)."""
    import json  # noqa: PLC0415
    import subprocess  # noqa: PLC0415

    run = subprocess.run(  # noqa: S603
        [
            *lab.shell_args(lab.plan.host(hostname)),
            "sudo -n sh -c 'cat /etc/camops/recorder/jobs/*.json' 2>/dev/null || true",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    found: set[str] = set()
    decoder = json.JSONDecoder()
    text, index = run.stdout, 0
    while index < len(text):
        if text[index].isspace():
            index += 1
            continue
        document, index = decoder.raw_decode(text, index)
        found |= {camera["id"] for camera in document}
    return found


def _store(lab: Lab) -> Any:
    import boto3  # noqa: PLC0415
    from botocore.config import Config  # noqa: PLC0415

    secrets = vault.read(lab.vault_file, lab.vault_password_file)
    host = next(
        h for h in lab.inventory.province.central.hosts if CentralRole.OBJECT_STORE in h.roles
    )
    return boto3.client(
        "s3",
        endpoint_url=f"http://{host.ip}:8333",
        aws_access_key_id=secrets["vault_object_store_auditor_access_key"],
        aws_secret_access_key=secrets["vault_object_store_auditor_secret_key"],
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}),
    )


def _stored(client: Any, facility: str, camera: str) -> int:
    from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

    try:
        page = client.list_objects_v2(Bucket=BUCKET, Prefix=f"{facility}/{camera}/")
    except (BotoCoreError, ClientError):
        return 0
    return int(page.get("KeyCount", 0))


def check(lab: Lab, sites: list[str]) -> list[CameraCheck]:
    rows: dict[str, CameraCheck] = {}
    facilities = [f for f in lab.inventory.facilities if not sites or f.id in sites]
    for facility in facilities:
        on_nvr = _sealed(lab, facility.nvr.hostname)
        for camera in facility.cameras:
            row = rows[camera.id] = CameraCheck(facility.id, camera.id)
            row.nvr_segments, row.nvr_newest = on_nvr.get(camera.id, (0, ""))
    for node in recorder_jobs(lab.inventory):
        on_central = _sealed(lab, node.hostname)
        registered = _registered(lab, node.hostname)
        for _facility, camera in node.cameras:
            if camera.id in rows:
                rows[camera.id].central_segments = on_central.get(camera.id, (0, ""))[0]
                rows[camera.id].connected = camera.id in registered
    client = _store(lab)
    for row in rows.values():
        row.stored_objects = _stored(client, row.facility, row.camera)
    return list(rows.values())


def wait(lab: Lab, sites: list[str], timeout: float) -> list[CameraCheck]:
    """Check until every camera is recorded everywhere or the deadline passes."""
    deadline = time.monotonic() + timeout
    while True:
        rows = check(lab, sites)
        if all(row.ok for row in rows) or time.monotonic() >= deadline:
            return rows
        time.sleep(10)


def now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@dataclass
class ViewerCheck:
    email: str
    role: str
    expected: list[str]  # facilities R7 grants (infra/access.py)
    seen: list[str]  # facilities the platform shows after login
    live: dict[str, int]  # camera → status of its live playlist through nginx

    @property
    def ok(self) -> bool:
        return sorted(self.expected) == sorted(self.seen) and all(
            status == 200 for status in self.live.values()
        )


def platform_url(lab: Lab) -> str:
    host = next(h for h in lab.inventory.province.central.hosts if CentralRole.PLATFORM in h.roles)
    return f"https://{host.ip}"


def viewers(lab: Lab) -> list[ViewerCheck]:
    """Each official with video rights logs in with the vault's first password and fetches one
    live playlist per visible facility through nginx: the platform must show exactly what the
    access matrix grants."""
    from infra import access  # noqa: PLC0415
    from infra.platform_client import PlatformClient, PlatformError, ssl_context  # noqa: PLC0415

    secrets = vault.read(lab.vault_file, lab.vault_password_file)
    first = secrets.get(vault.INITIAL_PASSWORDS, {})
    context = ssl_context(lab.state / "ca" / "ca.pem")
    checks = []
    for account in lab.inventory.accounts:
        expected = [f.id for f in access.visible_facilities(lab.inventory, account)]
        if not expected or account.email.lower() not in first:
            continue
        check = ViewerCheck(account.email, account.role.value, expected, [], {})
        with PlatformClient(platform_url(lab), context=context, timeout=15) as client:
            try:
                client.log_in(account.email, first[account.email.lower()])
            except PlatformError as error:
                if error.status is None:
                    raise  # no answer: the caller reports the platform's state
            else:
                me = client.get("/api/v1/me")
                check.seen = [f["id"] for f in me["facilities"]]
                for facility in me["facilities"]:
                    if facility["cameras"]:
                        camera = facility["cameras"][0]["id"]
                        answer = client.request("GET", f"/live/{camera}/index.m3u8")
                        check.live[camera] = answer.status
        checks.append(check)
    return checks
