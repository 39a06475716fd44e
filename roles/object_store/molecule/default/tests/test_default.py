"""WORM behaviour through boto3 (a client nobody here wrote) against the converged instance."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

IP = os.environ.get("CAMOPS_MOLECULE_IP", "10.78.0.200")
KEYS = {
    "admin": ("MOLECULEADMIN", "molecule-admin-secret"),
    "writer": ("MOLECULEWRITER", "molecule-writer-secret"),
    "auditor": ("MOLECULEAUDITOR", "molecule-auditor-secret"),
}


def s3(identity: str) -> Any:
    access, secret = KEYS[identity]
    return boto3.client(
        "s3",
        endpoint_url=f"http://{IP}:8333",
        aws_access_key_id=access,
        aws_secret_access_key=secret,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}),
    )


def denied(call: Any) -> str:
    with pytest.raises(ClientError) as error:
        call()
    return str(error.value.response["Error"]["Code"])


def test_only_s3_listens_beyond_localhost(host: Any) -> None:
    assert host.service("camops-object-store").is_running
    assert host.socket("tcp://0.0.0.0:8333").is_listening
    for port in (9333, 8080, 8888):
        assert host.socket(f"tcp://127.0.0.1:{port}").is_listening
        assert not host.socket(f"tcp://0.0.0.0:{port}").is_listening


def test_every_bucket_takes_objects_after_the_others_have() -> None:
    """Each bucket is a collection with volumes of its own: the recordings' must not use up the
    volume server's slots (SeaweedFS's default of 8 left the audit-log none)."""
    writer = s3("writer")
    for bucket in ("recordings", "audit-log", "recordings", "audit-log"):
        key = f"capacity/{bucket}-{datetime.now(UTC):%H%M%S%f}"
        writer.put_object(Bucket=bucket, Key=key, Body=b"x" * 1000)
        assert writer.get_object(Bucket=bucket, Key=key)["Body"].read() == b"x" * 1000


def test_bucket_is_locked_for_30_days() -> None:
    config = s3("admin").get_object_lock_configuration(Bucket="recordings")
    rule = config["ObjectLockConfiguration"]["Rule"]["DefaultRetention"]
    assert (rule["Mode"], rule["Days"]) == ("COMPLIANCE", 30)


def test_worm_against_writer_admin_and_auditor() -> None:
    writer, admin, auditor = s3("writer"), s3("admin"), s3("auditor")
    key = f"north_cam01/north_cam01-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.mkv"
    version = writer.put_object(Bucket="recordings", Key=key, Body=b"segment" * 100)["VersionId"]
    until = writer.head_object(Bucket="recordings", Key=key)["ObjectLockRetainUntilDate"]
    assert until > datetime.now(UTC) + timedelta(days=29)  # a fresh upload inherits retention
    assert (
        denied(lambda: writer.delete_object(Bucket="recordings", Key=key, VersionId=version))
        == "AccessDenied"
    )
    assert (
        denied(lambda: admin.delete_object(Bucket="recordings", Key=key, VersionId=version))
        == "AccessDenied"
    )
    # The writer cannot even hide an object behind a delete marker (IAM policy: put, get, list).
    assert denied(lambda: writer.delete_object(Bucket="recordings", Key=key)) == "AccessDenied"
    versions = auditor.list_object_versions(Bucket="recordings", Prefix=key)
    assert not versions.get("DeleteMarkers")
    shorter = datetime.now(UTC) + timedelta(days=1)
    assert (
        denied(
            lambda: admin.put_object_retention(
                Bucket="recordings",
                Key=key,
                VersionId=version,
                Retention={"Mode": "COMPLIANCE", "RetainUntilDate": shorter},
            )
        )
        == "AccessDenied"
    )
    assert auditor.get_object(Bucket="recordings", Key=key)["ContentLength"] == 700
    assert (
        denied(lambda: auditor.put_object(Bucket="recordings", Key="x", Body=b"y"))
        == "AccessDenied"
    )


def _module(days: int, *flags: str) -> str:
    import json  # noqa: PLC0415
    import subprocess  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    root = Path(os.environ["CAMOPS_ROOT"])
    access, secret = KEYS["admin"]
    args = (
        f"endpoint_url=http://{IP}:8333 access_key={access} secret_key={secret} "
        f"name=recordings retention_days={days}"
    )
    run = subprocess.run(
        ["ansible", "localhost", "-m", "camops_s3_bucket", "-a", args, *flags],
        capture_output=True,
        text=True,
        check=False,
        env={
            **os.environ,
            "ANSIBLE_LIBRARY": str(root / "library"),
            "ANSIBLE_MODULE_UTILS": str(root / "module_utils"),
            "ANSIBLE_STDOUT_CALLBACK": "json",
            "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1",
        },
    )
    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads(run.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]
    assert "molecule-admin-secret" not in run.stdout  # no_log on the keys
    return json.dumps(result)


def test_module_repeat_is_unchanged_and_update_shows_a_diff() -> None:
    assert '"changed": false' in _module(30)
    check = _module(45, "--check", "--diff")
    assert '"changed": true' in check
    assert '"days": 45' in check
    # Check mode changed nothing.
    rule = s3("admin").get_object_lock_configuration(Bucket="recordings")
    assert rule["ObjectLockConfiguration"]["Rule"]["DefaultRetention"]["Days"] == 30
