"""The cpu_entry_area's page tables (trap_init) and the CPU facts a log
states (vendor, Meltdown), against the rules of arch/x86/mm/cpu_entry_area.c
and real boots with 8 to 16 CPUs of either vendor."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mmsvc.errors import MachineConfigError
from mmsvc.machine import from_dmesg
from mmsvc.machine.description import CpuFeatures, MachineDescription
from mmsvc.simulation import Simulation
from mmsvc_x86_64.cpu_entry_area import CpuEntryAreaLayout, table_pages

from .conftest import DMESG, boot_default

REALBOOTS = Path(__file__).parent / "realboots"


def test_the_area_of_one_cpu():
    # 6.1: 59 pages (sizeof(struct cpu_entry_area) = 0x3b000 in the Debian
    # images' BTF); 5.14's one-page exception stacks make it 53
    assert CpuEntryAreaLayout(exception_stack_pages=2).pages == 59
    assert CpuEntryAreaLayout(exception_stack_pages=1).pages == 53
    lay = CpuEntryAreaLayout(exception_stack_pages=2)
    # gdt, entry stack, 5 TSS pages, four 2-page stacks above their guards
    assert lay.mapped_pages(debug_store=False) == [0, 1, 2, 3, 4, 5, 6, 8, 9, 11, 12,
                                                   14, 15, 17, 18]
    assert lay.mapped_pages(debug_store=True)[-1] == 58


@pytest.mark.parametrize("cpus,debug_store,tables", [
    (1, False, ["pud", "pmd", "pte"]),
    (9, False, ["pud", "pmd", "pte"]),        # CPU 8's mapped pages end at page 492
    (10, False, ["pud", "pmd", "pte", "pte"]),
    (8, True, ["pud", "pmd", "pte"]),         # with the debug store, CPU 7 ends at 473
    (9, True, ["pud", "pmd", "pte", "pte"]),  # and CPU 8 crosses the first 2 MiB
    (16, False, ["pud", "pmd", "pte", "pte"]),
])
def test_a_pte_table_per_2mib_the_cpus_reach(cpus, debug_store, tables):
    assert table_pages(CpuEntryAreaLayout(2), cpus, debug_store) == tables


def _reserved_k(sim: Simulation) -> int:
    m = re.search(r"(\d+)K reserved", sim.log.text())
    assert m
    return int(m.group(1))


def test_more_cpus_take_more_early_tables():
    # 16 CPUs reach a second 2 MiB of the area: one more memblock page reserved
    # (a real 16-CPU boot printed it: tests/realboots/pc-3g-smp16.log)
    eight, sixteen = boot_default(cpus=8), boot_default(cpus=16)
    assert eight.ctx.arch_state["cpu_entry_area_tables"] == 3
    assert sixteen.ctx.arch_state["cpu_entry_area_tables"] == 4
    # the percpu areas grow too; the tables' page is part of the difference
    assert _reserved_k(sixteen) > _reserved_k(eight)


def test_an_intel_cpu_maps_its_debug_store():
    amd = boot_default(cpus=9)
    intel = boot_default(cpus=9, cpu_features=CpuFeatures(vendor="Intel"))
    assert amd.ctx.arch_state["cpu_entry_area_tables"] == 3
    assert intel.ctx.arch_state["cpu_entry_area_tables"] == 4
    assert _reserved_k(intel) == _reserved_k(amd) + 4


def test_an_unknown_vendor_names_the_field():
    with pytest.raises(MachineConfigError) as ei:
        MachineDescription.from_dict({"arch": "x86_64", "cpu_features": {"vendor": "Acme"},
                                      "firmware": {"e820": [
                                          {"addr": 0, "size": "640K", "type": "RAM"},
                                          {"addr": "1M", "size": "1G", "type": "RAM"}]}})
    assert ei.value.field == "cpu_features.vendor"
    assert "Acme" in str(ei.value)


def test_a_log_states_the_cpu_and_meltdown_follows_the_kernels_whitelist():
    intel = from_dmesg(str(REALBOOTS / "pc-2g-intel.log"))
    cpu = intel.cpu_features
    assert (cpu.vendor, cpu.family, cpu.model) == ("Intel", 0xF, 0x6B)
    # an Intel CPU off the whitelist (and QEMU states no RDCL_NO): the kernel
    # turns PTI on by itself, as this real boot did
    assert cpu.has_meltdown and cpu.meltdown_vulnerable is None
    sim = Simulation(intel.replace(profile="6.1"))
    sim.boot()
    assert "Kernel/User page tables isolation: enabled" in sim.log.text()
    amd = from_dmesg(str(REALBOOTS / "pc-2g-pti.log")).cpu_features
    assert (amd.vendor, amd.has_meltdown) == ("AMD", False)
    nine = from_dmesg(str(REALBOOTS / "pc-3g-smp9-intel.log"))
    assert (nine.cpus, nine.cpu_features.vendor) == (9, "Intel")


@pytest.mark.parametrize("features,meltdown", [
    (CpuFeatures(), False),                                           # AMD
    (CpuFeatures(vendor="Hygon", family=0x18, model=0), False),
    (CpuFeatures(vendor="Intel", family=6, model=0x55), True),        # Skylake-SP
    (CpuFeatures(vendor="Intel", family=6, model=0x1C), False),       # Bonnell Atom
    (CpuFeatures(vendor="Intel", family=5, model=2), False),          # no speculation
    (CpuFeatures(vendor="Intel", family=6, model=0x55, meltdown_vulnerable=False), False),
    (CpuFeatures(meltdown_vulnerable=True), True),
])
def test_meltdown_as_cpu_set_bug_bits_decides(features, meltdown):
    assert features.has_meltdown is meltdown
    assert CpuFeatures.from_dict(features.to_dict()) == features


@pytest.mark.skipif(not DMESG.is_dir(), reason="fixture logs not found")
def test_the_fixtures_machine_is_an_amd_vendor_qemu_cpu():
    f = from_dmesg(str(DMESG / "qemu-x86_64-2g.log")).cpu_features
    assert (f.vendor, f.has_meltdown) == ("AMD", False)
