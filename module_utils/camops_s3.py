"""Shared code of the camops S3 modules: a WORM bucket as a desired state (controller side)."""

from __future__ import annotations

from typing import Any

try:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    HAS_BOTO3 = True
except ImportError:  # reported by the module
    HAS_BOTO3 = False


class S3Error(Exception):
    """An S3 call failed; the message says which and why."""


def client(endpoint: str, access_key: str, secret_key: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3}),
    )


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def bucket_state(s3: Any, name: str) -> dict[str, Any] | None:
    """What the bucket is now: None if absent, else versioning and Object Lock settings."""
    try:
        s3.head_bucket(Bucket=name)
    except ClientError as error:
        if _code(error) in {"404", "NoSuchBucket", "NotFound"}:
            return None
        raise S3Error(f"head_bucket {name}: {error}") from error
    versioning = s3.get_bucket_versioning(Bucket=name).get("Status", "Disabled")
    try:
        lock = s3.get_object_lock_configuration(Bucket=name)["ObjectLockConfiguration"]
    except ClientError as error:
        if _code(error) in {
            "ObjectLockConfigurationNotFoundError",
            "NoSuchObjectLockConfiguration",
        }:
            lock = {}
        else:
            raise S3Error(f"get_object_lock_configuration {name}: {error}") from error
    retention = lock.get("Rule", {}).get("DefaultRetention", {})
    return {
        "name": name,
        "versioning": versioning,
        "object_lock": lock.get("ObjectLockEnabled") == "Enabled",
        "mode": retention.get("Mode"),
        "days": retention.get("Days"),
    }


def ensure_worm_bucket(
    s3: Any, name: str, days: int, mode: str, check_mode: bool
) -> tuple[bool, dict[str, Any] | None, dict[str, Any]]:
    """Make the bucket a WORM bucket. Returns (changed, before, after)."""
    try:
        before = bucket_state(s3, name)
        after = {
            "name": name,
            "versioning": "Enabled",
            "object_lock": True,
            "mode": mode,
            "days": days,
        }
        if before is not None and not before["object_lock"]:
            raise S3Error(
                f"bucket {name} exists without Object Lock, which cannot be turned on later: "
                "create a new bucket (or empty and remove this one) and point the role at it"
            )
        if before == after:
            return False, before, after
        if not check_mode:
            if before is None:
                s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
            s3.put_object_lock_configuration(
                Bucket=name,
                ObjectLockConfiguration={
                    "ObjectLockEnabled": "Enabled",
                    "Rule": {"DefaultRetention": {"Mode": mode, "Days": days}},
                },
            )
            after = bucket_state(s3, name) or after
        return True, before, after
    except (ClientError, BotoCoreError) as error:
        raise S3Error(f"bucket {name}: {error}") from error
