"""The DMA atomic pools (kernel/dma/pool.c, CONFIG_DMA_COHERENT_POOL).

A postcore initcall fills one pool for each kind of memory a driver may
need without sleeping: any (GFP_KERNEL), ZONE_DMA and ZONE_DMA32. Each is
one block from the buddy allocator, 128 KiB per GiB of memory (at least
128 KiB, at most a MAX_ORDER block) unless ``coherent_pool=`` says, rounded
up to a power-of-two block; a smaller one is tried when that fails.
"""

from __future__ import annotations

from mmsvc.boot.context import BootContext
from mmsvc.errors import OutOfMemoryError
from mmsvc.klog import KERN_ERR
from mmsvc.machine.units import memparse
from mmsvc.units import PAGE_SHIFT

SZ_128K = 128 << 10
#: pages per GiB over pages per 128 KiB
_PER_GIB = (1 << 30) // SZ_128K


def atomic_pool_size(ctx: BootContext) -> int:
    """``coherent_pool=``, else 128 KiB per GiB of RAM, between 128 KiB and
    a MAX_ORDER block."""
    given = ctx.cmdline.get("coherent_pool")
    if given:
        size = memparse(given)[0]
        if size:
            return size
    pages = min(ctx.g.totalram_pages // _PER_GIB, 1 << (ctx.arch.max_order - 1))
    return max(pages << PAGE_SHIFT, SZ_128K)


def _order(size: int) -> int:
    pages = -(-size >> PAGE_SHIFT)
    return max(pages - 1, 0).bit_length()


def _pool(ctx: BootContext, size: int, gfp: str) -> list[tuple[int, int]]:
    order = min(_order(size), ctx.arch.max_order - 1)
    while True:
        try:
            pfn = ctx.mm.alloc_pages(order=order, gfp=f"{gfp}|__GFP_NOWARN")
        except OutOfMemoryError:
            if order == 0:
                ctx.printk(f"DMA: failed to allocate {size >> 10} KiB {gfp} pool for atomic "
                           "allocation", KERN_ERR)
                return []
            order -= 1
            continue
        ctx.pr_info(f"DMA: preallocated {(1 << (order + PAGE_SHIFT)) >> 10} KiB {gfp} pool "
                    "for atomic allocations")
        return [(pfn, order)]


def dma_atomic_pool_init(ctx: BootContext) -> None:
    """The pools: any memory, ZONE_DMA (6.1: only if it has managed pages;
    5.14 tries regardless) and ZONE_DMA32."""
    kc = ctx.kconfig
    if not kc.dma_coherent_pool:
        return
    size = atomic_pool_size(ctx)
    pools = _pool(ctx, size, "GFP_KERNEL")
    if kc.zone_dma:
        managed = any(z["zone"] == "DMA" and z["managed"] for z in ctx.mm.zones())
        if managed or not ctx.profile_at_least("6.1"):
            pools += _pool(ctx, size, "GFP_KERNEL|GFP_DMA")
    if kc.zone_dma32:
        pools += _pool(ctx, size, "GFP_KERNEL|GFP_DMA32")
    ctx.results["dma_atomic_pools"] = pools
