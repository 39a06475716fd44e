"""Recording in the lab (issue [3]): NVRs and the central recorder record the lab cameras,
the WORM store keeps what central uploads, and the audits prove it.

The plays run once for the module with 10-second segments (the default is 60) so that the
tests see many closed segments within minutes.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from camops_lab import lab as lab_module
from camops_lab.plan import LabHost
from infra import vault
from tests.helpers import ROOT, assert_no_secret
from tests.lab.conftest import FAST, camops, playbook, recap, s3, ssh

#: The lab's deliberately outdated camera: the rollout leaves it unconnected (R2).
OUTDATED = "south_cam04"
RECORDINGS = "/var/lib/camops/recordings"
BUCKET = "recordings"


@pytest.fixture(scope="module")
def recording(estate: lab_module.Lab) -> lab_module.Lab:
    return estate


def host(lab: lab_module.Lab, name: str) -> LabHost:
    return lab.plan.host(name)


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(2)


def sealed(lab: lab_module.Lab, where: str, camera: str) -> list[dict[str, Any]]:
    run = ssh(lab, host(lab, where), f"sudo sh -c 'cat {RECORDINGS}/{camera}/manifest-*.jsonl'")
    return [json.loads(line) for line in run.stdout.splitlines() if line]


def fetch(lab: lab_module.Lab, where: str, camera: str, into: Path) -> Path:
    """Copy a camera's recordings folder from a host, as an auditor would."""
    run = subprocess.run(
        [
            *lab.shell_args(host(lab, where)),
            f"sudo tar --warning=no-file-changed -C {RECORDINGS} -cf - {camera}",
        ],
        capture_output=True,
        check=False,
        timeout=120,
    )
    # GNU tar exits 1 when a file changed while it was read: the open segment, still recording.
    assert run.returncode in {0, 1}, run.stderr
    into.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(run.stdout)) as archive:
        archive.extractall(into, filter="data")
    return into


def probe(lab: lab_module.Lab, where: str, path: str) -> dict[str, Any]:
    run = ssh(
        lab,
        host(lab, where),
        "sudo ffprobe -v error -show_entries stream=codec_name,width,height "
        f"-show_entries format=duration -of json {path}",
    )
    assert run.returncode == 0, run.stderr
    return dict(json.loads(run.stdout))


def refused(call: Callable[[], Any]) -> str:
    with pytest.raises(ClientError) as error:
        call()
    return str(error.value.response["Error"]["Code"])


def test_playbooks_are_idempotent(recording: lab_module.Lab) -> None:
    """central.yml run again changes nothing (the site rollout's own re-run: test_rollout.py;
    `--check --diff` of both, every facility included: test_drift.py's first, clean check)."""
    run = playbook(recording, "central.yml", *FAST)
    assert run.returncode == 0, run.stdout[-3000:]
    changed = {h: c["changed"] for h, c in recap(run).items() if c["changed"]}
    assert changed == {}, f"central.yml on a converged lab changed: {changed}"


@pytest.mark.parametrize("where", ["nvr-north", "nvr-south", "central-1"])
def test_recordings_are_playable_segments(recording: lab_module.Lab, where: str) -> None:
    lab = recording
    cams = [c.id for f in lab.inventory.facilities for c in f.cameras if c.id != OUTDATED]
    if where.startswith("nvr-"):
        cams = [
            c.id
            for f in lab.inventory.facilities
            if f.nvr.hostname == where
            for c in f.cameras
            if c.id != OUTDATED
        ]
    for camera in cams:
        entries = wait_for(partial(sealed, lab, where, camera), 90, f"{camera} on {where}")
        info = probe(lab, where, f"{RECORDINGS}/{camera}/{entries[-1]['segment']}")
        assert info["streams"][0]["codec_name"] == "h264"
        assert (info["streams"][0]["width"], info["streams"][0]["height"]) == (640, 360)
        # A segment cut by a reconnection is shorter; none is longer than its length.
        assert 0 < float(info["format"]["duration"]) <= 15


