"""pti_init's user page tables (arch/x86/mm/pti.c): which tables the walks
add, with 4 or 5 paging levels, more CPUs and the vsyscall page."""

from __future__ import annotations

import pytest

from mmsvc.machine.description import CpuFeatures
from mmsvc_x86_64.pti import UserPageTables

from .conftest import boot_default


def _tables(extra: str = "pti=on", **fields) -> list[str]:
    sim = boot_default(extra, **fields)
    assert "Kernel/User page tables isolation: enabled" in sim.log.text()
    return sim.ctx.arch_state["pti_tables"]


def test_five_levels():
    # the cpu_entry_area's pgd slot gets a p4d table (its p4d entry is the
    # kernel's); the TSS, through the direct map: p4d, pud, pmd, pte; the entry
    # text, cloned at PMD level under the first pgd slot: pud, pmd
    assert _tables() == ["p4d", "p4d", "pud", "pmd", "pte", "pud", "pmd"]


def test_four_levels_fold_the_p4d():
    assert _tables(cpu_features=CpuFeatures(la57=False)) == ["pud", "pmd", "pte", "pud", "pmd"]


def test_a_pte_table_per_2mib_of_tss_pages():
    # 256 KiB percpu units: the 16 CPUs' TSS pages span two 2 MiB regions
    assert _tables(cpus=16).count("pte") == 2
    assert _tables(cpus=8).count("pte") == 1


def test_the_vsyscall_page_only_when_emulated():
    # vsyscall=emulate maps the page in the kernel's tables, and PTI clones it:
    # a pmd table (its 1 GiB is not the text's) and a pte table
    assert _tables("pti=on vsyscall=emulate")[-2:] == ["pmd", "pte"]
    assert len(_tables("pti=on vsyscall=xonly")) == 7


def test_no_pti_no_tables():
    sim = boot_default()
    assert "pti_tables" not in sim.ctx.arch_state


@pytest.mark.parametrize("five", [True, False])
def test_walks_share_what_is_present(five):
    upt = UserPageTables(five_level=five)
    upt.walk_pte(0xFF11000000006000)
    upt.walk_pte(0xFF11000000046000)        # same 2 MiB
    upt.walk_pte(0xFF11000000206000)        # next 2 MiB: a pte table only
    assert upt.taken == (["p4d"] if five else []) + ["pud", "pmd", "pte", "pte"]


def _freed_initmem(sim) -> tuple[int, int]:
    from mmsvc_x86_64.initmem import image_layout, kernel_virt

    lo, hi = image_layout(sim.ctx)["unused kernel image (initmem)"]
    return kernel_virt(sim.ctx, lo), hi - lo


@pytest.mark.parametrize("nx", [True, False])
def test_freed_image_pieces_leave_the_high_mapping(nx):
    from mmsvc.errors import NotAllocatedError

    sim = boot_default("pti=on", cpu_features=CpuFeatures(nx=nx))
    virt, length = _freed_initmem(sim)
    for addr in (virt, virt + length - 4096):
        with pytest.raises(NotAllocatedError, match="not mapped"):
            sim.mm.translate(addr)
    # the direct-map alias stays: the page is free memory now
    phys = sim.mm.slow_virt_to_phys(sim.ctx.results["direct_map"]["virt"] + (1 << 24))
    assert phys == 1 << 24
    # without NX the walk still counts the entries it took away (RW set)
    wx = [line for line in sim.log.text().splitlines() if "W+X" in line]
    assert ("FAILED" in wx[0]) is not nx


def test_without_pti_the_freed_pieces_stay_mapped():
    sim = boot_default("nopti", cpu_features=CpuFeatures(nx=False))
    virt, length = _freed_initmem(sim)
    assert sim.mm.slow_virt_to_phys(virt + length - 4096) >= 1 << 24


def test_a_cpu_without_nx_splits_the_edges_it_unmaps():
    # making the freed pieces no-execute changes nothing without NX; taking
    # them out of the high mapping splits their partly covered 2 MiB pages
    def splits(cmd: str) -> int:
        from mmsvc import views
        return views.meminfo(boot_default(cmd, cpu_features=CpuFeatures(nx=False)))["DirectMap4k"]

    assert splits("pti=on") > splits("nopti")
