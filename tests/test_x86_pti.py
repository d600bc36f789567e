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
