"""The lab's hosts: systemd, SSH for Ansible, routing through the site routers, package proxy."""

from __future__ import annotations

import ipaddress
import subprocess

from camops_lab import lab as lab_module
from camops_lab.plan import HostKind
from infra import mirrors
from tests.lab.conftest import camops, ssh


def test_every_host_answers_ssh_with_systemd_and_sudo(lab: lab_module.Lab) -> None:
    for host in lab.plan.hosts:
        run = ssh(lab, host, "sudo -n systemctl is-system-running --wait; hostname")
        assert run.returncode == 0, f"{host.name}: {run.stderr}"
        state, hostname = run.stdout.split()
        assert state == "running", f"{host.name}: systemd {state}"
        assert hostname == host.hostname


def test_status_reports_everything_up(lab: lab_module.Lab) -> None:
    run = camops("lab", "status")
    assert run.returncode == 0, run.stdout
    assert "package proxy" in run.stdout


def test_controller_reaches_a_site_only_through_its_router(lab: lab_module.Lab) -> None:
    nvr = lab.plan.host("nvr-north")
    route = subprocess.run(
        ["ip", "route", "get", str(nvr.address)], capture_output=True, text=True, check=True
    ).stdout
    assert "via 10.78.0.11" in route
    addresses = subprocess.run(
        ["ip", "-o", "-4", "addr"], capture_output=True, text=True, check=True
    ).stdout
    lan = ipaddress.ip_network("10.79.1.0/24")
    for line in addresses.splitlines():
        address = ipaddress.ip_interface(line.split()[3])
        assert address.ip not in lan, "the controller must have no address on a camera LAN"


def test_fixed_addresses_and_macs_from_the_inventory(lab: lab_module.Lab) -> None:
    camera = lab.plan.host("south_cam03")
    run = ssh(lab, camera, "ip -o link; ip -o -4 addr")
    assert "02:42:0a:4f:02:0d" in run.stdout
    assert "10.79.2.13/24" in run.stdout


def test_router_forwards_and_has_two_networks(lab: lab_module.Lab) -> None:
    router = lab.plan.host("rtr-south")
    run = ssh(lab, router, "cat /proc/sys/net/ipv4/ip_forward; ip -o -4 addr")
    assert run.stdout.splitlines()[0] == "1"
    assert "10.78.0.12/24" in run.stdout
    assert "10.79.2.1/24" in run.stdout
    writable = ssh(lab, router, "sudo sysctl -w net.ipv4.conf.all.rp_filter=0")
    assert writable.returncode == 0, writable.stderr


def test_hosts_install_packages_through_the_proxy(lab: lab_module.Lab) -> None:
    nvr = next(h for h in lab.plan.hosts if h.kind is HostKind.NVR)
    run = ssh(lab, nvr, "cd /tmp && apt-get download hello && ls hello_*.deb && rm hello_*.deb")
    assert run.returncode == 0, run.stderr
    # The controller's Python index: the hosts' pip uses it, the lab's proxy lets it through.
    index_url = mirrors.python_indexes().index_url
    pip_conf = ssh(lab, nvr, "cat /etc/pip.conf")
    assert f"index-url = {index_url}\n" in pip_conf.stdout, pip_conf.stdout
    page = f"{index_url}/{mirrors.PROBE_PROJECTS[0]}/"
    index = ssh(
        lab,
        nvr,
        'python3 -c "import ssl, urllib.request; '
        "p=urllib.request.ProxyHandler({'https': open('/etc/camops-lab/proxy').read().strip()}); "
        "c=urllib.request.HTTPSHandler(context=ssl.create_default_context("
        "cafile='/etc/camops-lab/ca-bundle.crt')); "
        f"print(urllib.request.build_opener(p, c).open('{page}', "
        'timeout=20).status)"',
    )
    assert index.stdout.strip() == "200", index.stderr


def test_lab_networks_have_no_route_out(lab: lab_module.Lab) -> None:
    # Route look-ups only: nothing is sent. 192.0.2.1 is TEST-NET-1 (documentation).
    for name in ("rtr-north", "central-1"):
        run = ssh(lab, lab.plan.host(name), "ip route get 192.0.2.1")
        assert run.returncode != 0
        assert "unreachable" in run.stderr
