"""SPARSEMEM with a virtually mapped memmap (mm/sparse.c, mm/sparse-vmemmap.c).

``sparse_init`` makes the memblock allocations the kernel makes for its
``struct page`` arrays, before the zones exist: the ``mem_section`` root
array, one root block per populated root, a usemap block and a memmap buffer
per node, and the page tables that map the memmap into the vmemmap area.
"""

from __future__ import annotations

from dataclasses import dataclass

from mmsvc.boot.context import BootContext
from mmsvc.errors import OutOfMemoryError
from mmsvc.units import PAGE_SHIFT, PAGE_SIZE, SMP_CACHE_BYTES, div_round_up, round_up

STRUCT_PAGE_SIZE = 64
#: sizeof(struct mem_section_usage) + the pageblock-flags bitmap of a section
MEM_SECTION_USAGE_SIZE = 56


@dataclass(frozen=True)
class SparseGeometry:
    """The numbers SPARSEMEM derives from the architecture and kernel config."""

    section_size_bits: int
    max_physmem_bits: int
    #: sizeof(struct mem_section): 16, or 32 with CONFIG_PAGE_EXTENSION
    mem_section_size: int
    #: lowest address the memmap may come from (``__pa(MAX_DMA_ADDRESS)``)
    memmap_goal: int
    #: alignment of the memmap buffer (``section_map_size()``: PMD_SIZE with vmemmap)
    memmap_align: int

    @property
    def pfn_section_shift(self) -> int:
        return self.section_size_bits - PAGE_SHIFT

    @property
    def pages_per_section(self) -> int:
        return 1 << self.pfn_section_shift

    @property
    def nr_mem_sections(self) -> int:
        return 1 << (self.max_physmem_bits - self.section_size_bits)

    @property
    def sections_per_root(self) -> int:
        return PAGE_SIZE // self.mem_section_size

    @property
    def nr_section_roots(self) -> int:
        return div_round_up(self.nr_mem_sections, self.sections_per_root)

    @property
    def section_map_size(self) -> int:
        """Bytes of ``struct page`` per section, rounded to the memmap alignment."""
        size = self.pages_per_section * STRUCT_PAGE_SIZE
        return round_up(size, self.memmap_align)


def present_sections(ctx: BootContext, geo: SparseGeometry) -> list[tuple[int, list[int]]]:
    """Sections holding memblock memory (``memblocks_present``), as runs of
    consecutive present sections on one node, in section order. A section
    two nodes share belongs to the lower one: each memory region, in address
    order, marks the sections no region marked before with its node."""
    owner: dict[int, int] = {}
    # walked from the top, so that the lowest region's mark is the one kept
    for start_pfn, end_pfn, nid in reversed(ctx.mm.memblock.mem_pfn_ranges()):
        if end_pfn <= start_pfn:
            continue
        first = start_pfn >> geo.pfn_section_shift
        last = (end_pfn - 1) >> geo.pfn_section_shift
        owner.update(dict.fromkeys(range(first, last + 1), max(nid, 0)))
    runs: list[tuple[int, list[int]]] = []
    for sec in sorted(owner):
        if runs and runs[-1][0] == owner[sec]:
            runs[-1][1].append(sec)
        else:
            runs.append((owner[sec], [sec]))
    return runs


def _section_roots(ctx: BootContext, geo: SparseGeometry) -> list[tuple[int, int]]:
    """``(root, nid)`` of each used ``mem_section`` root, on the node of the
    first region (in address order) that reaches it."""
    roots: dict[int, int] = {}
    per_root = geo.sections_per_root
    for start_pfn, end_pfn, nid in ctx.mm.memblock.mem_pfn_ranges():
        if end_pfn <= start_pfn:
            continue
        first = (start_pfn >> geo.pfn_section_shift) // per_root
        last = ((end_pfn - 1) >> geo.pfn_section_shift) // per_root
        for root in range(first, last + 1):
            roots.setdefault(root, max(nid, 0))
    return sorted(roots.items())


def section_runs(sections: list[int]) -> list[tuple[int, int]]:
    """Maximal runs ``(first, last)`` of consecutive section numbers (sorted input)."""
    runs: list[tuple[int, int]] = []
    for sec in sections:
        if runs and runs[-1][1] + 1 == sec:
            runs[-1] = (runs[-1][0], sec)
        else:
            runs.append((sec, sec))
    return runs


