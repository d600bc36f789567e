"""Boot-time hash tables (``alloc_large_system_hash`` in mm/page_alloc.c).

The dentry and inode caches size their hash tables from the number of kernel
pages the zones will manage. Early (``HASH_EARLY``) tables come from memblock;
on machines with more than one memory node the tables are spread with
vmalloc later instead (``hashdist``), so the early call does nothing.
"""

from __future__ import annotations

import array
from dataclasses import dataclass

from mmsvc.boot.context import BootContext
from mmsvc.errors import OutOfMemoryError
from mmsvc.units import (
    PAGE_SHIFT,
    PAGE_SIZE,
    SMP_CACHE_BYTES,
    div_round_up,
    round_up,
    roundup_pow_of_two,
)

#: the table scale grows by one for every factor 4 of memory above 64 GiB
ADAPT_SCALE_NPAGES = (64 << 30) >> PAGE_SHIFT
ADAPT_SCALE_SHIFT = 2
MAX_ENTRIES = 0x80000000


@dataclass(frozen=True)
class HashTable:
    name: str
    entries: int
    size: int
    how: str

    @property
    def order(self) -> int:
        return self.size.bit_length() - 1 - PAGE_SHIFT

    def banner(self) -> str:
        return (f"{self.name} hash table entries: {self.entries} (order: {self.order}, "
                f"{self.size} bytes, {self.how})")


def hash_entries(nr_kernel_pages: int, nr_all_pages: int, bucketsize: int, scale: int,
                 numentries: int = 0) -> int:
    """How many buckets ``alloc_large_system_hash`` picks."""
    if not numentries:
        numentries = nr_kernel_pages
        pages_per_mb = (1 << 20) // PAGE_SIZE
        numentries = round_up(numentries, pages_per_mb)
        adapt = ADAPT_SCALE_NPAGES
        while adapt < numentries:
            scale += 1
            adapt <<= ADAPT_SCALE_SHIFT
        if scale > PAGE_SHIFT:
            numentries >>= scale - PAGE_SHIFT
        else:
            numentries <<= PAGE_SHIFT - scale
        if numentries * bucketsize < PAGE_SIZE:
            numentries = PAGE_SIZE // bucketsize
    numentries = roundup_pow_of_two(numentries)
    limit = min(((nr_all_pages << PAGE_SHIFT) >> 4) // bucketsize, MAX_ENTRIES)
    return max(1, min(numentries, limit))


def alloc_large_system_hash_early(ctx: BootContext, name: str, bucketsize: int,
                                  scale: int, numentries: int = 0) -> HashTable:
    """An early (memblock) table: allocate, print, return it."""
    entries = hash_entries(ctx.g.nr_kernel_pages, ctx.g.nr_all_pages, bucketsize, scale,
                           numentries)
    log2qty = entries.bit_length() - 1
    caller = "alloc_large_system_hash"
    while True:
        size = bucketsize << log2qty
        try:
            ctx.mm.memblock.alloc(size, SMP_CACHE_BYTES, caller=caller)
            break
        except MemoryError:
            if size <= PAGE_SIZE or log2qty <= 1:
                raise
            log2qty -= 1
    table = HashTable(name, 1 << log2qty, size, "linear")
    ctx.pr_info(table.banner())
    ctx.results.setdefault("hash_tables", []).append(table.__dict__)
    return table


PMD_ORDER = 9


def alloc_large_system_hash_vmalloc(ctx: BootContext, name: str, bucketsize: int,
                                    scale: int, numentries: int = 0) -> HashTable:
    """A late table spread over the nodes with vmalloc (``hashdist``): huge
    pages when each node's share is at least a PMD, as ``vmalloc_huge`` does.
    (Without a vmalloc space the pages come straight from the buddy
    allocator, on the nodes the memory policy picks: interleaved at boot.)"""
    entries = hash_entries(ctx.g.nr_kernel_pages, ctx.g.nr_all_pages, bucketsize, scale,
                           numentries)
    size = bucketsize * entries
    nodes = max(ctx.g.nr_online_nodes, 1)  # vmalloc_huge: size per online node
    # vmalloc_huge uses PMD pages when each node's share is at least a PMD,
    # unless nohugevmalloc turned huge vmalloc mappings off
    huge = (size // nodes >= (PAGE_SIZE << PMD_ORDER)
            and ctx.cmdline.get("nohugevmalloc") is None)
    if ctx.g.vmap_initialized:
        addr = ctx.mm.vmalloc(size, caller="alloc_large_system_hash", huge=huge)
        pages: list[int] = [addr]
    else:
        order = PMD_ORDER if huge else 0
        out = array.array("Q", bytes(8 * div_round_up(size, PAGE_SIZE << order)))
        got = ctx.mm.alloc_pages_bulk(out, order, "GFP_KERNEL")
        if got < len(out):
            raise OutOfMemoryError(f"{name} hash table: {len(out)} blocks of order {order}, "
                                   f"{got} allocated")
        pages = list(out)
    table = HashTable(name, entries, size, "vmalloc hugepage" if huge else "vmalloc")
    ctx.pr_info(table.banner())
    ctx.results.setdefault("hash_tables", []).append({**table.__dict__, "where": pages})
    return table


def vfs_caches_init(ctx: BootContext, hashdist: bool) -> None:
    """``dcache_init``/``inode_init``: the tables the early call left to vmalloc."""
    if not hashdist:
        return
    cmd = ctx.cmdline
    alloc_large_system_hash_vmalloc(ctx, "Dentry cache", 8, 13, cmd.get_int("dhash_entries", 0))
    alloc_large_system_hash_vmalloc(ctx, "Inode-cache", 8, 14, cmd.get_int("ihash_entries", 0))


def vfs_caches_init_early(ctx: BootContext, hashdist: bool) -> None:
    """``dcache_init_early`` and ``inode_init_early``: early tables unless hashdist."""
    if hashdist:
        return
    cmd = ctx.cmdline
    alloc_large_system_hash_early(ctx, "Dentry cache", 8, 13, cmd.get_int("dhash_entries", 0))
    alloc_large_system_hash_early(ctx, "Inode-cache", 8, 14, cmd.get_int("ihash_entries", 0))


