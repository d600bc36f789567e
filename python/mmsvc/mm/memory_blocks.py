"""The memory blocks of memory hotplug in sysfs (drivers/base/memory.c,
drivers/base/node.c), as driver_init registers them.

With CONFIG_MEMORY_HOTPLUG, ``memory_dev_init`` registers a device for
every memory block (``memory_block_size_bytes``: the architecture's, 128 MiB
on x86 below 64 GiB of memory) that holds memory, and ``node_dev_init``
links each block to its node both ways. A block costs its ``struct
memory_block`` (about 1 KiB, from kmalloc), the device's private part
(kmalloc-256), and sysfs entries: its directory with its attributes and
power group, and the two node links, 22 kernfs nodes in the Debian 6.1
builds (traced: 16 blocks on 2 GiB and 161 on 20 GiB take 0.69 pages of
kernfs_node_cache per block, 32 nodes a page); each kernfs node takes an
id in kernfs' idr, a radix tree node per 64 ids. They are made with the
slab allocator, by kernel_init, so their slab pages follow the boot task's
interleave; on a big machine they are hundreds of pages, which is where
the BPF JIT's first pack no longer finds its pages.
"""

from __future__ import annotations

from mmsvc.boot.context import BootContext
from mmsvc.units import PAGE_SHIFT

#: kernfs nodes per block: memory_dev_init's, and node_dev_init's two links
KERNFS_NODES_PER_BLOCK = 20
KERNFS_NODE_LINKS_PER_BLOCK = 2
#: object sizes: struct memory_block, struct device_private, struct
#: kernfs_node, struct radix_tree_node
MEMORY_BLOCK_SIZE = 1000
DEVICE_PRIVATE_SIZE = 200
KERNFS_NODE_SIZE = 128
RADIX_TREE_NODE_SIZE = 576
#: ids in one radix tree node of an idr
IDR_IDS_PER_NODE = 64


def memory_block_count(ctx: BootContext, block_size: int) -> int:
    """How many blocks hold memory (memblock.memory): the union of each
    range's span of block numbers."""
    pages = block_size >> PAGE_SHIFT
    count, last = 0, -1
    for start, end, _nid in ctx.mm.memblock.mem_pfn_ranges():  # in address order
        if end <= start:
            continue
        first, final = max(start // pages, last + 1), (end - 1) // pages
        if first <= final:
            count += final - first + 1
            last = final
    return count


class _Kernfs:
    """kernfs nodes, each with its idr id."""

    def __init__(self, ctx: BootContext) -> None:
        self.mm = ctx.mm
        self.node = _cache(ctx, "kernfs_node_cache", KERNFS_NODE_SIZE, [], ctor=False)
        self.radix = _cache(ctx, "radix_tree_node", RADIX_TREE_NODE_SIZE,
                            ["SLAB_RECLAIM_ACCOUNT"], ctor=True)
        self.ids = 0

    def new(self) -> None:
        self.mm.kmem_cache_alloc(self.node)
        if self.ids % IDR_IDS_PER_NODE == 0:
            self.mm.kmem_cache_alloc(self.radix)
        self.ids += 1


def _cache(ctx: BootContext, name: str, size: int, flags: list[str], *, ctor: bool) -> int:
    """The cache *name* (kernfs_init and radix_tree_init make them in the
    kernel; the simulation makes them when it first needs them)."""
    found = ctx.mm.find_cache(name)
    return found if found is not None else ctx.mm.kmem_cache_create(name, size, 0, flags, ctor)


def memory_dev_init(ctx: BootContext) -> None:
    """Register every memory block, then (node_dev_init) link each to its node."""
    size = ctx.results.get("memory_block_size")
    if not ctx.kconfig.memory_hotplug or not size:
        return
    blocks = memory_block_count(ctx, size)
    kernfs = _Kernfs(ctx)
    mm = ctx.mm
    for _ in range(blocks):
        mm.kmalloc(MEMORY_BLOCK_SIZE)
        mm.kmalloc(DEVICE_PRIVATE_SIZE)
        for _ in range(KERNFS_NODES_PER_BLOCK):
            kernfs.new()
    for _ in range(blocks * KERNFS_NODE_LINKS_PER_BLOCK):
        kernfs.new()
    ctx.results["memory_blocks"] = {"block_size": size, "blocks": blocks}
