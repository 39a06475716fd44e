"""``camops lab up | down | status``: the inventory's hosts as rootful podman containers.

Everything the lab makes carries the label ``camops.lab=<inventory>`` and a ``camops-lab-``
name, so ``down`` removes exactly that. Lab state (SSH key, known hosts, per-host settings,
package cache) lives in ``.lab/`` of the working tree; images are kept as a cache (``down
--purge`` removes them too).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from camops_lab import image, podman
from camops_lab.plan import LABEL, HostKind, LabHost, LabPlan, LabPlanError, build
from camops_lab.proxy import FILES_HOSTS_CACHE, Proxy, tunnelled_endpoints
from camops_lab.proxy import PORT as PROXY_PORT
from infra import loader, mirrors, vault
from infra import playbook as runner
from infra.model import Inventory
from infra.problems import errors
from infra.validate import validate

STATE = Path(".lab")
LAB_HOSTS_FILE = "lab-hosts.yml"
#: What the simulated camera hardware can do, by the inventory's camera model (default: what
#: camsim does by default). An outdated model lets the lab show a non-conforming camera (R2).
LAB_CAMERA_MODELS: dict[str, dict[str, Any]] = {
    "gst-rtsp-sim-2015": {"resolutions": [[320, 180]], "max_fps": 15},
}
REQUIRED_TOOLS = (
    "podman",
    "runc",
    "debootstrap",
    "ssh",
    "ssh-keygen",
    "ssh-keyscan",
    "/usr/sbin/apt-cacher-ng",
    "ip",
)

Log = Callable[[str], None]


class LabError(RuntimeError):
    """The lab cannot be brought up or down; the message says why and what to do."""


@dataclass
class Timings:
    phases: list[tuple[str, float]] = field(default_factory=list)
    start: float = field(default_factory=time.monotonic)

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        begin = time.monotonic()
        yield
        self.phases.append((name, time.monotonic() - begin))

    @property
    def total(self) -> float:
        return time.monotonic() - self.start

    def summary(self) -> str:
        parts = ", ".join(f"{name} {seconds:.1f}s" for name, seconds in self.phases)
        return f"lab up in {self.total:.1f}s ({parts})"


@dataclass(frozen=True)
class Lab:
    """One lab: an inventory, its plan and where its state lives."""

    inventory: Inventory
    plan: LabPlan
    state: Path

    @property
    def ssh_key(self) -> Path:
        return self.state / "ssh" / "id_ed25519"

    @property
    def known_hosts(self) -> Path:
        return self.state / "ssh" / "known_hosts"

    @property
    def lab_hosts_file(self) -> Path:
        return Path(self.inventory.path) / LAB_HOSTS_FILE

    @property
    def vault_password_file(self) -> Path:
        """The lab's Ansible Vault password (made by ``up``; never in git)."""
        return self.state / "vault-pass"

    @property
    def vault_file(self) -> Path:
        return Path(self.inventory.path) / vault.DEFAULT_VAULT_FILE

    @property
    def proxy(self) -> Proxy:
        return Proxy(self.plan.controller_ip, self.state.resolve() / "proxy")

    def host_dir(self, host: LabHost) -> Path:
        return self.state / "hosts" / host.name

    def _ssh_options(self) -> list[str]:
        return [
            "-i",
            str(self.ssh_key.resolve()),
            "-o",
            f"UserKnownHostsFile={self.known_hosts.resolve()}",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "BatchMode=yes",
            "-o",
            "ConnectTimeout=3",
        ]

    def jump_host(self, host: LabHost) -> LabHost | None:
        """The router an NVR is reached through (the WAN never reaches a camera LAN)."""
        if host.kind is not HostKind.NVR:
            return None
        return next(h for h in self.plan.hosts if h.router and h.facility == host.facility)

    def proxy_command(self, host: LabHost) -> str | None:
        """ssh's ProxyCommand for a host behind its site router, or None."""
        jump = self.jump_host(host)
        if jump is None:
            return None
        return " ".join(["ssh", *self._ssh_options(), "-W", "%h:%p", f"camops@{jump.address}"])

    def shell_args(self, host: LabHost) -> list[str]:
        """A command line that runs ONE shell command string on a lab host, as ``camops``.

        SSH for servers and routers (through the site router for NVRs, as Ansible goes);
        ``podman exec`` for cameras: real cameras have no shell, the lab's simulators are
        fixtures reached from the outside, whatever the site's firewall allows.
        """
        if host.kind is HostKind.CAMERA:
            return ["podman", "exec", "--user", "camops", host.container, "sh", "-c"]
        args = ["ssh", *self._ssh_options()]
        proxy = self.proxy_command(host)
        if proxy:
            args += ["-o", f"ProxyCommand={proxy}"]
        return [*args, f"camops@{host.address}"]


