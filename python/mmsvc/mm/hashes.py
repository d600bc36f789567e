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
        return get_order(self.size)

    def banner(self) -> str:
        return (f"{self.name} hash table entries: {self.entries} (order: {self.order}, "
                f"{self.size} bytes, {self.how})")


def get_order(size: int) -> int:
    """The kernel's ``get_order``: the smallest block of pages holding *size*."""
    return max(0, (size - 1).bit_length() - PAGE_SHIFT)


def hash_entries(nr_kernel_pages: int, nr_all_pages: int, bucketsize: int, scale: int,
                 numentries: int = 0, low_limit: int = 0, high_limit: int = 0) -> int:
    """How many buckets ``alloc_large_system_hash`` picks: *numentries* if
    given, else one per ``2^scale`` bytes of kernel memory (the scale growing
    with big memory unless the caller caps the table), a power of two
    between *low_limit* and *high_limit* (default: 1/16 of memory)."""
    if not numentries:
        numentries = nr_kernel_pages
        pages_per_mb = (1 << 20) // PAGE_SIZE
        numentries = round_up(numentries, pages_per_mb)
        if not high_limit:
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
    limit = high_limit or ((nr_all_pages << PAGE_SHIFT) >> 4) // bucketsize
    limit = min(limit, MAX_ENTRIES)
    numentries = max(numentries, low_limit)
    numentries = min(numentries, limit)
    return 1 << (max(numentries, 1).bit_length() - 1)


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
    """``dcache_init``/``inode_init`` (the tables the early call left to
    vmalloc), then ``mnt_init``'s."""
    cmd = ctx.cmdline
    if hashdist:
        alloc_large_system_hash_vmalloc(ctx, "Dentry cache", 8, 13,
                                        cmd.get_int("dhash_entries", 0))
        alloc_large_system_hash_vmalloc(ctx, "Inode-cache", 8, 14,
                                        cmd.get_int("ihash_entries", 0))
    mnt_init(ctx, hashdist)


def vfs_caches_init_early(ctx: BootContext, hashdist: bool) -> None:
    """``dcache_init_early`` and ``inode_init_early``: early tables unless hashdist."""
    if hashdist:
        return
    cmd = ctx.cmdline
    alloc_large_system_hash_early(ctx, "Dentry cache", 8, 13, cmd.get_int("dhash_entries", 0))
    alloc_large_system_hash_early(ctx, "Inode-cache", 8, 14, cmd.get_int("ihash_entries", 0))




# --------------------------------------------------------------------------- late tables
#
# After mm_init the subsystems size their tables the same way: from the
# buddy allocator (alloc_pages_exact) when the table fits a MAX_ORDER block
# and hashdist is off, else vmalloc. Bucket sizes are the structures'
# (x86_64 and UML builds): a spinlock is 4 bytes with SMP and nothing without.


def alloc_large_system_hash(ctx: BootContext, name: str, bucketsize: int, scale: int,
                            numentries: int = 0, *, hashdist: bool,
                            low_limit: int = 0, high_limit: int = 0) -> HashTable:
    """A table made after mm_init: vmalloc with hashdist or beyond a
    MAX_ORDER block, else one block of the buddy allocator. (The kernel's
    alloc_pages_exact gives back the block's pages past the table, which the
    simulation keeps: the tables that are not a power of two bytes, MPTCP's,
    hold up to a quarter of their block more.)"""
    entries = hash_entries(ctx.g.nr_kernel_pages, ctx.g.nr_all_pages, bucketsize, scale,
                           numentries, low_limit, high_limit)
    size = bucketsize * entries
    if hashdist or get_order(size) >= ctx.arch.max_order:
        return alloc_large_system_hash_vmalloc(ctx, name, bucketsize, scale, entries)
    pfn = ctx.mm.alloc_pages(order=get_order(size), gfp="GFP_ATOMIC")
    table = HashTable(name, entries, size, "linear")
    ctx.pr_info(table.banner())
    ctx.results.setdefault("hash_tables", []).append({**table.__dict__, "where": [pfn]})
    return table


def _spinlock(ctx: BootContext) -> int:
    return 4 if ctx.kconfig.smp else 0


