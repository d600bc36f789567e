"""percpu_alloc=page: the first per-cpu chunk page by page, mapped at the
start of the vmalloc space (pcpu_page_first_chunk), on the real extension
and the installed x86_64 plugin."""

from __future__ import annotations

import pytest

from mmsvc import views

from .conftest import boot_default

PAGE = 4096


def _memtotal(sim) -> int:
    return views.meminfo(sim)["MemTotal"]


@pytest.mark.parametrize("profile", ["5.14", "6.1"])
def test_units_are_memblock_pages_mapped_at_vmalloc_start(profile):
    sim = boot_default("percpu_alloc=page", profile, cpus=2)
    text = sim.log.text()
    pc = sim.ctx.results["percpu"]
    # static + 8K reserved + the 12K early dynamic room, in whole pages
    pages = pc["pages_per_cpu"]
    assert pages * PAGE == pc["static"] + pc["reserved"] + pc["dynamic"] == pc["unit"]
    assert pc["dynamic"] >= 12 << 10 and pc["reserved"] == 8 << 10
    assert (f"percpu: {pages} 4K pages/cpu s{pc['static']} r8192 d{pc['dynamic']}\n"
            in text)
    assert "percpu: Embedded" not in text
    assert not any(ln.startswith("Unknown") and "percpu_alloc" in ln for ln in text.splitlines())
    # every page of every unit is mapped where the vmalloc space starts
    base = pc["unit_vaddrs"][0]
    assert pc["unit_vaddrs"][1] == base + pc["unit"]
    for i, pfn in enumerate(pc["pfns"]):
        assert sim.mm.slow_virt_to_phys(base + i * PAGE) == pfn * PAGE
    # the area is the vmalloc space's first: no guard page, no pages of its own
    first = sim.mm.vmallocinfo().splitlines()[0]
    assert first == (f"0x{base:016x}-0x{base + 2 * pc['unit']:016x} "
                     f"{2 * pc['unit']:>7} vmalloc")


def test_it_reserves_what_the_units_use_not_whole_atoms():
    embed = boot_default(cpus=4)
    page = boot_default("percpu_alloc=page", cpus=4)
    e, p = embed.ctx.results["percpu"], page.ctx.results["percpu"]
    # embed keeps each unit's used pages (62); page keeps 58 a CPU, plus its
    # page tables (a p4d with 5-level paging, a pud, a pmd and a pte table),
    # and smaller unit maps
    saved = 4 * (e["pages_per_cpu"] - p["pages_per_cpu"]) - 4
    assert _memtotal(page) - _memtotal(embed) == saved * 4
    # the vmalloc area's top-level entry was populated already: preallocation
    # takes one page fewer
    assert (page.ctx.arch_state["vmalloc_prealloc_pages"]
            == embed.ctx.arch_state["vmalloc_prealloc_pages"] - 1)


def test_pti_maps_each_tss_through_the_vmalloc_address():
    from mmsvc_x86_64.pti import TSS_PERCPU_OFFSET

    sim = boot_default("percpu_alloc=page pti=on", cpus=2)
    ranges = sim.ctx.arch_state["pti_ranges"]
    for unit in sim.ctx.results["percpu"]["unit_vaddrs"]:
        tss = (unit + TSS_PERCPU_OFFSET) & ~(PAGE - 1)
        assert (tss, tss + PAGE) in ranges


def test_the_choice_and_bad_values():
    text = boot_default("percpu_alloc=bogus percpu_alloc percpu_alloc=embed").log.text()
    assert "percpu: unknown allocator bogus specified\n" in text
    assert "Malformed early option 'percpu_alloc'\n" in text
    assert "percpu: Embedded" in text
    # the last word wins
    assert "4K pages/cpu" in boot_default("percpu_alloc=embed percpu_alloc=page").log.text()


def test_pcpu_alloc_dump_wraps_and_marks_unused_units():
    from mmsvc.mm.percpu import FirstChunk, pcpu_dump_alloc_info

    # two units an allocation, 11 CPUs over two groups, one unit unused
    fc = FirstChunk(217088, 8192, 28672, 1 << 20, 2 << 20, upa=2)
    maps = [list(range(6)), [6, 7, 8, 9, 10, None]]
    lines = pcpu_dump_alloc_info(fc, maps)
    assert lines[0] == "pcpu-alloc: s217088 r8192 d28672 u1048576 alloc=1*2097152"
    # width 2*(2+1)+1+3 = 10: six allocations fit 60 columns, four (a power of two) a line
    assert lines[1] == "pcpu-alloc: [0] 00 01 [0] 02 03 [0] 04 05 [1] 06 07 "
    assert lines[2] == "pcpu-alloc: [1] 08 09 [1] 10 -- "
    # what a debug boot prints, between the unit maps and the first chunks
    sim = boot_default("loglevel=8", cpus=2)
    text = sim.log.text()
    assert "pcpu-alloc: s" in text and "pcpu-alloc: [0] 0 1 \n" in text
