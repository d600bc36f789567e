"""x86_64 setup_arch details that decide the reserved memory to the page:
where the direct map's page tables come from (brk buffer or memblock,
init_mem_mapping's top-down walk), the nosave regions, the per-cpu and
cpumask allocations."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from mmsvc.machine import default_machine
from mmsvc.machine.e820 import E820_RAM, E820_RESERVED, E820Entry
from mmsvc.simulation import Simulation
from mmsvc_x86_64.setup import nosave_calls

GiB = 1 << 30


def _trace(machine) -> list[str]:
    sim = Simulation(machine.replace(cmdline=machine.cmdline + " memblock=debug"))
    sim.boot()
    return sim.log.text().splitlines()


def _low_ram_machine(low_end: int, high_gib: int = 0, profile: str = "6.1"):
    """QEMU-pc-like: RAM to ``low_end`` below 4 GiB, ``high_gib`` above."""
    e820 = [E820Entry(0, 0x9FC00, E820_RAM), E820Entry(0x9FC00, 0x400, E820_RESERVED),
            E820Entry(0xF0000, 0x10000, E820_RESERVED),
            E820Entry(0x100000, low_end - 0x100000, E820_RAM),
            E820Entry(0xFFFC0000, 0x40000, E820_RESERVED)]
    if high_gib:
        e820.append(E820Entry(4 * GiB, high_gib * GiB, E820_RAM))
    m = default_machine(profile)
    return m.replace(firmware=m.firmware.__class__(tuple(e820)))


def test_tables_of_the_range_holding_brk_come_from_mapped_memory():
    # low RAM ends off a GiB boundary and memory above 4 GiB is mapped
    # first: the pmd and pte tables of the low range cannot use brk
    trace = _trace(_low_ram_machine(0xBFFDF000, high_gib=1))
    lows = [line for line in trace if "alloc_low_pages" in line and "phys_alloc_range" in line]
    assert len(lows) == 2
    lo, hi = (int(x, 16) for x in re.search(r"from=(0x[0-9a-f]+) max_addr=(0x[0-9a-f]+)",
                                           lows[0]).groups())
    assert (lo, hi) == (4 * GiB + GiB // 2, 5 * GiB)  # what the top-down steps mapped
    assert any("memory_map_top_down" in line for line in trace)


def test_514_finds_the_ranges_and_reserves_the_tables():
    # memblock_find_in_range, then memblock_reserve: no allocation lines
    trace = _trace(_low_ram_machine(0xBFFDF000, high_gib=1, profile="5.14"))
    lows = [line for line in trace if line.endswith(" alloc_low_pages")]
    assert len(lows) == 2 and all(line.startswith("memblock_reserve: [") for line in lows)
    assert not any("memory_map_top_down" in line for line in trace)


def test_below_4g_every_direct_map_table_fits_in_brk():
    trace = _trace(_low_ram_machine(0x7FFDF000))
    assert not [line for line in trace if "alloc_low_pages" in line]


def test_the_root_table_is_static_and_the_brk_buffer_feeds_the_rest():
    sim = Simulation(_low_ram_machine(0x7FFDF000))
    sim.run(until="setup_arch/init_mem_mapping")
    sim.step()
    # ISA range: p4d, pud, pmd, pte; the top 2 MiB: a pmd; the tail: a pte
    assert sim.mm.early_pgt_pool_left() == 16 - 6


@pytest.mark.parametrize(("profile_6_1", "want"), [
    (True, [(0, 1), (0x9F, 0x100)]),
    (False, [(0, 1), (0x9F, 0xA0), (0xA0, 0xF0), (0xF0, 0x100)]),  # stops at limit_pfn
])
def test_nosave_regions_per_profile(profile_6_1, want):
    e820 = [E820Entry(0, 0x1000, E820_RESERVED), E820Entry(0x1000, 0x9EC00, E820_RAM),
            E820Entry(0x9FC00, 0x400, E820_RESERVED), E820Entry(0xF0000, 0x10000, E820_RESERVED),
            E820Entry(0x100000, 0x7FEDF000, E820_RAM),
            E820Entry(0xFFFC0000, 0x40000, E820_RESERVED)]
    assert nosave_calls(e820, 0x7FFDF, profile_6_1) == want


def test_cpumasks_follow_the_percpu_chunk():
    trace = [line for line in _trace(default_machine("6.1")) if "memblock_alloc_try_nid" in line]
    callers = [line.rsplit(" ", 1)[-1] for line in trace]
    first_mask = callers.index("setup_node_to_cpumask_map")
    assert "pcpu_fc_alloc" in callers[:first_mask]
    assert callers[first_mask + 1:first_mask + 5] == ["setup_cpu_local_masks"] * 4
    assert callers.index("spp_getpage") > callers.index("alloc_large_system_hash")


def test_the_bpf_jit_pack_is_interleaved_and_write_protected_through_the_direct_map():
    sim = Simulation(default_machine("6.1"))
    sim.boot()
    pfns = sim.ctx.arch_state["bpf_jit_pages"]
    assert len(pfns) == 512 and len(set(pfns)) == 512  # 2 MiB on one node
    assert all(sim.mm.allocated_order(p) == 0 for p in pfns)
    virt = sim.ctx.results["direct_map"]["virt"]
    assert all("WRITE" not in sim.mm.translate(virt + (p << 12))["flags"] for p in pfns[:8])


def test_no_bpf_pack_without_the_jit():
    m = default_machine("6.1")
    sim = Simulation(m.replace(kconfig=dataclasses.replace(m.kconfig, bpf_jit=False)))
    sim.boot()
    assert "bpf_jit_pages" not in sim.ctx.arch_state


def test_init_irq_write_protects_the_idt_page_in_both_mappings():
    from mmsvc_x86_64.initmem import START_KERNEL_MAP, idt_table

    sim = Simulation(default_machine("6.1"))
    sim.boot()
    idt = idt_table(sim.ctx)
    # the catalogued generic build: idt_table - _text
    assert idt == sim.machine.kernel.load_address + 0x2313000
    virt = sim.ctx.results["direct_map"]["virt"]
    for base in (START_KERNEL_MAP, virt):
        assert "WRITE" not in sim.mm.translate(base + idt)["flags"]
    # the direct map's 2 MiB page holding it was split; its neighbours stay writable
    assert sim.mm.walk(virt + idt)[-1]["name"] == "pte"
    assert "WRITE" in sim.mm.translate(virt + idt + 4096)["flags"]


def test_an_uncatalogued_build_places_the_idt_at_the_start_of_bss():
    from mmsvc_x86_64.initmem import idt_table, section_starts

    m = default_machine("6.1")
    sim = Simulation(m.replace(kernel=dataclasses.replace(m.kernel, release="6.1.0-custom")))
    assert sim.ctx.build.idt_table_offset is None
    assert idt_table(sim.ctx) == section_starts(sim.ctx)["bss"]


def test_the_bpf_pack_takes_the_percpu_unit_remainder_first():
    """The pageblock holding the first percpu unit starts with reserved
    pages, so deferred init never makes it MOVABLE: the free rest of the
    2 MiB unit sits on the unmovable lists, and the JIT's GFP_KERNEL pages
    come from it (on a real kernel too: the pack splits that 2 MiB of the
    direct map)."""
    sim = Simulation(default_machine("6.1"))
    sim.boot()
    unit = sim.ctx.results["percpu"]["units"][0] >> 12
    block = unit & ~511
    assert sim.mm.pageblock_migratetype(block) == "Unmovable"
    pfns = set(sim.ctx.arch_state["bpf_jit_pages"])
    assert any(block <= p < block + 512 for p in pfns)
    virt = sim.ctx.results["direct_map"]["virt"]
    assert sim.mm.walk(virt + (block << 12))[-1]["name"] == "pte"


def test_the_vmemmap_is_mapped_where_the_memmap_lies():
    import dataclasses

    import pytest

    from mmsvc.errors import MmsvcError
    from mmsvc.machine import default_machine
    from mmsvc.simulation import Simulation

    vmemmap = 0xFFD4000000000000  # 5-level
    sim = Simulation(default_machine("6.1"))
    sim.boot()
    page = sim.mm.translate(vmemmap + 0x1000 * 64)  # struct page of pfn 0x1000
    assert page["page_size"] == 2 << 20
    assert {"WRITE", "NOEXEC"} <= set(page["flags"])
    # the memmap came from memblock: a reserved page, not free memory
    assert not sim.mm.is_free(page["phys"] >> 12)
    # the PCI hole's sections have no memmap
    with pytest.raises(MmsvcError):
        sim.mm.translate(vmemmap + (0xD0000000 >> 12) * 64)
    # without PSE, 4 KiB pages
    m = default_machine("6.1")
    nopse = Simulation(m.replace(cpu_features=dataclasses.replace(m.cpu_features, pse=False)))
    nopse.boot()
    assert nopse.mm.translate(vmemmap + 0x1000 * 64)["page_size"] == 4096


def test_a_pack_page_after_brk_is_write_protected_in_the_high_mapping_too():
    """cpa_process_alias: a vmalloc'ed page inside [_text, roundup(_brk_end,
    2M)) (the free tail after brk) has a high-mapping alias as well; its
    2 MiB page splits, and that split counts in DirectMap like the direct
    map's (the real pc-2g-kaslr boot's pack lies there: DirectMap4k 28544)."""
    from mmsvc import views
    from mmsvc.machine import from_dmesg
    from mmsvc_x86_64.initmem import kernel_virt

    log = Path(__file__).parent / "realboots" / "pc-2g-kaslr.log"
    sim = Simulation(from_dmesg(str(log))
                     .replace(profile="6.1"))
    sim.boot()
    text, high_end = sim.ctx.arch_state["high_map"]
    tail = [p for p in sim.ctx.arch_state["bpf_jit_pages"]
            if high_end - (2 << 20) <= p << 12 < high_end]
    assert tail
    page = sim.mm.translate(kernel_virt(sim.ctx, tail[0] << 12))
    assert page["page_size"] == 4096 and "WRITE" not in page["flags"]
    # the rest of the high mapping's last 2 MiB page stays writable
    other = next(p for p in range((high_end >> 12) - 512, high_end >> 12) if p not in set(tail))
    assert "WRITE" in sim.mm.translate(kernel_virt(sim.ctx, other << 12))["flags"]
    assert views.meminfo(sim)["DirectMap4k"] == 28544
    # a pack page outside the image's mapping has no high alias
    low = min(sim.ctx.arch_state["bpf_jit_pages"])
    assert low << 12 < text
