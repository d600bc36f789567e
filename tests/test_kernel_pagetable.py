"""The kernel page table of a booted x86_64 machine, through Python."""

from __future__ import annotations

import array

import pytest

from mmsvc import _core
from mmsvc.errors import InvalidStateError, NotAllocatedError
from mmsvc.machine import default_machine
from mmsvc.simulation import Simulation

PAGE_OFFSET_L5 = 0xFF11000000000000
VMALLOC_START_L5 = 0xFFA0000000000000


@pytest.fixture(scope="module")
def sim():
    s = Simulation(default_machine().replace(profile="6.1"))
    s.boot()
    return s


def test_direct_map_uses_large_pages(sim):
    t = sim.mm.translate(PAGE_OFFSET_L5 + 0x40000000 + 0x1234)  # 1 GiB: a GB page
    assert t["phys"] == 0x40001234 and t["page_size"] == 1 << 30
    t = sim.mm.translate(PAGE_OFFSET_L5 + 0x200000)
    assert t["page_size"] == 2 << 20
    assert t["entry"] & 0x80 and t["entry"] >> 63  # PSE (huge) and NX
    t = sim.mm.translate(PAGE_OFFSET_L5 + 0x1000)
    assert t["page_size"] == 4096


def test_walk_shows_every_level(sim):
    steps = sim.mm.walk(PAGE_OFFSET_L5 + 0x1000)
    assert [s["name"] for s in steps] == ["pgd", "p4d", "pud", "pmd", "pte"]
    assert steps[-1]["entry"] & ~0xFFF & ((1 << 52) - 1) == 0x1000
    assert "pte[1]" in steps[-1]["text"]


def test_map_translate_unmap_in_vmalloc_space(sim):
    virt = VMALLOC_START_L5 + (1 << 30)
    pfn = sim.mm.alloc_pages(order=0)
    sim.mm.kernel_map_range(virt, pfn << 12, 4096)
    assert sim.mm.translate(virt + 8)["phys"] == (pfn << 12) + 8
    with pytest.raises(InvalidStateError, match="already mapped"):
        sim.mm.kernel_map_range(virt, pfn << 12, 4096)
    virts = array.array("Q", [virt, virt + 4096])
    out = array.array("Q", bytes(16))
    assert sim.mm.translate_batch(virts, out) == 1
    assert out[0] == pfn << 12 and out[1] == 2**64 - 1
    sim.mm.kernel_unmap_range(virt, 4096)
    with pytest.raises(NotAllocatedError):
        sim.mm.translate(virt)
    sim.mm.free_pages(pfn, 0)


def test_direct_map_counts_are_the_kernels():
    from mmsvc.views import meminfo

    early = Simulation(default_machine("6.1"))
    early.run(until="setup_arch/init_mem_mapping")
    early.step()
    G = 1 << 30
    leaves = dict(early.mm.leaf_counts_kb(PAGE_OFFSET_L5, 1 << 52))
    counts = dict(early.mm.direct_pages_count())
    # 1G pages map [1G, 2G) and [4G, 5G); the top-down walk maps the latter
    # in its first, 2 MiB step (the whole GiB is RAM), and its next two
    # steps find that page again: phys_pud_init counts it each time
    assert leaves[G] == 2 * (G >> 10)
    assert counts[G] == 4
    early.run()
    info = meminfo(early)
    # meminfo shows the counters, not the leaves: splits after boot only
    # lower them, and the re-counted [4G, 5G) keeps them above the leaves
    leaves_after = dict(early.mm.leaf_counts_kb(PAGE_OFFSET_L5, 1 << 52))
    assert info["DirectMap1G"] <= 4 * (G >> 10)
    assert info["DirectMap1G"] > leaves_after[G]
    total_kb = info["DirectMap4k"] + info["DirectMap2M"] + info["DirectMap1G"]
    assert total_kb >= info["MemTotal"]


