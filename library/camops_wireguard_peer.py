#!/usr/bin/python
"""Ansible module: one site's peer on the WireGuard hub (live, routed and persisted)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: camops_wireguard_peer
short_description: Register, disable or remove a site router as a peer of the WireGuard hub
description:
  - Makes one peer of a WireGuard interface match the desired state, in the three places a
    peer lives on the hub, so that the site's camera LAN is reachable through the tunnel
    (requirements R3, R5) and stays so after a reboot.
  - "Live: C(wg set) adds, updates or removes the peer (its public key and allowed IPs)."
  - "Routes: every allowed network is routed through the interface (C(ip route replace)); peers
    added after C(wg-quick up) get no routes from wg-quick."
  - "Persisted: one file per peer, C(<config_dir>/<interface>.peers.d/<name>.conf), a
    C([Peer]) section that the interface's C(PostUp) (C(camops-wireguard-peers), installed by
    the C(wireguard_hub) role) re-applies with C(wg addconf) and routes at every start. A
    disabled peer (a site on standby) keeps its file as C(<name>.disabled), which is skipped."
  - Refuses a public key or allowed networks that another registered peer already has;
    WireGuard itself would silently move the networks to the newest peer, letting one site
    take over another site's camera LAN.
  - Runs on the hub as root. The hub's private key is never read.
version_added: "0.1.0"
author: camops maintainers
options:
  name:
    description: The peer's name, the facility id (names the peer file).
    type: str
    required: true
  public_key:
    description: The site router's WireGuard public key (base64, 44 characters).
    type: str
  allowed_ips:
    description:
      - Networks routed to this peer, normally the router's tunnel address as a /32 and the
        facility's camera subnet. Host bits set are an error.
    type: list
    elements: str
    default: []
  interface:
    description: The hub's WireGuard interface.
    type: str
    default: wg0
  config_dir:
    description: Folder of the interface's configuration; peer files go to C(<interface>.peers.d).
    type: path
    default: /etc/wireguard
  persistent_keepalive:
    description: Keepalive in seconds sent to the peer; 0 or unset for none (sites keep the
      tunnel open from their side).
    type: int
  enabled:
    description:
      - C(false) keeps the registration (file C(<name>.disabled)) but removes the peer and its
        routes from the live interface, for a site on standby (R13).
    type: bool
    default: true
  state:
    description: C(present) registers the peer; C(absent) deregisters it (decommission, R13).
    type: str
    choices: [present, absent]
    default: present
notes:
  - Supports check mode and diff mode; a second run reports no change.
  - With O(state=present), O(public_key) and O(allowed_ips) are required for a peer not yet
    registered; left out, a registered peer keeps its own (standby and back, from the hub).
requirements:
  - wireguard-tools (C(wg)) and iproute2 on the hub
"""

EXAMPLES = r"""
- name: R3 | Site lab_north_school reaches central through the tunnel
  camops_wireguard_peer:
    name: lab_north_school
    public_key: "{{ hostvars['rtr-north'].site_router_public_key }}"
    allowed_ips:
      - 10.99.0.11/32
      - 10.79.1.0/24
  delegate_to: central-1

- name: R13 | Site on standby - registration kept, tunnel closed
  camops_wireguard_peer:
    name: lab_north_school
    public_key: "{{ site_public_key }}"
    allowed_ips: [10.99.0.11/32, 10.79.1.0/24]
    enabled: false

- name: R13 | Site removed - remote access ends
  camops_wireguard_peer:
    name: lab_north_school
    state: absent
"""

RETURN = r"""
peer:
  description: The peer after the run (public data only).
  returned: always
  type: dict
  sample:
    state: present
    name: lab_north_school
    public_key: 0H8K9qDjR4xQ7Z4XZ37PdmgyvrsBWcsxVry1W9uS3x4=
    allowed_ips: [10.79.1.0/24, 10.99.0.11/32]
    enabled: true
    persistent_keepalive: null
    live: {allowed_ips: [10.79.1.0/24, 10.99.0.11/32], latest_handshake: 1764500000}
    routes: [10.79.1.0/24, 10.99.0.11/32]
path:
  description: The peer file (C(.conf) when enabled, C(.disabled) when not).
  returned: always
  type: str
  sample: /etc/wireguard/wg0.peers.d/lab_north_school.conf
"""

