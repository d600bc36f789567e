"""The DMA atomic pools (every real boot of tests/realboots compares their
lines); here what a QEMU boot does not show: their pages, coherent_pool=,
and 5.14's pool for a ZONE_DMA with no memory."""

from __future__ import annotations

from mmsvc.machine import default_machine
from mmsvc.simulation import Simulation
from tests.conftest import boot_default


def _pool_lines(sim) -> list[str]:
    return [r.text for r in sim.log.records if r.text.startswith("DMA: ")]


def test_three_pools_sized_by_memory_from_the_buddy_allocator():
    sim = boot_default("")  # 4 GiB: 128 KiB per GiB, rounded up to a block
    assert _pool_lines(sim) == [
        f"DMA: preallocated 512 KiB {g} pool for atomic allocations"
        for g in ("GFP_KERNEL", "GFP_KERNEL|GFP_DMA", "GFP_KERNEL|GFP_DMA32")]
    pools = sim.ctx.results["dma_atomic_pools"]
    assert [order for _pfn, order in pools] == [7, 7, 7]
    dma = pools[1][0]
    assert dma < 4096  # below 16 MiB
    assert not sim.mm.is_free(dma)


def test_coherent_pool_sets_their_size():
    assert _pool_lines(boot_default("coherent_pool=1M"))[0] == (
        "DMA: preallocated 1024 KiB GFP_KERNEL pool for atomic allocations")


def test_without_memory_in_zone_dma():
    # memmap= reserves the whole DMA zone: 6.1 makes no DMA pool, 5.14 tries
    # and reports the failure
    cmd = "console=ttyS0 nokaslr memmap=15M$0x100000"
    new = Simulation(default_machine("6.1").replace(cmdline=cmd))
    new.boot()
    assert not any("GFP_KERNEL|GFP_DMA pool" in ln for ln in _pool_lines(new))
    old = Simulation(default_machine("5.14").replace(cmdline=cmd))
    old.boot()
    # the size asked for (121 pages' worth), not a block's
    assert ("DMA: failed to allocate 484 KiB GFP_KERNEL|GFP_DMA pool for atomic allocation"
            in _pool_lines(old))


def test_the_low_last_pfn_line_names_the_architectures_limit():
    lines = [r.text for r in boot_default("").log.records if r.text.startswith("last_pfn")]
    assert lines == ["last_pfn = 0x140000 max_arch_pfn = 0x10000000000",
                     "last_pfn = 0xbffe0 max_arch_pfn = 0x10000000000"]