def open_lab(inventory_path: str, state: Path = STATE) -> Lab:
    """Load, validate and lay out an inventory's lab (no host is touched)."""
    try:
        result = loader.load(inventory_path)
    except loader.InventoryNotFoundError as error:
        raise LabError(str(error)) from error
    found = errors(validate(result))
    if found or result.inventory is None:
        lines = "\n".join(problem.line() for problem in found)
        raise LabError(f"the inventory is not valid; fix it first:\n{lines}")
    try:
        plan = build(result.inventory)
    except LabPlanError as error:
        raise LabError(str(error)) from error
    return Lab(result.inventory, plan, state)


def _check_tools() -> None:
    missing = [tool for tool in REQUIRED_TOOLS if shutil.which(tool) is None]
    if missing:
        raise LabError(
            f"missing {', '.join(missing)}: run 'make setup' (installs deps/lab-apt.txt) as root"
        )
    if os.geteuid() != 0:
        raise LabError("the lab uses rootful podman: run as root")


def _ensure_ssh_key(lab: Lab) -> None:
    lab.ssh_key.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not lab.ssh_key.exists():
        subprocess.run(  # noqa: S603
            [
                "/usr/bin/ssh-keygen",
                "-q",
                "-t",
                "ed25519",
                "-N",
                "",
                "-C",
                "camops-lab",
                "-f",
                str(lab.ssh_key),
            ],
            check=True,
        )


MOLECULE_HOST = "_molecule"


def pip_index_lines(python: mirrors.PythonIndexes) -> str:
    """The controller's indexes as lines of a host's pip.conf (the lab's init appends them)."""
    lines = f"index-url = {python.index_url}\n"
    if python.extra_index_urls:
        lines += f"extra-index-url = {' '.join(python.extra_index_urls)}\n"
    return lines


def _write_host_config(lab: Lab, host: LabHost | None, python: mirrors.PythonIndexes) -> None:
    """The host's /etc/camops-lab; ``None``: the one molecule instances mount."""
    folder = lab.host_dir(host) if host else lab.state / "hosts" / MOLECULE_HOST
    if host is None:
        host = LabHost(MOLECULE_HOST, HostKind.CENTRAL, "base")
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "authorized_keys": lab.ssh_key.with_suffix(".pub").read_text(encoding="utf-8"),
        "proxy": lab.proxy.url + "\n",
        # pip on the host uses the controller's indexes, the ones the proxy lets through.
        "pip-index": pip_index_lines(python),
        "addresses": "".join(
            f"{a.mac} {a.ip}/{a.network.subnet.prefixlen}\n"
            for a in host.attachments
            if not a.network.podman_addressing
        ),
        "gateway": f"{host.gateway}\n" if host.gateway else "",
        "routes": "".join(f"{route.subnet} {route.via}\n" for route in host.routes),
    }
    bundle = Path(os.environ.get("PIP_CERT") or "/etc/ssl/certs/ca-certificates.crt")
    if bundle.is_file():
        files["ca-bundle.crt"] = bundle.read_text(encoding="utf-8")
    for name, text in files.items():
        path = folder / name
        if text:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                path.write_text(text, encoding="utf-8")
        else:
            path.unlink(missing_ok=True)