def sparse_init(ctx: BootContext, geo: SparseGeometry, vmemmap_tables: VmemmapTables) -> dict:
    """Allocate what SPARSEMEM_VMEMMAP needs from memblock; return a summary."""
    mb = ctx.mm.memblock
    runs = present_sections(ctx, geo)
    # memory_present(): the root pointer array, then a root block per used root
    root_array = geo.nr_section_roots * 8
    mb.alloc(root_array, SMP_CACHE_BYTES, caller="memory_present")
    roots = _section_roots(ctx, geo)
    for _root, nid in roots:
        mb.alloc_node(PAGE_SIZE, SMP_CACHE_BYTES, nid, caller="sparse_index_alloc")
    memmap_pages = 0
    table_pages = 0
    for nid, secs in runs:
        # sparse_init_nid(): usemaps near NODE_DATA, then one memmap buffer
        usage = MEM_SECTION_USAGE_SIZE * len(secs)
        pgdat = ctx.results.get("node_data", {}).get(nid)
        if pgdat is not None:
            section_bytes = 1 << geo.section_size_bits
            goal = pgdat & ~(section_bytes - 1)
            try:
                mb.alloc_try_nid(usage, SMP_CACHE_BYTES, goal, goal + section_bytes, nid,
                                 caller="sparse_early_usemaps_alloc_pgdat_section")
            except OutOfMemoryError:
                mb.alloc_node(usage, SMP_CACHE_BYTES, nid,
                              caller="sparse_early_usemaps_alloc_pgdat_section")
        else:
            mb.alloc_node(usage, SMP_CACHE_BYTES, nid,
                          caller="sparse_early_usemaps_alloc_pgdat_section")
        size = geo.section_map_size * len(secs)
        try:
            buf = mb.alloc_exact_nid_raw(size, geo.memmap_align, geo.memmap_goal, 0, nid,
                                         caller="sparse_buffer_init")
            blocks = [buf + i * geo.section_map_size for i in range(len(secs))]
        except OutOfMemoryError:
            # no buffer on the node (its memory is all reserved, say): each
            # section's memmap then comes block by block from the node or,
            # failing that, any node (vmemmap_alloc_block_buf)
            blocks = [mb.alloc_try_nid_raw(geo.section_map_size, geo.memmap_align,
                                           geo.memmap_goal, 0, nid,
                                           caller="vmemmap_alloc_block_buf")
                      for _ in secs]
        memmap_pages += size // PAGE_SIZE
        # vmemmap_populate(): page tables for the node's memmap, and the
        # mapping itself when the architecture says how to map it
        for run in _block_runs(secs, blocks, geo.section_map_size):
            tables = [mb.alloc_try_nid_raw(PAGE_SIZE, PAGE_SIZE, geo.memmap_goal, 0, nid,
                                           caller="vmemmap_alloc_block_zero")
                      for _ in range(vmemmap_tables.new_tables([s for s, _ in run], geo))]
            table_pages += len(tables)
            vmemmap_tables.map(ctx, run, tables, geo)
    summary = {
        "present_sections": sum(len(secs) for _, secs in runs),
        "section_roots": len(roots),
        "root_array_bytes": root_array,
        "memmap_pages": memmap_pages,
        "vmemmap_table_pages": table_pages,
    }
    ctx.results["sparse_init"] = summary
    return summary


def _block_runs(secs: list[int], blocks: list[int], block: int) -> list[list[tuple[int, int]]]:
    """``(section, memmap address)`` in runs whose sections and memmaps both
    follow on from each other (one mapping each)."""
    runs: list[list[tuple[int, int]]] = []
    for sec, phys in zip(secs, blocks, strict=True):
        if runs and runs[-1][-1][0] + 1 == sec and runs[-1][-1][1] + block == phys:
            runs[-1].append((sec, phys))
        else:
            runs.append([(sec, phys)])
    return runs


class VmemmapTables:
    """Counts the page-table pages needed to map the vmemmap with leaf entries
    of ``leaf_shift`` bits in a paging format whose levels have the entry
    shifts ``level_shifts`` (top level first; the top table is static).

    A table whose entries have shift ``s`` covers ``1 << parent_shift`` bytes;
    one is needed per distinct ``addr >> parent_shift`` for every level from
    below the top down to the leaf level. Tables created for an earlier node
    are remembered, as the kernel's page tables would be.
    """

    def __init__(self, vmemmap_base: int, level_shifts: tuple[int, ...], leaf_shift: int,
                 flags: tuple[str, ...] | None = None) -> None:
        self.vmemmap_base = vmemmap_base
        self.parent_shifts = tuple(s for s in level_shifts if s > leaf_shift)
        self.leaf_shift = leaf_shift
        #: the mapping's flags, in the kernel page table's format; None: the
        #: tables are counted, nothing is mapped
        self.flags = flags
        self.present: dict[int, set[int]] = {}

    def map(self, ctx: BootContext, run: list[tuple[int, int]], tables: list[int],
            geo: SparseGeometry) -> None:
        """Map a run of sections' memmap at its vmemmap address, with the
        page-table pages just taken for it."""
        if self.flags is None or not run:
            return
        span = geo.pages_per_section * STRUCT_PAGE_SIZE
        ctx.mm.kernel_map_static(self.vmemmap_base + run[0][0] * span, run[0][1],
                                 span * len(run), [t // PAGE_SIZE for t in tables],
                                 flags=list(self.flags), page_size=1 << self.leaf_shift)

    def new_tables(self, sections: list[int], geo: SparseGeometry) -> int:
        """Tables still missing to map the memmap of ``sections``; marks them made."""
        count = 0
        span = geo.pages_per_section * STRUCT_PAGE_SIZE
        for first, last in section_runs(sections):
            start = self.vmemmap_base + first * span
            end = self.vmemmap_base + (last + 1) * span
            for shift in self.parent_shifts:
                wanted = set(range(start >> shift, ((end - 1) >> shift) + 1))
                made = self.present.setdefault(shift, set())
                count += len(wanted - made)
                made |= wanted
        return count