def test_batch_map_is_all_or_nothing(sim):
    base = VMALLOC_START_L5 + (2 << 30)
    pfns = [sim.mm.alloc_pages(0) for _ in range(4)]
    virts = array.array("Q", [base + i * 4096 for i in range(4)])
    physs = array.array("Q", [p << 12 for p in pfns])
    sim.mm.kernel_map_batch(virts, physs)
    assert [sim.mm.translate(v)["phys"] for v in virts] == list(physs)
    clash = array.array("Q", [base + 8 * 4096, base])  # the second is mapped already
    with pytest.raises(InvalidStateError):
        sim.mm.kernel_map_batch(clash, array.array("Q", [physs[0], physs[1]]))
    with pytest.raises(NotAllocatedError):
        sim.mm.translate(base + 8 * 4096)  # rolled back
    sim.mm.kernel_unmap_range(base, 4 * 4096)


def test_slow_virt_to_phys_agrees_with_translate_and_the_plain_python_table():
    from mmsvc.bench.pypagetable import PyPageTable
    from mmsvc.errors import InvalidArgumentError

    mm = _core.Mm("5.14")
    mm.memblock.add(1 << 20, 63 << 20)
    mm.init_kernel_pagetable("x86_64_4level")
    base = 0x0000_7F00_0000_0000
    py = PyPageTable()
    for off, phys, size in ((0, 0x4000_0000, 1 << 30), (1 << 30, 0x20_0000, 1 << 21),
                            ((1 << 30) + (1 << 21), 0x5000, 1 << 12)):
        mm.kernel_map_range(base + off, phys, size, page_size=size)
        py.map(base + off, phys, size)
    for va in (base + 0x1234, base + (1 << 30) + 0x1F_FFFF, base + (1 << 30) + (1 << 21) + 0xABC):
        assert mm.slow_virt_to_phys(va) == mm.translate(va)["phys"] == py.translate(va)
    unmapped = base + (1 << 31)
    assert py.translate(unmapped) is None
    with pytest.raises(NotAllocatedError, match="not mapped"):
        mm.slow_virt_to_phys(unmapped)
    with pytest.raises(InvalidArgumentError, match="canonical"):
        mm.slow_virt_to_phys(1 << 62)


def test_static_tables_must_be_addressable():
    from mmsvc.errors import InvalidArgumentError, OutOfRangeError

    mm = _core.Mm("6.1")
    with pytest.raises(OutOfRangeError, match="table pfn"):
        mm.init_kernel_pagetable("x86_64_4level", root_pfn=1 << 60)
    mm.init_kernel_pagetable("x86_64_4level", root_pfn=0x1234)
    assert mm.walk(0xFFFFFFFF81000000)[0]["table_pfn"] == 0x1234
    high = 0xFFFFFFFF81000000
    with pytest.raises(OutOfRangeError, match="table pfn"):
        mm.kernel_map_static(high, 0x1000000, 2 << 20, [1 << 50, 2], page_size=2 << 20)
    with pytest.raises(InvalidArgumentError, match="too few static"):
        mm.kernel_map_static(high, 0x1000000, 2 << 20, [0x1235], page_size=2 << 20)
    with pytest.raises(NotAllocatedError):  # nothing mapped by the failed call
        mm.translate(high)
    mm.kernel_map_static(high, 0x1000000, 2 << 20, [0x1235, 0x1236], page_size=2 << 20)
    assert mm.translate(high + 5)["phys"] == 0x1000005
    assert mm.walk(high)[1]["table_pfn"] == 0x1235


def test_early_pool_bounds_are_checked():
    from mmsvc.errors import InvalidArgumentError

    mm = _core.Mm("6.1")
    with pytest.raises(InvalidArgumentError, match="start_pfn"):
        mm.set_early_pgt_pool(2**64 - 4, 16)
    mm.set_early_pgt_pool(0x100, 16)
    assert mm.early_pgt_pool_left() == 16