def _ensure_networks(lab: Lab) -> list[str]:
    created = []
    for network in lab.plan.networks:
        if podman.network_exists(network.name):
            continue
        args = [
            "network",
            "create",
            "--internal",
            "--disable-dns",
            "--label",
            f"{LABEL}={lab.inventory.name}",
        ]
        if network.podman_addressing:
            args += ["--subnet", str(network.subnet), "--gateway", str(network.gateway)]
        else:
            args += ["--ipam-driver", "none"]
        podman.run(*args, network.name)
        created.append(network.name)
    return created


#: Every lab container's runtime and limits (this kernel: runc; the lab's file and process
#: limits).
CONTAINER_LIMITS = [
    "--runtime",
    "runc",
    "--ulimit",
    "nofile=20000:20000",
    "--ulimit",
    "nproc=32768:32768",
]


#: An NVR's recording disk: a filesystem of a fixed size at the recorder's root (the recorder
#: role's ``recorder_root``), as on a real NVR, so the lab's capacity forecast (RetentionAtRisk)
#: and a full disk do not depend on the machine's own disk. In memory: a lab NVR's recordings
#: are gone when its container restarts (the rollout makes the folder again). 2 GiB holds
#: about three hours of a lab facility's three 512 kbit/s cameras.
NVR_RECORDINGS = "/var/lib/camops/recordings"
NVR_DISK = "2g"


def _run_args(lab: Lab, host: LabHost, images: dict[str, str]) -> list[str]:
    args = [
        "run",
        "--detach",
        "--name",
        host.container,
        "--hostname",
        host.hostname,
        "--label",
        f"{LABEL}={lab.inventory.name}",
        "--label",
        f"{LABEL}.kind={host.kind}",
        "--label",
        f"{LABEL}.state={lab.state.resolve()}",
        *CONTAINER_LIMITS,
        "--systemd",
        "always",
        # NET_ADMIN, NET_RAW: host firewalls and routes; SYS_ADMIN: systemd's sandboxing
        # (PrivateTmp, ProtectSystem, DynamicUser) needs mount namespaces, as on real hosts.
        "--cap-add",
        "NET_ADMIN",
        "--cap-add",
        "NET_RAW",
        "--cap-add",
        "SYS_ADMIN",
        # Lab networks have no egress and no DNS: answer the host's own name locally and
        # fail other lookups at once (services use the model's addresses).
        "--add-host",
        f"{host.hostname}:127.0.1.1",
        "--dns",
        "127.0.0.1",
        "--volume",
        f"{lab.host_dir(host).resolve()}:/etc/camops-lab:ro",
    ]
    for attachment in host.attachments:
        options = f"mac={attachment.mac}"
        if attachment.network.podman_addressing:
            options = f"ip={attachment.ip},{options}"
        args += ["--network", f"{attachment.network.name}:{options}"]
    if host.forwards:
        # WireGuard in userspace (wireguard-go: this kernel has no wireguard module) and
        # routing between the host's networks, set by the site_router / wireguard_hub roles.
        args += ["--device", "/dev/net/tun", "--security-opt", "unmask=/proc/sys"]
    if host.router:
        # An unconfigured site router forwards (a fresh site is open until its rollout).
        args += ["--sysctl", "net.ipv4.ip_forward=1"]
    if host.kind is HostKind.NVR:
        args += ["--mount", f"type=tmpfs,destination={NVR_RECORDINGS},tmpfs-size={NVR_DISK}"]
    # What the container was made with: a container of an older lab layout is made anew.
    shape = hashlib.sha256("\0".join([*args, images[host.image]]).encode()).hexdigest()[:16]
    return [*args, "--label", f"{LABEL}.shape={shape}", images[host.image]]


