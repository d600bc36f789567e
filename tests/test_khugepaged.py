"""khugepaged's min_free_kbytes (hugepage_init) on the real extension: the
watermarks /proc/zoneinfo shows after boot."""

from __future__ import annotations

import dataclasses

import pytest

from mmsvc.machine import default_machine
from mmsvc.simulation import Simulation

from .conftest import boot_default


def _min_free(sim) -> int:
    return sim.ctx.results["min_free_kbytes"]


def _booted(machine) -> Simulation:
    sim = Simulation(machine)
    sim.boot()
    return sim


@pytest.mark.parametrize("profile", ["5.14", "6.1"])
def test_thp_raises_min_free_kbytes_for_free_pageblocks(profile):
    sim = boot_default(profile=profile)
    # DMA, DMA32 and Normal are populated: 512-page pageblocks, two a zone
    # plus nine (3 x 3 pcp migratetypes) a zone
    assert _min_free(sim) == 512 * 3 * (2 + 9) * 4
    zones = {z["zone"]: z for z in sim.mm.zones()}
    total_min = sum(z["min"] for z in zones.values())
    assert abs(total_min - _min_free(sim) // 4) <= 4


def test_never_recomputes_the_default_on_6_1_and_keeps_it_on_5_14():
    raised = _min_free(boot_default(profile="6.1"))
    never = _min_free(boot_default("transparent_hugepage=never", profile="6.1"))
    assert never < raised
    # int_sqrt(lowmem_kbytes * 16), lowmem now net of the high watermarks
    assert 128 <= never <= 16384
    old = boot_default("transparent_hugepage=never", profile="5.14")
    assert "hugepage_init" not in old.ctx.results.get("noop", {})
    assert _min_free(old) < raised


def test_small_machines_and_cpus_without_pse_keep_the_default():
    m = default_machine("6.1")
    small = dataclasses.replace(m, cmdline=m.cmdline + " mem=448M")
    sim = _booted(small)
    assert "512 MiB" in sim.ctx.results["noop"]["hugepage_init"]
    cpu = dataclasses.replace(m.cpu_features, pse=False)
    sim = _booted(dataclasses.replace(m, cpu_features=cpu))
    assert "hugepage_init" in sim.ctx.results["noop"]


def test_an_unknown_mode_is_warned_about_left_unknown_and_changes_nothing():
    raised = _min_free(boot_default(profile="6.1"))
    sim = boot_default("transparent_hugepage=never transparent_hugepage=sometimes", profile="6.1")
    text = sim.log.text()
    assert "huge_memory: transparent_hugepage= cannot parse, ignored\n" in text
    unknown = next(ln for ln in text.splitlines() if ln.startswith("Unknown kernel command"))
    assert "transparent_hugepage=sometimes" in unknown
    assert "transparent_hugepage=never" not in unknown
    # never, taken before the bad word, still holds
    assert _min_free(sim) < raised

