"""Lab images built locally from Debian packages (no registry is reachable).

``base``: a minimal Debian 12 made with debootstrap and ``podman import`` — what a cloud image
gives a new server: systemd, OpenSSH, Python, sudo and an ops user ``camops`` whose key is
installed at boot (the lab's stand-in for cloud-init). Roles install everything else with apt.

``camera``: ``base`` plus the GStreamer packages of the camera simulator, so the lab's camera
fixtures start in seconds; the ``lab_camera`` role still declares them.

The Debian mirror is the controller's own (:mod:`infra.mirrors`): debootstrap fetches from it,
and the image's ``/etc/apt/sources.list`` is written from it at build time (the lab's hosts
reach it through the lab's package proxy, set at boot by ``camops-lab-init``).

Each image is tagged with a hash of what goes into it, so a changed package list, mirror or
build script makes a new image and an unchanged one is reused.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from camops_lab import podman
from infra.mirrors import DEBIAN_SECURITY_VARIABLE, DebianMirrors

SUITE = "bookworm"
BASE_REPO = "localhost/camops-lab-base"
CAMERA_REPO = "localhost/camops-lab-camera"

BASE_PACKAGES = (
    "systemd",
    "systemd-sysv",
    "dbus",
    "openssh-server",
    "python3",
    "python3-apt",
    "sudo",
    "iproute2",
    "iputils-ping",
    "ca-certificates",
    "procps",
    "netbase",
    "less",
)

ROLE_DEFAULTS = Path(__file__).parents[3] / "roles" / "lab_camera" / "defaults" / "main.yml"


def camera_packages() -> tuple[str, ...]:
    """The simulator's packages, as the lab_camera role declares them (one list for both)."""
    defaults = yaml.safe_load(ROLE_DEFAULTS.read_text(encoding="utf-8"))
    return tuple(defaults["lab_camera_packages"])


ROOTFS_FILES = Path(__file__).parent / "rootfs"


def apt_sources(debian: DebianMirrors) -> str:
    """The image's ``/etc/apt/sources.list``: the controller's mirrors for the lab's release."""
    lines = [
        "# Written by camops lab at image build time from the controller's Debian mirrors.",
        f"deb {debian.archive} {SUITE} main",
    ]
    if debian.updates:
        lines.append(f"deb {debian.updates} {SUITE}-updates main")
    if debian.security:
        lines.append(f"deb {debian.security} {SUITE}-security main")
    else:
        lines.append(
            f"# No {SUITE}-security source on the controller ({DEBIAN_SECURITY_VARIABLE} sets one)."
        )
    return "\n".join(lines) + "\n"


def _digest(*parts: str) -> str:
    sha = hashlib.sha256()
    for part in parts:
        sha.update(part.encode())
        sha.update(b"\0")
    return sha.hexdigest()[:12]


def _tree_text(root: Path) -> str:
    return "".join(
        f"{path.relative_to(root)}\n{path.read_text(encoding='utf-8')}"
        for path in sorted(root.rglob("*"))
        if path.is_file()
    )


#: The label every lab image carries (its value: base or camera); `down --purge` removes by it.
LABEL_KEY = "camops.lab.image"


@dataclass(frozen=True)
class ImageSpec:
    kind: str
    reference: str


def _tag_latest(spec: ImageSpec) -> ImageSpec:
    """Point ``:latest`` at the current image (molecule scenarios use that tag)."""
    repo = spec.reference.rsplit(":", 1)[0]
    podman.run("tag", spec.reference, f"{repo}:latest")
    return spec


def base_spec(debian: DebianMirrors) -> ImageSpec:
    digest = _digest(
        SUITE,
        debian.archive,
        *BASE_PACKAGES,
        _tree_text(ROOTFS_FILES),
        apt_sources(debian),
        Path(__file__).read_text(encoding="utf-8"),
    )
    return ImageSpec("base", f"{BASE_REPO}:{digest}")


def camera_spec(debian: DebianMirrors) -> ImageSpec:
    digest = _digest(base_spec(debian).reference, *camera_packages())
    return ImageSpec("camera", f"{CAMERA_REPO}:{digest}")


def _run(args: list[str], **kwargs: object) -> None:
    subprocess.run(args, check=True, **kwargs)  # type: ignore[call-overload]  # noqa: S603


def build_base(workdir: Path, log: Path, debian: DebianMirrors) -> ImageSpec:
    """debootstrap a minimal Debian 12 from the controller's mirror and import it, unless the
    tagged image exists."""
    spec = base_spec(debian)
    if podman.image_exists(spec.reference):
        return _tag_latest(spec)
    workdir.mkdir(parents=True, exist_ok=True)
    rootfs = Path(tempfile.mkdtemp(prefix="rootfs-", dir=workdir))
    try:
        with log.open("ab") as out:
            _run(
                [
                    "debootstrap",
                    "--variant=minbase",
                    f"--include={','.join(BASE_PACKAGES)}",
                    SUITE,
                    str(rootfs),
                    debian.archive,
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
            # The lab's files (boot-time init, its unit), apt's sources, then the ops user.
            shutil.copytree(ROOTFS_FILES, rootfs, dirs_exist_ok=True)
            (rootfs / "etc/apt/sources.list").write_text(apt_sources(debian), encoding="utf-8")
            _run(
                ["chroot", str(rootfs), "/bin/sh", "/usr/local/sbin/camops-lab-prepare"],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
            (rootfs / "usr/local/sbin/camops-lab-prepare").unlink()
            tar = subprocess.Popen(  # noqa: S603
                ["tar", "-C", str(rootfs), "--numeric-owner", "-c", "."],  # noqa: S607
                stdout=subprocess.PIPE,
            )
            _run(
                [
                    "podman",
                    "import",
                    "--change",
                    'CMD ["/sbin/init"]',
                    "--change",
                    "STOPSIGNAL=SIGRTMIN+3",
                    "--change",
                    f"LABEL={LABEL_KEY}=base",
                    "-",
                    spec.reference,
                ],
                stdin=tar.stdout,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
            if tar.wait() != 0:
                raise subprocess.CalledProcessError(tar.returncode, "tar")
    finally:
        shutil.rmtree(rootfs, ignore_errors=True)
    return _tag_latest(spec)


def build_camera(workdir: Path, log: Path, debian: DebianMirrors) -> ImageSpec:
    """The camera fixture image: base plus GStreamer, unless the tagged image exists."""
    spec = camera_spec(debian)
    if podman.image_exists(spec.reference):
        return _tag_latest(spec)
    base = build_base(workdir, log, debian)
    context = Path(tempfile.mkdtemp(prefix="camera-", dir=workdir))
    try:
        (context / "Containerfile").write_text(
            f"FROM {base.reference}\n"
            f"LABEL {LABEL_KEY}=camera\n"
            "RUN apt-get -o Acquire::Check-Valid-Until=false update \\\n"
            " && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "
            f"{' '.join(camera_packages())} \\\n"
            " && apt-get clean\n",
            encoding="utf-8",
        )
        with log.open("ab") as out:
            _run(
                [
                    "podman",
                    "build",
                    "--network",
                    "host",
                    "--runtime",
                    "runc",
                    "-t",
                    spec.reference,
                    str(context),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
    finally:
        shutil.rmtree(context, ignore_errors=True)
    return _tag_latest(spec)