def _ensure_container(lab: Lab, host: LabHost, images: dict[str, str]) -> str:
    """Create the host's container, or reuse it if it is this lab's, from the same image."""
    wanted = _run_args(lab, host, images)
    if podman.container_exists(host.container):
        info = podman.inspect("container", host.container)
        labels = info.get("Config", {}).get("Labels") or {}
        same = (
            labels.get(f"{LABEL}.state") == str(lab.state.resolve())
            and info.get("ImageName") == images[host.image]
            and f"{LABEL}.shape={labels.get(f'{LABEL}.shape')}" in wanted
        )
        if same:
            if info["State"].get("Running"):
                return "running"
            podman.run("start", host.container)
            return "started"
        # Another checkout's lab, an older image or layout: make it anew.
        podman.run("rm", "--force", "--time", "5", host.container)
    podman.run(*wanted)
    return "created"


def _routes(lab: Lab) -> list[str]:
    done = []
    for route in lab.plan.routes:
        subprocess.run(  # noqa: S603
            ["ip", "route", "replace", str(route.subnet), "via", str(route.via)],  # noqa: S607
            check=True,
            capture_output=True,
        )
        done.append(f"{route.subnet} via {route.via}")
    return done


def _remove_routes(lab: Lab) -> None:
    for route in lab.plan.routes:
        subprocess.run(  # noqa: S603
            ["ip", "route", "del", str(route.subnet), "via", str(route.via)],  # noqa: S607
            check=False,
            capture_output=True,
        )


def _keyscan(host: LabHost) -> str:
    """The host's SSH key as a known_hosts line, once its sshd runs.

    Read from the container rather than scanned over the network: after a site rollout the
    NVR is reachable only through its router, and the lab still knows its own hosts.
    """
    result = podman.run(
        "exec",
        host.container,
        "sh",
        "-c",
        "systemctl is-active --quiet ssh.service && cat /etc/ssh/ssh_host_ed25519_key.pub",
        check=False,
    )
    if result.returncode != 0:
        return ""
    key_type, key = result.stdout.split()[:2]
    return f"{host.address} {key_type} {key}"