def _aligned(size: int, align: int) -> int:
    return -(-size // align) * align


def mnt_init(ctx: BootContext, hashdist: bool) -> None:
    """The mount and mountpoint hashes (one bucket per 512 KiB)."""
    cmd = ctx.cmdline
    alloc_large_system_hash(ctx, "Mount-cache", 8, 19, cmd.get_int("mhash_entries", 0) or 0,
                            hashdist=hashdist)
    alloc_large_system_hash(ctx, "Mountpoint-cache", 8, 19,
                            cmd.get_int("mphash_entries", 0) or 0, hashdist=hashdist)


def futex_init(ctx: BootContext, hashdist: bool) -> None:
    """256 futex buckets per possible CPU (core_initcall); a bucket is
    cache-line aligned on SMP."""
    if not ctx.kconfig.futex:
        return
    size = roundup_pow_of_two(256 * max(ctx.g.nr_cpu_ids, 1))
    bucket = 4 + _spinlock(ctx) + 16  # waiters, lock, plist_head
    bucket = _aligned(bucket, SMP_CACHE_BYTES if ctx.kconfig.smp else 8)
    alloc_large_system_hash(ctx, "futex", bucket, 0, size, hashdist=hashdist,
                            low_limit=size, high_limit=size)


def netlbl_init(ctx: BootContext) -> None:
    """NetLabel's domain hash: 2^7 buckets (subsys_initcall)."""
    if ctx.kconfig.netlabel:
        ctx.pr_info("NetLabel:  domain hash size = 128")


def dquot_init(ctx: BootContext) -> None:
    """The quota hash: one page of list heads (fs_initcall)."""
    if not ctx.kconfig.quota:
        return
    ctx.mm.alloc_pages(order=0, gfp="GFP_KERNEL")
    ctx.pr_info(f"VFS: Dquot-cache hash table entries: {PAGE_SIZE // 8} (order 0, "
                f"{PAGE_SIZE} bytes)")


def inet_init(ctx: BootContext, hashdist: bool) -> None:
    """IPv4's tables (fs_initcall): IP idents, TCP's listen, perturb,
    established and bind hashes, MPTCP's tokens, UDP and UDP-Lite."""
    if not ctx.kconfig.inet:
        return
    cmd, lock = ctx.cmdline, _spinlock(ctx)
    alloc_large_system_hash(ctx, "IP idents", 8, 16, hashdist=hashdist,
                            low_limit=2048, high_limit=256 * 1024)
    thash = cmd.get_int("thash_entries", 0) or 0
    alloc_large_system_hash(ctx, "tcp_listen_portaddr_hash", _aligned(lock + 8, 8), 21, thash,
                            hashdist=hashdist, high_limit=64 * 1024)
    alloc_large_system_hash(ctx, "Table-perturb", 4, 0, 1 << 16, hashdist=hashdist,
                            low_limit=1 << 16, high_limit=1 << 16)
    est = alloc_large_system_hash(ctx, "TCP established", 8, 17, thash, hashdist=hashdist,
                                  high_limit=0 if thash else 512 * 1024)
    bind = alloc_large_system_hash(ctx, "TCP bind", 2 * _aligned(lock + 8, 8), 17, est.entries,
                                   hashdist=hashdist, high_limit=64 * 1024)
    ctx.pr_info(f"TCP: Hash tables configured (established {est.entries} bind {bind.entries})")
    if ctx.kconfig.mptcp:
        alloc_large_system_hash(ctx, "MPTCP token", _aligned(lock + 4, 8) + 16, 20,
                                hashdist=hashdist, high_limit=64 * 1024)
    uhash = cmd.get_int("uhash_entries", 0) or 0
    if uhash and uhash < UDP_HTABLE_SIZE_MIN:
        uhash = UDP_HTABLE_SIZE_MIN
    for name in ("UDP", "UDP-Lite"):
        alloc_large_system_hash(ctx, name, 2 * 16, 21, uhash, hashdist=hashdist,
                                low_limit=UDP_HTABLE_SIZE_MIN, high_limit=64 * 1024)


UDP_HTABLE_SIZE_MIN = 256
