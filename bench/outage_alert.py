#!/usr/bin/env python3
"""Benchmark: how fast a camera outage reaches the people who must act (issue [7], R3).

For each round a lab camera stops answering (its container paused, as a dead camera or a cut
cable), and the clock runs until (a) the platform's incidents list it (Alertmanager's webhook)
and (b) the alert mail is in the lab mail relay's mailbox; then the camera comes back and the
clock runs until the incident is resolved. The lab must be up with central.yml and the
facilities' rollouts done (the demo's state).

With ``--tunnel FACILITY``, one more round cuts the facility's tunnel (WireGuard stopped on its
site router, as when its WAN line fails) and times TunnelDown the same way; the facility's
cameras must raise no incident of their own meanwhile (counted).

Prints each round and the medians, against the target (detection to delivery <= 60 s) and
against the bound the configuration sets (one probe interval + the rule's 'for' + one rule
evaluation + Alertmanager's group_wait). Asserts nothing.
Usage: python bench/outage_alert.py [--rounds N] [--camera ID ...] [--tunnel FACILITY] [INVENTORY]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from camops_lab import lab as lab_module  # noqa: E402
from camops_lab.outage import Outage, camera_outage, tunnel_outage  # noqa: E402

TARGET_S = 60.0
#: monitoring defaults: camera probe 10 s, CameraDown for 20 s, evaluation 10 s, group_wait 10 s.
BOUND_S = 10 + 20 + 10 + 10


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("inventory", nargs="?", default="inventories/lab")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--camera", action="append", help="cameras to stop, in turn")
    parser.add_argument("--tunnel", metavar="FACILITY", help="also cut this facility's tunnel")
    options = parser.parse_args()
    lab = lab_module.open_lab(options.inventory, ROOT / ".lab")
    cameras = options.camera or [
        camera.id
        for facility in lab.inventory.facilities
        for camera in facility.cameras
        if facility.status.value == "active"
    ]
    if not cameras:
        print("no camera in the lab's inventory", file=sys.stderr)
        return 2
    incident: list[float] = []
    mail: list[float] = []
    resolved: list[float] = []

    def tally(outage: Outage) -> None:
        incident.append(outage.to_incident_s)
        mail.append(outage.to_mail_s)
        resolved.append(outage.to_resolved_s)

    print(f"outage -> incident / mail (target {TARGET_S:.0f} s, configured bound {BOUND_S} s)")
    for round_ in range(options.rounds):
        camera = cameras[(round_ * 2) % len(cameras)]
        outage = camera_outage(lab, camera)
        tally(outage)
        row = outage.incident
        print(
            f"round {round_ + 1}: {camera:<12} incident #{row['id']}"
            f" in {outage.to_incident_s:5.1f} s,"
            f" mail in {outage.to_mail_s:5.1f} s to {outage.mails[0]['to']};"
            f" back -> resolved in {outage.to_resolved_s:5.1f} s"
            f" (time to repair kept: {row['time_to_repair_s']} s)"
        )
    if options.tunnel:
        outage = tunnel_outage(lab, options.tunnel)
        tally(outage)
        row = outage.incident
        print(
            f"tunnel: {options.tunnel} TunnelDown incident #{row['id']}"
            f" in {outage.to_incident_s:5.1f} s, mail in {outage.to_mail_s:5.1f} s;"
            f" back -> resolved in {outage.to_resolved_s:5.1f} s;"
            f" other incidents of the facility meanwhile: {len(outage.others)}"
        )
    worst = max(*incident, *mail)
    print(
        f"median: incident {statistics.median(incident):.1f} s,"
        f" mail {statistics.median(mail):.1f} s,"
        f" resolved {statistics.median(resolved):.1f} s after the return"
    )
    print(
        f"worst delivery {worst:.1f} s: {worst / TARGET_S:.2f} of the target"
        f" ({'met' if worst <= TARGET_S else 'MISSED'}),"
        f" {worst / BOUND_S:.2f} of the configured bound"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