def _wait_ssh(lab: Lab, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    keys: dict[str, str] = {}
    pending = list(lab.plan.hosts)
    with ThreadPoolExecutor(max_workers=8) as pool:
        while pending and time.monotonic() < deadline:
            found = list(pool.map(_keyscan, pending))
            for host, key in zip(pending, found, strict=True):
                if key:
                    keys[host.name] = key
            pending = [host for host in pending if host.name not in keys]
            if pending:
                time.sleep(0.2)
    if pending:
        names = ", ".join(host.name for host in pending)
        raise LabError(f"no SSH answer from {names} after {timeout:.0f}s; see 'camops lab status'")
    lines = [keys[host.name] for host in lab.plan.hosts]
    lab.known_hosts.write_text("\n".join(lines) + "\n", encoding="utf-8")


def lab_hosts_document(lab: Lab, npm_registry: str) -> dict[str, Any]:
    """The Ansible connection settings of the lab, merged with the model's inventory, and the
    mirrors of the controller that roles fetch from on the controller (``npm_registry``)."""
    state = lab.state.resolve()
    common_ssh_args = (
        f"-o UserKnownHostsFile={state / 'ssh' / 'known_hosts'} -o StrictHostKeyChecking=yes"
    )
    hostvars: dict[str, Any] = {}
    cameras: dict[str, Any] = {}
    for host in lab.plan.hosts:
        entry: dict[str, Any] = {"ansible_host": str(host.address)}
        if host.kind is HostKind.CAMERA:
            facility = lab.inventory.facility(host.facility or "")
            camera = next(c for c in facility.cameras if c.id == host.camera_id)
            entry["lab_camera_device"] = {
                "id": camera.id,
                "name": camera.name,
                "vendor": camera.vendor,
                "model": camera.model,
                "mac": camera.mac,
                "onvif_port": camera.onvif_port,
                "rtsp_port": camera.rtsp_port,
                "rtsp_path": camera.rtsp_path,
                "width": camera.resolution.width,
                "height": camera.resolution.height,
                "fps": camera.fps,
                "bitrate_kbps": camera.bitrate_kbps,
                "credential": camera.credential,
            }
            capabilities = LAB_CAMERA_MODELS.get(camera.model)
            if capabilities:
                entry["lab_camera_capabilities"] = capabilities
            # The simulator is a fixture: provisioned through podman, whatever the site's
            # firewall allows (real cameras are configured over ONVIF from their NVR).
            # `podman` (not its collection's full name): under the Mitogen strategy that is
            # Mitogen's own podman transport, one interpreter per camera for the whole run
            # (containers.podman's plugin execs several podman commands per task); without
            # Mitogen, Ansible routes it to containers.podman.podman.
            entry.update(
                ansible_connection="podman",
                ansible_host=host.container,
                ansible_user="root",
            )
            cameras[host.name] = entry
        else:
            proxy = lab.proxy_command(host)
            if proxy:
                entry["ansible_ssh_common_args"] = f"{common_ssh_args} -o ProxyCommand='{proxy}'"
            hostvars[host.name] = entry
    return {
        "all": {
            "vars": {
                "ansible_user": "camops",
                "ansible_ssh_private_key_file": str(state / "ssh" / "id_ed25519"),
                "ansible_ssh_common_args": common_ssh_args,
                "ansible_python_interpreter": "/usr/bin/python3",
                "camops_lab": True,
                "camops_lab_proxy": lab.proxy.url,
                # What a site's NVR may reach besides central: the lab's package proxy.
                "camops_package_proxy": f"{lab.proxy.address}:{PROXY_PORT}",
                # Where the platform role fetches hls.js (on the controller): the
                # controller's npm registry (infra.mirrors), as a province sets its own.
                "platform_npm_registry": npm_registry,
            },
            "hosts": hostvars,
            "children": {"lab_cameras": {"hosts": cameras}},
        }
    }


def _write_lab_hosts(lab: Lab, npm_registry: str) -> None:
    text = (
        "---\n# Written by `camops lab up`: how Ansible reaches the lab's hosts. Not in git.\n"
        + yaml.safe_dump(lab_hosts_document(lab, npm_registry), sort_keys=False, allow_unicode=True)
    )
    path = lab.lab_hosts_file
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def ensure_vault(lab: Lab, log: Log) -> None:
    """The lab's secrets: a vault password of its own and every secret the inventory names.

    What ``camops vault-init`` does for a real province; existing entries are kept, so the
    cameras' and services' credentials survive a second ``up``.
    """
    password = lab.vault_password_file
    if not password.exists():
        password.parent.mkdir(parents=True, exist_ok=True)
        password.touch(mode=0o600)
        password.write_text(secrets.token_urlsafe(32) + "\n", encoding="utf-8")
    try:
        result = vault.init(lab.inventory, password)
    except vault.VaultError as error:
        raise LabError(
            f"{error}. The lab's secrets are encrypted with {password}; if that file was "
            f"removed, delete {lab.vault_file} too and run 'camops lab up' again"
        ) from error
    if result.added:
        log(f"vault: {len(result.added)} secret(s) added to {result.file}")


def ansible_env(lab: Lab) -> dict[str, str]:
    """Environment for ansible-playbook against the lab (config and vault password)."""
    return runner.environment(vault_password_file=lab.vault_password_file)


def run_camera_playbook(lab: Lab, *args: str, cwd: Path | None = None) -> runner.PlaybookRun:
    """playbooks/lab_cameras.yml on the lab, its output captured; ``args`` go to
    ansible-playbook (e.g. ``-e lab_camera_mode=replay``).

    `lab up` validated this inventory a moment ago (open_lab): the playbook's own validation
    play is skipped."""
    return runner.run(
        "lab_cameras.yml",
        inventory=lab.inventory.path,
        # The camera image was built from the role's own package list.
        extra_vars={"lab_camera_install_packages": "false"},
        args=["--skip-tags", "validate_inventory", *args],
        vault_password_file=lab.vault_password_file,
        cwd=cwd,
    )


def _camera_inputs(lab: Lab) -> str:
    """A digest of everything the camera provisioning depends on, containers included."""
    digest = hashlib.sha256()
    for root in (Path("roles/lab_camera"), Path("lab/src/camops_lab/camera_sim")):
        for path in sorted(root.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path).encode() + b"\0" + path.read_bytes())
    digest.update(lab.lab_hosts_file.read_bytes())
    if lab.vault_file.exists():
        digest.update(lab.vault_file.read_bytes())
    for host in lab.plan.hosts:
        if host.kind is HostKind.CAMERA:
            digest.update(str(podman.inspect("container", host.container)["Id"]).encode())
    return digest.hexdigest()


