"""Shared fixtures: the real fixture logs beside the repository."""

from __future__ import annotations

from pathlib import Path

import pytest

from mmsvc import _core

REPO = Path(__file__).resolve().parents[1]
MiB = 1 << 20


def shared_fixtures() -> Path | None:
    """``<repo>/../shared/fixtures`` (or further up, for worktrees)."""
    for parent in REPO.parents:
        cand = parent / "shared" / "fixtures"
        if cand.is_dir():
            return cand
    return None


FIXTURES = shared_fixtures()
DMESG = (FIXTURES or REPO.parent / "shared" / "fixtures") / "dmesg"


def fixture_logs() -> list[Path]:
    return sorted(DMESG.glob("*.log")) if DMESG.is_dir() else []


@pytest.fixture
def dmesg_dir() -> Path:
    if not DMESG.is_dir():
        pytest.skip(f"real boot logs not found at {DMESG}")
    return DMESG


def boot_default(extra_cmdline: str = "", profile: str = "6.1", **fields):
    """The built-in x86_64 machine (4 GiB: 3 GiB below the PCI hole, 1 GiB
    above 4 GiB) with *extra_cmdline* appended and any description *fields*
    replaced, booted to the end."""
    import dataclasses

    from mmsvc.machine import default_machine
    from mmsvc.simulation import Simulation

    m = default_machine(profile)
    m = dataclasses.replace(m, cmdline=f"{m.cmdline} {extra_cmdline}".strip(), **fields)
    sim = Simulation(m)
    sim.boot()
    return sim


def small_machine(mem: int = 64 * MiB) -> _core.Mm:
    """A one-node machine with RAM [1 MiB, mem), all free, no deferral."""
    mm = _core.Mm("6.1")
    mm.memblock.add(MiB, mem - MiB)
    regions = mm.memblock.mem_pfn_ranges()
    mm.free_area_init(regions, [("DMA", 0x1000), ("DMA32", mem >> 12), ("Normal", mem >> 12),
                                ("Movable", 0)], 1,
                      config={"deferred_struct_page_init": False, "nr_cpus": 2})
    mm.memblock_free_all()
    mm.setup_per_cpu_pageset()
    mm.init_per_zone_wmark_min()
    return mm
