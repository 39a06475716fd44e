#!/usr/bin/env python3
"""Benchmark: `camops validate` on a large province, with libyaml's C parser and without.

Builds a province of N facilities in a temporary folder (the Đồng Tháp inventory's facilities
copied under new ids, camera LANs and addresses, so that it validates), then times loading and
validating it with the loader camops uses (PyYAML's CSafeLoader where present) and with the
pure-Python SafeLoader, in the same run. Prints figures and the ratio; asserts nothing.
Target (issue [10]): the C loader, 5-7x faster at parsing. Usage:
python bench/validate.py [--facilities N] [--rounds N]
"""

from __future__ import annotations

import argparse
import copy
import shutil
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from ipaddress import IPv4Network
from pathlib import Path

import yaml

from infra import loader
from infra.validate import validate

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "inventories" / "dong_thap"


def build(folder: Path, count: int) -> Path:
    """A copy of Đồng Tháp with ``count`` facilities (renumbered copies of its own)."""
    target = folder / "province"
    shutil.copytree(SOURCE, target)
    templates = sorted((target / "facilities").glob("*.yml"))
    documents = [yaml.safe_load(path.read_text(encoding="utf-8")) for path in templates]
    for path in templates:
        path.unlink()
    for index in range(count):
        doc = copy.deepcopy(documents[index % len(documents)])
        facility = doc["facility"]
        new_id = f"f{index:04d}"
        old_net = IPv4Network(facility["camera_subnet"])
        new_net = IPv4Network(f"10.{150 + index // 250}.{index % 250}.0/24")
        shift = int(new_net.network_address) - int(old_net.network_address)

        def moved(address: str, delta: int = shift) -> str:
            return str(IPv4Network(address + "/32").network_address + delta)

        facility["id"] = new_id
        facility["camera_subnet"] = str(new_net)
        facility["nvr"].update(hostname=f"nvr-{new_id}", ip=moved(facility["nvr"]["ip"]))
        facility["router"].update(
            hostname=f"rtr-{new_id}",
            lan_ip=moved(facility["router"]["lan_ip"]),
            wan_ip=f"100.64.{index // 250}.{index % 250 + 1}/16",
            tunnel_ip=f"10.250.0.{10 + index}",  # the province's /24 tunnel subnet
        )
        for camera in facility.get("cameras", []):
            camera["id"] = f"{new_id}_{camera['id'].rsplit('_', 1)[-1]}"
            camera["ip"] = moved(camera["ip"])
            last = int(camera["ip"].rsplit(".", 1)[-1])
            camera["mac"] = f"02:00:{index // 256:02x}:{index % 256:02x}:{last:02x}:00"
            camera["credential"] = f"vault_camera_{camera['id']}"
        (target / "facilities" / f"{new_id}.yml").write_text(
            yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8"
        )
    return target


@contextmanager
def pure_python_loader() -> Iterator[None]:
    original = loader._Loader

    class Pure(yaml.SafeLoader):
        pass

    Pure.add_constructor("!vault", loader._vault_constructor)
    Pure.add_constructor("!unsafe", loader._unsafe_constructor)
    loader._Loader = Pure  # type: ignore[assignment,misc]
    try:
        yield
    finally:
        loader._Loader = original  # type: ignore[misc]


def timed(path: Path) -> tuple[float, float, int]:
    start = time.perf_counter()
    result = loader.load(path)
    loaded = time.perf_counter() - start
    problems = validate(result)
    return loaded, time.perf_counter() - start, len(problems)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--facilities", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = build(Path(folder), options.facilities)
        size = sum(f.stat().st_size for f in path.rglob("*.yml"))
        print(f"province of {options.facilities} facilities, {size / 1e6:.1f} MB of YAML")
        figures: dict[str, list[tuple[float, float, int]]] = {"C": [], "Python": []}
        for _ in range(options.rounds):
            figures["C"].append(timed(path))
            with pure_python_loader():
                figures["Python"].append(timed(path))
        for name, rounds in figures.items():
            load_s = statistics.median(r[0] for r in rounds)
            total_s = statistics.median(r[1] for r in rounds)
            print(
                f"{name:>6} loader: load {load_s:6.2f} s, load + validate {total_s:6.2f} s "
                f"({rounds[0][2]} problem(s))"
            )
        c_load = statistics.median(r[0] for r in figures["C"])
        py_load = statistics.median(r[0] for r in figures["Python"])
        c_total = statistics.median(r[1] for r in figures["C"])
        py_total = statistics.median(r[1] for r in figures["Python"])
        print(
            f"ratio Python/C: load {py_load / c_load:.1f}x, "
            f"validate end to end {py_total / c_total:.1f}x"
        )


if __name__ == "__main__":
    main()