def _cameras_running(lab: Lab) -> bool:
    def active(host: LabHost) -> bool:
        return (
            subprocess.run(  # noqa: S603
                [*lab.shell_args(host), "systemctl is-active --quiet camsim.service"],
                capture_output=True,
                check=False,
            ).returncode
            == 0
        )

    cams = [host for host in lab.plan.hosts if host.kind is HostKind.CAMERA]
    with ThreadPoolExecutor(max_workers=8) as pool:
        return all(pool.map(active, cams))


def provision_cameras(lab: Lab, log: Log) -> None:
    """Install the camera simulators (lab-only role) on the lab's camera hosts.

    Skipped when nothing it depends on changed since its last success (same role, same
    simulator, same containers) and every simulator runs: a second ``lab up`` is a no-op.
    """
    stamp = lab.state / "cameras.stamp"
    inputs = _camera_inputs(lab)
    if stamp.exists() and stamp.read_text(encoding="utf-8") == inputs and _cameras_running(lab):
        log("cameras unchanged and running")
        return
    stamp.unlink(missing_ok=True)
    result = run_camera_playbook(lab)
    recap = (
        result.stdout[result.stdout.rfind("PLAY RECAP") :] if "PLAY RECAP" in result.stdout else ""
    )
    if result.returncode != 0:
        tail = "\n".join(result.stdout.splitlines()[-40:])
        raise LabError(f"camera provisioning failed:\n{tail}\n{result.stderr[-2000:]}")
    changed = sum(int(part.split("=")[1]) for part in recap.split() if part.startswith("changed="))
    stamp.write_text(inputs, encoding="utf-8")
    log(f"cameras provisioned (changed={changed})")


def _controller_mirrors() -> mirrors.ControllerMirrors:
    """The controller's Debian mirror, Python indexes and npm registry (never a host of ours)."""
    try:
        return mirrors.controller_mirrors(image.SUITE)
    except mirrors.MirrorError as error:
        raise LabError(str(error)) from error


def up(inventory_path: str, log: Log = print, provision: bool = True) -> Timings:
    """Bring the lab of an inventory up; a second call changes nothing."""
    timings = Timings()
    lab = open_lab(inventory_path)
    _check_tools()
    sources = _controller_mirrors()
    lab.state.mkdir(exist_ok=True)
    build_log = lab.state / "build.log"
    with timings.phase("images"):
        images = {
            "base": image.build_base(lab.state / "build", build_log, sources.debian).reference,
            "camera": image.build_camera(lab.state / "build", build_log, sources.debian).reference,
        }
    with timings.phase("networks"):
        _ensure_ssh_key(lab)
        created = _ensure_networks(lab)
        for host in lab.plan.hosts:
            _write_host_config(lab, host, sources.python)
        _write_host_config(lab, None, sources.python)
        ensure_vault(lab, log)
    if created:
        log(f"networks created: {', '.join(created)}")
    with timings.phase("containers"), ThreadPoolExecutor(max_workers=8) as pool:
        states = list(pool.map(lambda h: _ensure_container(lab, h, images), lab.plan.hosts))
    counts = {state: states.count(state) for state in sorted(set(states))}
    log("containers: " + ", ".join(f"{n} {state}" for state, n in counts.items()))
    with timings.phase("routes+proxy"):
        _routes(lab)
        tunnelled = tunnelled_endpoints(sources, lab.proxy.state / FILES_HOSTS_CACHE, log)
        pid = lab.proxy.start(tunnelled)
    log(f"package proxy {lab.proxy.url} (apt-cacher-ng pid {pid}; HTTPS to {len(tunnelled)} hosts)")
    with timings.phase("ssh"):
        _wait_ssh(lab)
        _write_lab_hosts(lab, sources.npm_registry)
    log(f"{len(lab.plan.hosts)} hosts answer SSH; Ansible settings in {lab.lab_hosts_file}")
    if provision:
        with timings.phase("cameras"):
            provision_cameras(lab, log)
    log(timings.summary())
    return timings