def test_central_serves_live_playlists_and_the_nvr_the_facility_screen(
    recording: lab_module.Lab,
) -> None:
    lab = recording
    central = host(lab, "central-1")
    playlist = wait_for(
        lambda: (
            ssh(lab, central, "cat /run/camops-live/south_cam01/index.m3u8").stdout.count("#EXTINF")
            >= 3
        ),
        60,
        "a live playlist",
    )
    assert playlist
    listening = ssh(lab, host(lab, "nvr-north"), "ss -Hltn").stdout
    assert "10.79.1.2:8088" in listening
    assert "0.0.0.0:8088" not in listening
    assert "*:8088" not in listening
    # The facility's screen is on the camera LAN, which the WAN never reaches once the site is
    # rolled out: fetch it from a host on that LAN (a camera), as the screen on site does.
    on_lan = lab.plan.host("north_cam02")

    def fetch_on_lan(url: str) -> str:
        run = ssh(
            lab,
            on_lan,
            "python3 -c 'import sys, urllib.request; "
            f'sys.stdout.write(urllib.request.urlopen("{url}", timeout=10).read().decode())\'',
        )
        assert run.returncode == 0, run.stderr
        return run.stdout

    page = fetch_on_lan("http://10.79.1.2:8088/")
    assert "north_cam01" in page
    assert "xem tại chỗ" in page
    assert "#EXTINF" in fetch_on_lan("http://10.79.1.2:8088/live/north_cam01/index.m3u8")


def test_worm_store_refuses_deletes_and_shortening(recording: lab_module.Lab) -> None:
    lab = recording
    auditor, writer, admin = s3(lab, "auditor"), s3(lab, "writer"), s3(lab, "admin")
    prefix = "lab_north_school/north_cam01/"

    def listed() -> list[dict[str, Any]]:
        found = auditor.list_object_versions(Bucket=BUCKET, Prefix=prefix).get("Versions", [])
        return [v for v in found if v["Key"].endswith(".mkv")]

    versions = wait_for(listed, 90, "uploaded segments")
    key, version = versions[0]["Key"], versions[0]["VersionId"]
    head = auditor.head_object(Bucket=BUCKET, Key=key, VersionId=version)
    assert head["ObjectLockMode"] == "COMPLIANCE"  # uploaded by the recorder, default inherited
    assert head["ObjectLockRetainUntilDate"] > datetime.now(UTC) + timedelta(days=29)
    assert refused(lambda: writer.delete_object(Bucket=BUCKET, Key=key)) == "AccessDenied"
    assert (
        refused(lambda: writer.delete_object(Bucket=BUCKET, Key=key, VersionId=version))
        == "AccessDenied"
    )
    assert (
        refused(lambda: admin.delete_object(Bucket=BUCKET, Key=key, VersionId=version))
        == "AccessDenied"
    )
    shorter = {"Mode": "COMPLIANCE", "RetainUntilDate": datetime.now(UTC) + timedelta(days=1)}
    assert (
        refused(
            lambda: admin.put_object_retention(
                Bucket=BUCKET, Key=key, VersionId=version, Retention=shorter
            )
        )
        == "AccessDenied"
    )
    assert refused(lambda: auditor.put_object(Bucket=BUCKET, Key=key, Body=b"x")) == "AccessDenied"
    fresh = f"{prefix}probe-{time.time_ns()}.bin"
    writer.put_object(Bucket=BUCKET, Key=fresh, Body=b"fresh upload")
    until = auditor.head_object(Bucket=BUCKET, Key=fresh)["ObjectLockRetainUntilDate"]
    assert until > datetime.now(UTC) + timedelta(days=29)


def test_audit_chain_in_the_worm_store(recording: lab_module.Lab) -> None:
    lab = recording
    secrets = vault.read(lab.vault_file, lab.vault_password_file)
    env = {
        "AWS_ACCESS_KEY_ID": secrets["vault_object_store_auditor_access_key"],
        "AWS_SECRET_ACCESS_KEY": secrets["vault_object_store_auditor_secret_key"],
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    wait_for(
        lambda: all(
            sealed(lab, "central-1", c.id)
            for f in lab.inventory.facilities
            for c in f.cameras
            if c.id != OUTDATED
        ),
        90,
        "central segments of every camera",
    )
    time.sleep(15)  # one upload interval
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "infra.cli",
            "audit",
            "chain",
            f"s3://{BUCKET}",
            "--endpoint-url",
            "http://10.77.0.10:8333",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**lab_module.ansible_env(lab), **env},
        check=False,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    for facility in lab.inventory.facilities:
        for camera in facility.cameras:
            if camera.id != OUTDATED:  # never connected: nothing of it in the store
                assert f"OK     {facility.id}/{camera.id}:" in run.stdout
    assert_no_secret(
        secrets["vault_object_store_auditor_secret_key"], run.stdout + run.stderr, "audit output"
    )


