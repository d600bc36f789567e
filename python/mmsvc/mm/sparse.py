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


def present_sections(ctx: BootContext,
                     geo: SparseGeometry) -> list[tuple[int, list[tuple[int, int]]]]:
    """Sections holding memblock memory (``memblocks_present``), grouped by
    node in section order: ``(nid, [(first, last), ...])`` for each stretch
    of sections one node owns, its sections as runs of consecutive ones. A
    section two nodes share belongs to the lower one: each memory region, in
    address order, marks the sections no region marked before with its node.
    Runs, not sections, so that a machine of many TiB costs no more."""
    groups: list[tuple[int, list[tuple[int, int]]]] = []
    marked = -1  # the highest section marked so far
    for start_pfn, end_pfn, nid in ctx.mm.memblock.mem_pfn_ranges():
        if end_pfn <= start_pfn:
            continue
        first = max(start_pfn >> geo.pfn_section_shift, marked + 1)
        last = (end_pfn - 1) >> geo.pfn_section_shift
        if first > last:
            continue
        marked = last
        nid = max(nid, 0)
        if not groups or groups[-1][0] != nid:
            groups.append((nid, []))
        runs = groups[-1][1]
        if runs and runs[-1][1] + 1 == first:
            runs[-1] = (runs[-1][0], last)
        else:
            runs.append((first, last))
    return groups


def _count(runs: list[tuple[int, int]]) -> int:
    return sum(last - first + 1 for first, last in runs)


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
    smap = geo.section_map_size
    for nid, secs in runs:
        nr = _count(secs)
        # sparse_init_nid(): usemaps near NODE_DATA, then one memmap buffer
        usage = MEM_SECTION_USAGE_SIZE * nr
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
        size = smap * nr
        try:
            buf = mb.alloc_exact_nid_raw(size, geo.memmap_align, geo.memmap_goal, 0, nid,
                                         caller="sparse_buffer_init")
            maps = _buffer_runs(secs, buf, smap)
        except OutOfMemoryError:
            # no buffer on the node (its memory is all reserved, say): each
            # section's memmap then comes block by block from the node or,
            # failing that, any node (vmemmap_alloc_block_buf)
            blocks = [(sec, mb.alloc_try_nid_raw(smap, geo.memmap_align, geo.memmap_goal, 0,
                                                 nid, caller="vmemmap_alloc_block_buf"))
                      for first, last in secs for sec in range(first, last + 1)]
            maps = _block_runs(blocks, smap)
        memmap_pages += size // PAGE_SIZE
        # vmemmap_populate(): page tables for the node's memmap, and the
        # mapping itself when the architecture says how to map it
        for first, count, phys in maps:
            tables = [mb.alloc_try_nid_raw(PAGE_SIZE, PAGE_SIZE, geo.memmap_goal, 0, nid,
                                           caller="vmemmap_alloc_block_zero")
                      for _ in range(vmemmap_tables.new_tables(first, first + count - 1, geo))]
            table_pages += len(tables)
            vmemmap_tables.map(ctx, first, count, phys, tables, geo)
    summary = {
        "present_sections": sum(_count(secs) for _, secs in runs),
        "section_roots": len(roots),
        "root_array_bytes": root_array,
        "memmap_pages": memmap_pages,
        "vmemmap_table_pages": table_pages,
    }
    ctx.results["sparse_init"] = summary
    return summary


def _buffer_runs(secs: list[tuple[int, int]], buf: int, block: int) -> list[tuple[int, int, int]]:
    """``(first section, sections, memmap address)`` of each run of
    consecutive sections, their memmaps following on from each other in
    one buffer (one mapping each)."""
    out = []
    offset = 0
    for first, last in secs:
        out.append((first, last - first + 1, buf + offset * block))
        offset += last - first + 1
    return out


def _block_runs(blocks: list[tuple[int, int]], block: int) -> list[tuple[int, int, int]]:
    """``(first section, sections, memmap address)`` of each run whose
    sections and memmaps both follow on from each other (one mapping each),
    from each section's own ``(section, memmap address)``."""
    runs: list[tuple[int, int, int]] = []
    for sec, phys in blocks:
        if runs:
            first, count, start = runs[-1]
            if first + count == sec and start + count * block == phys:
                runs[-1] = (first, count + 1, start)
                continue
        runs.append((sec, 1, phys))
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

    def map(self, ctx: BootContext, first: int, count: int, phys: int, tables: list[int],
            geo: SparseGeometry) -> None:
        """Map the memmap of ``count`` sections from ``first``, at ``phys``,
        at its vmemmap address, with the page-table pages just taken for it."""
        if self.flags is None or not count:
            return
        # where the struct pages are, for whoever remaps them later (HVO)
        ctx.results["vmemmap"] = {"base": self.vmemmap_base, "flags": list(self.flags)}
        span = geo.pages_per_section * STRUCT_PAGE_SIZE
        ctx.mm.kernel_map_static(self.vmemmap_base + first * span, phys, span * count,
                                 [t // PAGE_SIZE for t in tables],
                                 flags=list(self.flags), page_size=1 << self.leaf_shift)

    def new_tables(self, first: int, last: int, geo: SparseGeometry) -> int:
        """Tables still missing to map the memmap of sections ``first`` to
        ``last``; marks them made."""
        count = 0
        span = geo.pages_per_section * STRUCT_PAGE_SIZE
        start = self.vmemmap_base + first * span
        end = self.vmemmap_base + (last + 1) * span
        for shift in self.parent_shifts:
            wanted = set(range(start >> shift, ((end - 1) >> shift) + 1))
            made = self.present.setdefault(shift, set())
            count += len(wanted - made)
            made |= wanted
        return count
