"""Upload to and audit of the WORM store, against a real SeaweedFS on loopback."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from camops_recorder import agent, chain, s3audit, segments, upload
from tests.seaweed import Store, seaweed

ROOT = Path(__file__).resolve().parents[2]
BUCKET = "recordings"


def _camops_s3() -> Any:
    """module_utils/camops_s3.py as Ansible ships it to modules (not a package here)."""
    spec = importlib.util.spec_from_file_location(
        "camops_s3", ROOT / "module_utils" / "camops_s3.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CAMERA = "cam_a"
FACILITY = "fac_1"
LENGTH = timedelta(seconds=60)
RETENTION = timedelta(days=30)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    with seaweed(tmp_path_factory.mktemp("seaweed")) as running:
        changed, _before, after = _camops_s3().ensure_worm_bucket(
            running.client("admin"), BUCKET, 30, "COMPLIANCE", check_mode=False
        )
        assert changed
        assert after["object_lock"]
        yield running


def record(root: Path, camera: str, start: datetime, count: int) -> list[Path]:
    paths = []
    for index in range(count):
        moment = start + index * LENGTH
        path = root / camera / f"{camera}-{moment:%Y%m%dT%H%M%SZ}.mkv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(f"{camera} {moment.isoformat()}".encode() * 500)
        chain.seal(camera, root / camera, path, moment)
        paths.append(path)
    return paths


def target(store: Store, camera: str) -> upload.Target:
    access, secret = store.keys["writer"]
    return upload.Target(store.endpoint, BUCKET, access, secret, {camera: FACILITY})


def audit(store: Store, camera: str, now: datetime) -> s3audit.S3ChainReport:
    return s3audit.verify(
        store.client("auditor"), BUCKET, FACILITY, camera, retention=RETENTION, now=now
    )


def test_upload_is_incremental_and_the_store_alone_proves_the_chain(
    store: Store, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    yesterday = (now - timedelta(days=1)).replace(hour=23, minute=57, second=0, microsecond=0)
    paths = record(tmp_path, CAMERA, yesterday, 2)  # yesterday: its manifest is closed
    paths += record(tmp_path, CAMERA, now.replace(second=0, microsecond=0) - 3 * LENGTH, 3)

    first = upload.upload_all(tmp_path, target(store, CAMERA), now)
    assert (first.segments, first.manifests, first.failures) == (5, 1, [])
    again = upload.upload_all(tmp_path, target(store, CAMERA), now)
    assert (again.segments, again.manifests) == (0, 0)
    assert upload.pending(tmp_path / CAMERA) == 0

    auditor = store.client("auditor")
    key = f"{FACILITY}/{CAMERA}/{paths[3].name}"
    head = auditor.head_object(Bucket=BUCKET, Key=key)
    assert head["ObjectLockMode"] == "COMPLIANCE"  # the bucket's default retention, inherited
    entry = json.loads(head["Metadata"][upload.ENTRY_METADATA])
    assert entry["sha256"] == segments.sha256_file(paths[3])

    result = audit(store, CAMERA, now)
    assert result.ok, result.report.broken
    assert result.report.entries == 5
    assert result.findings == []

    # The recorder's disk may lose everything: the store still holds the evidence.
    for path in paths:
        path.unlink()
    assert audit(store, CAMERA, now).report.entries == 5


def test_tampering_in_the_store_is_reported(store: Store, tmp_path: Path) -> None:
    camera = "cam_b"
    now = datetime.now(UTC)
    paths = record(tmp_path, camera, now.replace(second=0, microsecond=0) - 4 * LENGTH, 3)
    assert upload.upload_all(tmp_path, target(store, camera), now).segments == 3
    writer = store.client("writer")
    prefix = f"{FACILITY}/{camera}/"

    # The writer (the recorders' keys) cannot delete at all, not even a delete marker.
    with pytest.raises(ClientError) as refused:
        writer.delete_object(Bucket=BUCKET, Key=prefix + paths[0].name)
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    many = writer.delete_objects(
        Bucket=BUCKET, Delete={"Objects": [{"Key": prefix + p.name} for p in paths]}
    )
    assert not many.get("Deleted")
    assert {e["Code"] for e in many["Errors"]} == {"AccessDenied"}
    # An admin's delete marker and the writer's overwrite leave the locked first versions:
    # reported, the chain stays intact.
    store.client("admin").delete_object(Bucket=BUCKET, Key=prefix + paths[0].name)
    writer.put_object(Bucket=BUCKET, Key=prefix + paths[1].name, Body=b"replaced")
    result = audit(store, camera, now)
    assert result.ok, result.report.broken
    joined = "\n".join(result.findings)
    assert f"{paths[0].name}: 1 delete marker(s)" in joined
    assert f"{paths[1].name}: 2 versions" in joined

    # A forged segment slipped in with a made-up chain entry breaks the chain, named.
    last = chain.last_entry(tmp_path / camera)
    assert last is not None
    forged: dict[str, Any] = {
        **last,
        "seq": last["seq"] + 1,
        "segment": f"{camera}-{now:%Y%m%dT%H%M%SZ}.mkv",
        "prev": "0" * 64,
    }
    forged["hash"] = chain.entry_hash(forged)
    writer.put_object(
        Bucket=BUCKET,
        Key=prefix + forged["segment"],
        Body=b"forged",
        Metadata={upload.ENTRY_METADATA: json.dumps(forged)},
    )
    result = audit(store, camera, now)
    assert not result.ok
    assert result.report.broken is not None
    assert result.report.broken.segment == forged["segment"]
    assert "chain broken" in result.report.broken.reason

    # The same through the command line, with the auditor's read-only keys.
    access, secret = store.keys["auditor"]
    env = {**os.environ, "AWS_ACCESS_KEY_ID": access, "AWS_SECRET_ACCESS_KEY": secret}
    env["AWS_DEFAULT_REGION"] = "us-east-1"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "infra.cli",
            "audit",
            "chain",
            f"s3://{BUCKET}/{FACILITY}",
            "--camera",
            camera,
            "--endpoint-url",
            store.endpoint,
        ],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert f"BROKEN {FACILITY}/{camera}" in run.stdout
    assert forged["segment"] in run.stdout
    assert "delete marker" in run.stdout


def test_a_segment_missing_from_the_store_is_named(store: Store, tmp_path: Path) -> None:
    camera = "cam_c"
    now = datetime.now(UTC)
    day = (now - timedelta(days=2)).replace(hour=12, minute=0, second=0, microsecond=0)
    paths = record(tmp_path, camera, day, 3)
    # Pretend the middle segment was never uploaded: only its manifest entry reaches the store.
    (tmp_path / camera / upload.UPLOADED).write_text(
        json.dumps({"key": f"{FACILITY}/{camera}/{paths[1].name}", "sha256": "x"}) + "\n",
        encoding="utf-8",
    )
    report = upload.upload_all(tmp_path, target(store, camera), now)
    assert (report.segments, report.manifests) == (2, 1)
    result = audit(store, camera, now)
    assert result.report.broken is not None
    assert result.report.broken.segment == paths[1].name
    assert "segment missing" in result.report.broken.reason
    # Once past retention, a missing segment is expired, not a break.
    assert audit(store, camera, now + RETENTION + timedelta(days=3)).ok


def test_agent_upload_command_writes_metrics(store: Store, tmp_path: Path) -> None:
    camera = "cam_d"
    now = datetime.now(UTC)
    root = tmp_path / "root"
    record(root, camera, now.replace(second=0, microsecond=0) - 5 * LENGTH, 2)
    access, secret = store.keys["writer"]
    config = tmp_path / "upload.json"
    config.write_text(
        json.dumps(
            {
                "endpoint": store.endpoint,
                "bucket": BUCKET,
                "access_key": access,
                "secret_key": secret,
                "cameras": {camera: FACILITY},
            }
        ),
        encoding="utf-8",
    )
    metrics = tmp_path / "upload.prom"
    assert (
        agent.main(
            ["upload", "--root", str(root), "--config", str(config), "--metrics", str(metrics)]
        )
        == 0
    )
    text = metrics.read_text(encoding="utf-8")
    assert f'camops_recorder_upload_pending{{camera="{camera}"}} 0' in text
    assert "camops_recorder_upload_failures 0" in text
    # Wrong keys: the run fails, says so, and keeps the segments pending.
    config.write_text(config.read_text(encoding="utf-8").replace(secret, "wrong"), encoding="utf-8")
    record(root, camera, now.replace(second=0, microsecond=0) - 3 * LENGTH, 1)
    assert (
        agent.main(
            ["upload", "--root", str(root), "--config", str(config), "--metrics", str(metrics)]
        )
        == 1
    )
    assert f'camops_recorder_upload_pending{{camera="{camera}"}} 1' in metrics.read_text(
        encoding="utf-8"
    )
