"""Shared fixtures: the real fixture logs beside the repository."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
DMESG = SHARED / "fixtures" / "dmesg"


def fixture_logs() -> list[Path]:
    return sorted(DMESG.glob("*.log")) if DMESG.is_dir() else []


@pytest.fixture
def dmesg_dir() -> Path:
    if not DMESG.is_dir():
        pytest.skip(f"real boot logs not found at {DMESG}")
    return DMESG