def test_camera_outage_resumes_by_itself_and_shows_as_a_gap(
    recording: lab_module.Lab, tmp_path: Path
) -> None:
    lab = recording
    camera = host(lab, "north_cam02")
    before = len(wait_for(lambda: sealed(lab, "nvr-north", "north_cam02"), 60, "segments"))
    stopped = datetime.now(UTC)
    assert ssh(lab, camera, "sudo systemctl stop camsim").returncode == 0
    time.sleep(30)
    assert ssh(lab, camera, "sudo systemctl start camsim").returncode == 0
    # Nothing is done on the NVR: the recorder reconnects by itself.
    wait_for(
        lambda: [
            e
            for e in sealed(lab, "nvr-north", "north_cam02")[before:]
            if e["start"] > (stopped + timedelta(seconds=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
        ],
        90,
        "recording after the camera came back",
    )
    folder = fetch(lab, "nvr-north", "north_cam02", tmp_path)
    run = camops("audit", "retention", str(folder), "--segment-seconds", "10", "--json")
    assert run.returncode == 0, run.stderr
    (row,) = json.loads(run.stdout)
    outage = [
        gap for gap in row["gaps"] if gap["seconds"] >= 20 and gap["end"] >= stopped.isoformat()
    ]
    assert outage, row["gaps"]
    assert camops("audit", "chain", str(folder)).returncode == 0


def test_kill_9_loses_at_most_the_open_segment(recording: lab_module.Lab, tmp_path: Path) -> None:
    lab = recording
    nvr = host(lab, "nvr-north")
    wait_for(lambda: sealed(lab, "nvr-north", "north_cam03"), 60, "segments")
    killed = ssh(lab, nvr, "sudo pkill -9 -f '^/usr/bin/[f]fmpeg .*north_cam03'")
    assert killed.returncode == 0, killed.stderr
    after = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    wait_for(
        lambda: [e for e in sealed(lab, "nvr-north", "north_cam03") if e["start"] > after],
        90,
        "recording after kill -9",
    )
    # Every sealed segment is there and plays: each probed on the NVR, in one SSH session.
    segments = [entry["segment"] for entry in sealed(lab, "nvr-north", "north_cam03")]
    codecs = ssh(
        lab,
        nvr,
        f"sudo sh -c 'cd {RECORDINGS}/north_cam03 && for s in {' '.join(segments)}; do "
        'printf "%s " "$s"; ffprobe -v error -select_streams v:0 '
        '-show_entries stream=codec_name -of csv=p=0 "$s" || echo missing; done\'',
    )
    found = dict(line.split() for line in codecs.stdout.splitlines() if line.strip())
    assert found == dict.fromkeys(segments, "h264"), codecs.stderr[-2000:]
    folder = fetch(lab, "nvr-north", "north_cam03", tmp_path)
    assert camops("audit", "chain", str(folder)).returncode == 0


@pytest.fixture
def nvr_segment(recording: lab_module.Lab) -> Iterator[str]:
    """A sealed segment on nvr-north, backed up and put back after the test."""
    lab = recording
    nvr = host(lab, "nvr-north")
    entries = wait_for(lambda: sealed(lab, "nvr-north", "north_cam01")[:-1], 60, "segments")
    path = f"{RECORDINGS}/north_cam01/{entries[-1]['segment']}"
    assert ssh(lab, nvr, f"sudo cp -a {path} /root/tamper-backup").returncode == 0
    yield entries[-1]["segment"]
    assert ssh(lab, nvr, f"sudo cp -a /root/tamper-backup {path}").returncode == 0


def test_audit_chain_names_an_altered_or_deleted_segment_on_the_nvr(
    recording: lab_module.Lab, nvr_segment: str, tmp_path: Path
) -> None:
    lab = recording
    nvr = host(lab, "nvr-north")
    path = f"{RECORDINGS}/north_cam01/{nvr_segment}"
    intact = camops("audit", "chain", str(fetch(lab, "nvr-north", "north_cam01", tmp_path / "a")))
    assert intact.returncode == 0, intact.stdout

    assert ssh(lab, nvr, f"echo tampered | sudo tee -a {path} >/dev/null").returncode == 0
    altered = camops("audit", "chain", str(fetch(lab, "nvr-north", "north_cam01", tmp_path / "b")))
    assert altered.returncode == 1
    assert f"({nvr_segment}): segment altered" in altered.stdout

    assert ssh(lab, nvr, f"sudo rm {path}").returncode == 0
    deleted = camops("audit", "chain", str(fetch(lab, "nvr-north", "north_cam01", tmp_path / "c")))
    assert deleted.returncode == 1
    assert f"({nvr_segment}): segment missing" in deleted.stdout
