"""The vmalloc space of a booted x86_64 machine, through Python."""

from __future__ import annotations

import pytest

from mmsvc.errors import DoubleFreeError, NotAllocatedError, OutOfMemoryError
from mmsvc.machine import default_machine
from mmsvc.simulation import Simulation
from mmsvc.views import meminfo


@pytest.fixture
def sim():
    s = Simulation(default_machine().replace(profile="6.1"))
    s.boot()
    return s


def test_vmalloc_maps_pages_with_a_guard_page(sim):
    mm = sim.mm
    used = meminfo(sim)["VmallocUsed"]
    addr = mm.vmalloc(64 << 10, caller="test_driver_probe")
    line = next(ln for ln in mm.vmallocinfo().splitlines() if "test_driver_probe" in ln)
    assert line.startswith(f"0x{addr:016x}-0x{addr + (68 << 10):016x}   69632 test_driver_probe "
                           "pages=16 vmalloc")
    pfn = mm.vmalloc_to_pfn(addr + 4096)
    assert mm.translate(addr + 4096)["phys"] == pfn << 12
    with pytest.raises(NotAllocatedError):
        mm.translate(addr + (64 << 10))  # the guard page
    assert meminfo(sim)["VmallocUsed"] == used + 64
    mm.vfree(addr)
    with pytest.raises(DoubleFreeError):
        mm.vfree(addr)
    assert meminfo(sim)["VmallocUsed"] == used


def test_huge_and_vmap(sim):
    mm = sim.mm
    addr = mm.vmalloc(4 << 20, caller="huge_user", huge=True)
    assert mm.translate(addr)["page_size"] == 2 << 20
    pfns = [mm.alloc_pages(0) for _ in range(3)]
    v = mm.vmap(pfns)
    assert [mm.vmalloc_to_pfn(v + i * 4096) for i in range(3)] == pfns
    mm.vunmap(v)
    mm.vfree(addr)
    for p in pfns:
        mm.free_pages(p, 0)


def test_unknown_address_is_refused(sim):
    with pytest.raises(NotAllocatedError):
        sim.mm.vfree(0xFFA0_1234_5678_0000)


def test_vfree_keeps_the_page_tables_the_next_area_reuses(sim):
    """vunmap_range clears the ptes and keeps the tables, as the kernel
    does; a failed vmalloc still leaves nothing behind."""
    mm = sim.mm
    tables = mm.page_table_pages()
    far = (0xFFA0_0100_0000_0000, 0xFFA0_0100_0040_0000)  # an untouched 4 MiB of the space
    addr = mm.vmalloc(16 << 10, caller="t", range=far)
    grown = mm.page_table_pages()
    assert grown > tables  # new pmd and pte tables (and more) for that far region
    mm.vfree(addr)
    assert mm.page_table_pages() == grown
    again = mm.vmalloc(16 << 10, caller="t", range=far)
    assert again == addr and mm.page_table_pages() == grown
    mm.vfree(again)
    with pytest.raises(OutOfMemoryError):
        mm.vmalloc(1 << 50, caller="t")
    assert mm.page_table_pages() == grown


def test_area_pfns_match_vmalloc_to_pfn(sim):
    mm = sim.mm
    for huge, size in ((False, 40 << 10), (True, 2 << 20)):
        addr = mm.vmalloc(size, caller="t", huge=huge)
        pfns = mm.vmalloc_area_pfns(addr)
        assert pfns == [mm.vmalloc_to_pfn(addr + i * 4096) for i in range(size // 4096)]
        mm.vfree(addr)
    with pytest.raises(DoubleFreeError):
        mm.vmalloc_area_pfns(addr)
