"""Shared fixtures: copies of the committed inventories that a test may break on purpose."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.helpers import INVENTORIES, InventoryCopy

#: What a running lab adds to inventories/lab (not in git): its vault and its connection file.
LAB_STATE = shutil.ignore_patterns("vault.yml", "lab-hosts.yml")


@pytest.fixture
def lab(tmp_path: Path) -> InventoryCopy:
    target = tmp_path / "lab"
    shutil.copytree(INVENTORIES / "lab", target, ignore=LAB_STATE)
    return InventoryCopy(target)


@pytest.fixture
def dong_thap(tmp_path: Path) -> InventoryCopy:
    target = tmp_path / "dong_thap"
    shutil.copytree(INVENTORIES / "dong_thap", target, ignore=LAB_STATE)
    return InventoryCopy(target)
