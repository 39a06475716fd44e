"""Thin helpers over the podman command line (rootful, runc)."""

from __future__ import annotations

import json
import subprocess
from typing import Any

PODMAN = "podman"


class PodmanError(RuntimeError):
    """A podman command failed; the message carries its stderr."""


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(  # noqa: S603
        [PODMAN, *args], capture_output=True, text=True, check=False
    )
    if check and result.returncode != 0:
        raise PodmanError(f"podman {' '.join(args)}: {result.stderr.strip()}")
    return result


def image_exists(reference: str) -> bool:
    return run("image", "exists", reference, check=False).returncode == 0


def network_exists(name: str) -> bool:
    return run("network", "exists", name, check=False).returncode == 0


def container_exists(name: str) -> bool:
    return run("container", "exists", name, check=False).returncode == 0


def inspect(kind: str, name: str) -> dict[str, Any]:
    data = json.loads(run(kind, "inspect", name).stdout)
    return dict(data[0])


def names(kind: str, label: str) -> list[str]:
    """Names of the containers or networks that carry a label (``key=value``)."""
    if kind == "container":
        out = run("ps", "-a", "--filter", f"label={label}", "--format", "{{.Names}}").stdout
    else:
        out = run("network", "ls", "--filter", f"label={label}", "--format", "{{.Name}}").stdout
    return [line for line in out.splitlines() if line]


def labelled_images(key: str) -> list[str]:
    """IDs of the images that carry the label ``key`` (any value)."""
    out = run("images", "--filter", f"label={key}", "--format", "{{.ID}}").stdout
    return sorted({line for line in out.splitlines() if line})