from typing import Any  # noqa: E402  # after DOCUMENTATION, as Ansible modules do

from ansible.module_utils.basic import AnsibleModule  # noqa: E402  # after DOCUMENTATION
from ansible.module_utils.camops_wireguard import (  # noqa: E402  # after DOCUMENTATION
    Current,
    Desired,
    PeerFile,
    PeerManager,
    WireguardError,
    check_conflicts,
    check_name,
    check_public_key,
    describe,
    from_registration,
    normalize_allowed_ips,
    plan,
)


def _after(desired: Desired, current: Current) -> dict[str, Any]:
    if desired.state == "absent":
        return {"state": "absent"}
    if desired.public_key is None:  # required_if makes it so
        return {"state": "present"}
    peer = PeerFile(
        desired.name,
        desired.public_key,
        desired.allowed_ips,
        desired.enabled,
        desired.keepalive,
    )
    routes = desired.allowed_ips if desired.enabled else []
    info: dict[str, Any] = describe(peer, None, routes)
    if desired.enabled:
        old = current.live_peers.get(desired.public_key)
        info["live"] = {
            "allowed_ips": desired.allowed_ips,
            "latest_handshake": old.latest_handshake if old else 0,
        }
    return info


def _before(desired: Desired, current: Current) -> dict[str, Any]:
    peer = current.file
    key = peer.public_key if peer else desired.public_key
    live = current.live_peers.get(key) if key else None
    nets = peer.allowed_ips if peer else (live.allowed_ips if live else [])
    routes = [net for net in nets if current.routes.get(net) == desired.interface]
    info: dict[str, Any] = describe(peer, live, routes)
    if info["state"] == "present":
        info.setdefault("name", desired.name)
    return info


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "name": {"type": "str", "required": True},
            "public_key": {"type": "str"},
            "allowed_ips": {"type": "list", "elements": "str", "default": []},
            "interface": {"type": "str", "default": "wg0"},
            "config_dir": {"type": "path", "default": "/etc/wireguard"},
            "persistent_keepalive": {"type": "int", "no_log": False},
            "enabled": {"type": "bool", "default": True},
            "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
        },
        supports_check_mode=True,
    )
    params = module.params

    def run(argv: list[str]) -> tuple[int, str, str]:
        rc, out, err = module.run_command(argv)
        return int(rc), str(out), str(err)

    try:
        name = check_name(params["name"])
        desired = Desired(
            name=name,
            interface=params["interface"],
            state=params["state"],
            enabled=params["enabled"],
            keepalive=params["persistent_keepalive"] or None,
        )
        if desired.state == "present":
            if params["public_key"] is not None:
                desired.public_key = check_public_key(params["public_key"])
            if params["allowed_ips"] or params["public_key"] is not None:
                desired.allowed_ips = normalize_allowed_ips(params["allowed_ips"])
        manager = PeerManager(run, params["interface"], params["config_dir"])
        current = manager.current(name)
        if desired.state == "present":
            from_registration(desired, current)
            check_conflicts(desired, current)
        todo = plan(desired, current)
        if todo.changed and not module.check_mode:
            manager.apply(name, todo)
    except WireguardError as error:
        module.fail_json(msg=str(error))

    after = _after(desired, current)
    result: dict[str, Any] = {
        "changed": todo.changed,
        "peer": after,
        "path": str(manager.path(name, desired.enabled or desired.state == "absent")),
    }
    if module._diff:  # Ansible's own flag
        result["diff"] = {
            "before": _before(desired, current),
            "after": after,
            "before_header": f"{params['interface']} peer {name}",
            "after_header": f"{params['interface']} peer {name}",
        }
    module.exit_json(**result)


if __name__ == "__main__":
    main()