def down(inventory_path: str, log: Log = print, purge: bool = False) -> None:
    """Remove what ``up`` made: containers, networks, routes, the proxy process."""
    lab = open_lab(inventory_path)
    label = f"{LABEL}={lab.inventory.name}"
    containers = sorted(
        set(podman.names("container", label))
        | {h.container for h in lab.plan.hosts if podman.container_exists(h.container)}
    )
    if containers:
        podman.run("rm", "--force", "--time", "5", *containers)
    log(f"containers removed: {len(containers)}")
    _remove_routes(lab)
    networks = sorted(
        set(podman.names("network", label))
        | {n.name for n in lab.plan.networks if podman.network_exists(n.name)}
    )
    if networks:
        podman.run("network", "rm", "--force", *networks)
    log(f"networks removed: {len(networks)}")
    if lab.proxy.stop():
        log("package proxy stopped")
    lab.lab_hosts_file.unlink(missing_ok=True)
    lab.known_hosts.unlink(missing_ok=True)
    if purge:
        # Every lab image by its label, whatever its tags (the digest's of this or an earlier
        # build, :latest): removing only the current digest's tag left them stored.
        images = podman.labelled_images(image.LABEL_KEY)
        if images:
            podman.run("rmi", "--force", *images)
        _remove_lab_vault(lab)
        shutil.rmtree(lab.state, ignore_errors=True)
        log("images and lab state removed")


def _remove_lab_vault(lab: Lab) -> None:
    """Remove the vault file ``up`` made, only if the lab's own password opens it."""
    if not (lab.vault_file.exists() and lab.vault_password_file.exists()):
        return
    try:
        vault.read(lab.vault_file, lab.vault_password_file)
    except vault.VaultError:
        return  # not the lab's: keep it
    lab.vault_file.unlink()


@dataclass(frozen=True)
class HostStatus:
    host: LabHost
    state: str
    ssh: bool
    services: str = ""  # cameras: which of RTSP and ONVIF answer

    @property
    def ok(self) -> bool:
        healthy = self.state == "running" and self.ssh
        if self.host.kind is HostKind.CAMERA:
            healthy = healthy and self.services == "rtsp onvif"
        return healthy


def _camera_services(lab: Lab, host: LabHost) -> str:
    """Which of RTSP and ONVIF answer on the camera's address, tried from the camera itself
    (the site's firewall decides who else may connect)."""
    facility = lab.inventory.facility(host.facility or "")
    camera = next(c for c in facility.cameras if c.id == host.camera_id)
    found = [
        name
        for name, port in (("rtsp", camera.rtsp_port), ("onvif", camera.onvif_port))
        if podman.run(
            "exec",
            host.container,
            "timeout",
            "2",
            "bash",
            "-c",
            f"exec 3<>/dev/tcp/{host.address}/{port}",
            check=False,
        ).returncode
        == 0
    ]
    return " ".join(found)


def status(inventory_path: str) -> tuple[Lab, list[HostStatus]]:
    lab = open_lab(inventory_path)
    result = []
    for host in lab.plan.hosts:
        state = "absent"
        if podman.container_exists(host.container):
            state = str(podman.inspect("container", host.container)["State"].get("Status"))
        ssh = False
        if state == "running" and lab.known_hosts.exists():
            ssh = (
                subprocess.run(  # noqa: S603
                    [*lab.shell_args(host), "true"], capture_output=True, check=False
                ).returncode
                == 0
            )
        services = _camera_services(lab, host) if host.kind is HostKind.CAMERA else ""
        result.append(HostStatus(host, state, ssh, services))
    return lab, result


__all__ = ["Lab", "LabError", "down", "open_lab", "status", "up"]
