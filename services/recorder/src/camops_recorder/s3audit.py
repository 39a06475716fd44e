"""``camops audit chain`` against the WORM object store (what central recorders uploaded).

Reads object *versions*, never only the latest object: a delete marker hides an object from
plain reads but not the locked version beneath it, and an overwrite adds a version on top of
the original. The chain is checked against the first version of every key and anything else
found (delete markers, extra versions) is reported. Keys: see :mod:`camops_recorder.upload`.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from camops_recorder import chain, segments
from camops_recorder.upload import ENTRY_METADATA


@dataclass
class Versions:
    """Every version of every key under a camera's prefix, oldest first."""

    versions: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    delete_markers: dict[str, int] = field(default_factory=lambda: defaultdict(int))


@dataclass(frozen=True)
class S3ChainReport:
    facility: str
    report: chain.ChainReport
    findings: list[str]

    @property
    def ok(self) -> bool:
        return self.report.ok


def list_versions(client: Any, bucket: str, prefix: str) -> Versions:
    found = Versions()
    for page in client.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        for version in page.get("Versions", []):
            found.versions[version["Key"]].append(version)
        for marker in page.get("DeleteMarkers", []):
            found.delete_markers[marker["Key"]] += 1
    for versions in found.versions.values():
        # S3 lists a key's versions newest first (LastModified has only second resolution).
        versions.reverse()
    return found


def cameras(client: Any, bucket: str, facility: str | None = None) -> list[tuple[str, str]]:
    """(facility, camera) pairs that have objects in the bucket."""
    pairs: set[tuple[str, str]] = set()
    paginator = client.get_paginator("list_objects_v2")
    facilities = [facility] if facility else []
    if not facilities:
        for page in paginator.paginate(Bucket=bucket, Delimiter="/"):
            facilities += [p["Prefix"].rstrip("/") for p in page.get("CommonPrefixes", [])]
    for name in facilities:
        for page in paginator.paginate(Bucket=bucket, Prefix=f"{name}/", Delimiter="/"):
            for prefix in page.get("CommonPrefixes", []):
                pairs.add((name, prefix["Prefix"].rstrip("/").rsplit("/", 1)[-1]))
    return sorted(pairs)


def _read(client: Any, bucket: str, key: str, version: str | None) -> Iterator[bytes]:
    extra = {"VersionId": version} if version and version != "null" else {}
    body = client.get_object(Bucket=bucket, Key=key, **extra)["Body"]
    yield from body.iter_chunks(segments.CHUNK)


def _entries(
    client: Any, bucket: str, prefix: str, found: Versions
) -> list[tuple[str, dict[str, Any]]]:
    """The chain: closed days from their manifests, the rest from segments' metadata."""
    entries: list[tuple[str, dict[str, Any]]] = []
    covered: set[str] = set()
    manifests = sorted(k for k in found.versions if k.rsplit("/", 1)[-1].startswith("manifest-"))
    for key in manifests:
        first = found.versions[key][0]
        text = b"".join(_read(client, bucket, key, first.get("VersionId"))).decode("utf-8")
        for line in text.splitlines():
            if line:
                entry = json.loads(line)
                entries.append((f"s3://{bucket}/{key}", entry))
                covered.add(str(entry.get("segment")))
    loose: list[tuple[str, dict[str, Any]]] = []
    for key, versions in found.versions.items():
        name = key.removeprefix(prefix)
        if key in manifests or name in covered:
            continue
        first = versions[0]
        extra = (
            {"VersionId": first["VersionId"]}
            if first.get("VersionId") not in {None, "null"}
            else {}
        )
        head = client.head_object(Bucket=bucket, Key=key, **extra)
        raw = head.get("Metadata", {}).get(ENTRY_METADATA)
        if raw:
            loose.append((f"s3://{bucket}/{key} (object metadata)", json.loads(raw)))
    loose.sort(key=lambda item: int(item[1].get("seq", -1)))
    return entries + loose


def verify(
    client: Any,
    bucket: str,
    facility: str,
    camera: str,
    *,
    retention: timedelta,
    now: datetime,
) -> S3ChainReport:
    prefix = f"{facility}/{camera}/"
    found = list_versions(client, bucket, prefix)
    findings = [
        f"s3://{bucket}/{key}: {count} delete marker(s) hide it from plain reads; "
        "the locked version is intact"
        for key, count in sorted(found.delete_markers.items())
    ]
    findings += [
        f"s3://{bucket}/{key}: {len(versions)} versions; the first one is audited"
        for key, versions in sorted(found.versions.items())
        if len(versions) > 1
    ]

    def segment_hash(relative: str) -> str | None:
        versions = found.versions.get(prefix + relative)
        if not versions:
            return None
        digest = hashlib.sha256()
        for block in _read(client, bucket, prefix + relative, versions[0].get("VersionId")):
            digest.update(block)
        return digest.hexdigest()

    entries = _entries(client, bucket, prefix, found)
    # In the store nothing is swept by camops: a segment may be missing only past retention.
    gone = {str(entry["segment"]): str(entry.get("sha256")) for _source, entry in entries}
    report = chain.verify_entries(camera, entries, segment_hash, gone, retention=retention, now=now)
    return S3ChainReport(facility, report, findings)
