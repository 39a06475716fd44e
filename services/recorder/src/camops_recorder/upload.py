"""Upload sealed segments and closed day manifests to the WORM object store (central mode).

Runs on a central recorder (boto3 from Debian's ``python3-boto3``). Keys in the bucket::

    <facility>/<camera>/<segment file>          the segment; its chain entry in the metadata
    <facility>/<camera>/manifest-<day>.jsonl    the day's manifest, once the day is over

Each segment object carries its hash-chain entry (``x-amz-meta-chain-entry``), so the chain
can be checked in the store alone, also for the current day; the bucket's Object Lock keeps
every version for the retention period. What has been uploaded is listed in the camera's
``uploaded.jsonl`` (key, SHA-256, version id), so a run uploads only what is new and an
interrupted run resumes where it stopped.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from camops_recorder import chain, retention, segments

UPLOADED = "uploaded.jsonl"
ENTRY_METADATA = "chain-entry"
#: A day's manifest is uploaded once the day has been over for this long (late seals).
MANIFEST_GRACE = timedelta(minutes=10)


@dataclass(frozen=True)
class Target:
    """Where a recorder uploads: the S3 endpoint, bucket, writer keys and camera facilities."""

    endpoint: str
    bucket: str
    access_key: str
    secret_key: str
    facilities: dict[str, str]  # camera id → facility id

    @classmethod
    def from_file(cls, path: Path) -> Target:
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(
            endpoint=str(data["endpoint"]),
            bucket=str(data["bucket"]),
            access_key=str(data["access_key"]),
            secret_key=str(data["secret_key"]),
            facilities={str(k): str(v) for k, v in data["cameras"].items()},
        )

    def client(self) -> Any:
        import boto3  # noqa: PLC0415  # only the central recorder needs it
        from botocore.config import Config  # noqa: PLC0415

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name="us-east-1",
            config=Config(
                s3={"addressing_style": "path"},
                retries={"max_attempts": 5, "mode": "standard"},
                connect_timeout=5,
                read_timeout=60,
            ),
        )


def object_key(facility: str, camera: str, name: str) -> str:
    return f"{facility}/{camera}/{name}"


def uploaded(camera_dir: Path) -> dict[str, str]:
    """Key → SHA-256 of what this camera has uploaded."""
    return {line["key"]: line["sha256"] for line in chain.read_entries(camera_dir / UPLOADED)}


def _record(camera_dir: Path, key: str, sha256: str, version: str | None) -> None:
    with (camera_dir / UPLOADED).open("a", encoding="utf-8") as handle:
        handle.write(json.dumps({"key": key, "sha256": sha256, "version": version}) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def pending(camera_dir: Path) -> int:
    """Sealed segments of a camera not yet uploaded."""
    done = {key.rsplit("/", 1)[-1] for key in uploaded(camera_dir)}
    return sum(
        1
        for path in chain.manifests(camera_dir)
        for entry in chain.read_entries(path)
        if entry["segment"] not in done
    )


@dataclass
class UploadReport:
    segments: int = 0
    manifests: int = 0
    failures: list[str] = field(default_factory=list)


def _put(client: Any, bucket: str, key: str, path: Path, metadata: dict[str, str]) -> str | None:
    with path.open("rb") as body:
        response = client.put_object(Bucket=bucket, Key=key, Body=body, Metadata=metadata)
    version = response.get("VersionId")
    return str(version) if version else None


def upload_camera(
    client: Any, target: Target, camera_dir: Path, now: datetime, report: UploadReport
) -> None:
    camera = camera_dir.name
    facility = target.facilities.get(camera)
    if facility is None:
        return  # not this recorder's job (any more): nothing to upload
    done = uploaded(camera_dir)
    for path in chain.manifests(camera_dir):
        entries = chain.read_entries(path)
        for entry in entries:
            key = object_key(facility, camera, entry["segment"])
            if key in done:
                continue
            segment = camera_dir / entry["segment"]
            if not segment.exists():
                report.failures.append(f"{key}: sealed but missing on disk")
                continue
            metadata = {ENTRY_METADATA: json.dumps(entry, sort_keys=True, separators=(",", ":"))}
            version = _put(client, target.bucket, key, segment, metadata)
            _record(camera_dir, key, entry["sha256"], version)
            done[key] = entry["sha256"]
            report.segments += 1
        day = datetime.strptime(path.stem.removeprefix("manifest-"), "%Y-%m-%d").replace(tzinfo=UTC)
        day_over = now - MANIFEST_GRACE >= day + timedelta(days=1)
        key = object_key(facility, camera, path.name)
        digest = segments.sha256_file(path)
        all_sent = all(object_key(facility, camera, e["segment"]) in done for e in entries)
        if day_over and all_sent and done.get(key) != digest:
            if key in done:
                report.failures.append(f"{key}: manifest changed after upload; uploading again")
            version = _put(client, target.bucket, key, path, {})
            _record(camera_dir, key, digest, version)
            done[key] = digest
            report.manifests += 1


def upload_all(root: Path, target: Target, now: datetime) -> UploadReport:
    """Upload what is new for every camera under ``root``; errors are reported, not raised."""
    from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

    client = target.client()
    report = UploadReport()
    for camera_dir in retention.cameras(root):
        try:
            upload_camera(client, target, camera_dir, now, report)
        except (BotoCoreError, ClientError, OSError) as error:
            report.failures.append(f"{camera_dir.name}: {error}")
    return report
