"""x86_64 paging modes and the early page tables (arch/x86/mm/init.c,
arch/x86/include/asm/pgtable_64_types.h).

4-level paging maps 48 bits of virtual address with 46 bits of physical
address; 5-level (LA57 CPU, CONFIG_X86_5LEVEL, no ``no5lvl``) 57 and 52.
"""

from __future__ import annotations

from dataclasses import dataclass

from mmsvc.api import PAGE_SIZE, BootContext, SparseGeometry, VmemmapTables

PMD_SHIFT = 21
#: __VMEMMAP_BASE_L4 / __VMEMMAP_BASE_L5
VMEMMAP_BASE_L4 = 0xFFFFEA0000000000
VMEMMAP_BASE_L5 = 0xFFD4000000000000
#: VMALLOC_SIZE_TB_L4 / _L5, and the PGDIR sizes
VMALLOC_SIZE_TB_L4 = 32
VMALLOC_SIZE_TB_L5 = 12800
MAX_DMA_ADDRESS = 16 << 20
MAX_DMA32_PFN = (4 << 30) >> 12


#: PG_LEVEL_2M / PG_LEVEL_1G bits of page_size_mask
PG_LEVEL_2M, PG_LEVEL_1G = 2, 3
ISA_END_ADDRESS = 0x100000


@dataclass(frozen=True)
class PagingMode:
    """The x86_64 paging format: entry shifts of each level, top first."""

    name: str
    level_shifts: tuple[int, ...]
    max_physmem_bits: int
    vmemmap_base: int
    vmalloc_size_tb: int
    #: the page-table engine's preset and the direct map's base
    preset: str = ""
    page_offset: int = 0

    @property
    def levels(self) -> int:
        return len(self.level_shifts) - 1

    @property
    def pgdir_shift(self) -> int:
        return self.level_shifts[0]


FOUR_LEVEL = PagingMode("4-level", (39, 30, 21, 12), 46, VMEMMAP_BASE_L4, VMALLOC_SIZE_TB_L4,
                        "x86_64_4level", 0xFFFF888000000000)
FIVE_LEVEL = PagingMode("5-level", (48, 39, 30, 21, 12), 52, VMEMMAP_BASE_L5,
                        VMALLOC_SIZE_TB_L5, "x86_64_5level", 0xFF11000000000000)


def paging_mode(ctx: BootContext) -> PagingMode:
    return FIVE_LEVEL if ctx.machine.five_level_paging else FOUR_LEVEL


def init_pgt_buf_pages(ctx: BootContext) -> int:
    """INIT_PGT_BUF_SIZE in pages: tables for the first PMD and the ISA range,
    twice that with memory randomisation (compile-time: CONFIG_X86_5LEVEL)."""
    tables = 4 if ctx.kconfig.x86_5level else 3
    return (4 if ctx.kconfig.randomize_memory else 2) * tables


def init_mem_mapping(ctx: BootContext) -> None:
    """Report the page sizes of the direct map and allocate the page tables
    that do not fit in the brk buffer."""
    gb = ctx.machine.cpu_features.gbpages and not ctx.cmdline.nogbpages
    if gb:
        ctx.pr_info("Using GB pages for direct mapping")
    ctx.arch_state["direct_gbpages"] = gb
    build_direct_map(ctx, gb)
    # Mapping the range that holds the brk buffer itself cannot use that
    # buffer; with RAM above 4 GiB the kernel needs two more table pages,
    # taken top-down from mapped memory.
    if ctx.g.max_pfn > MAX_DMA32_PFN:
        mb = ctx.mm.memblock
        mb.phys_alloc_range(2 * PAGE_SIZE, PAGE_SIZE, 0, ctx.g.max_pfn << 12,
                            caller="alloc_low_pages")


def build_direct_map(ctx: BootContext, gbpages: bool) -> None:
    """The kernel page table and its direct map of all memblock memory (the
    ISA range first, as the kernel maps it regardless of holes), with the
    early page-table buffer in brk as its first pages."""
    mode = paging_mode(ctx)
    mm = ctx.mm
    mm.init_kernel_pagetable(mode.preset)
    mask = (1 << PG_LEVEL_2M) | ((1 << PG_LEVEL_1G) if gbpages else 0)
    mm.init_memory_mapping(0, ISA_END_ADDRESS, mask, mode.page_offset)
    for start_pfn, end_pfn, _nid in mm.memblock.mem_pfn_ranges():
        start, end = max(start_pfn << 12, ISA_END_ADDRESS), end_pfn << 12
        if start < end:
            mm.init_memory_mapping(start, end, mask, mode.page_offset)
    ctx.results["direct_map"] = {"virt": mode.page_offset, "length": 1 << mode.max_physmem_bits}
    ctx.results["vmalloc_layout"] = {"layout": mode.preset}


def sparse_geometry(ctx: BootContext) -> SparseGeometry:
    mode = paging_mode(ctx)
    return SparseGeometry(
        section_size_bits=ctx.arch.section_size_bits,
        max_physmem_bits=mode.max_physmem_bits,
        mem_section_size=ctx.build.mem_section_size or (32 if ctx.kconfig.page_extension else 16),
        memmap_goal=MAX_DMA_ADDRESS,
        memmap_align=1 << PMD_SHIFT,
    )


def vmemmap_tables(ctx: BootContext) -> VmemmapTables:
    mode = paging_mode(ctx)
    return VmemmapTables(mode.vmemmap_base, mode.level_shifts, PMD_SHIFT)


def preallocate_vmalloc_pages(ctx: BootContext) -> int:
    """One page-table page (p4d with 5-level, pud with 4-level) for every
    top-level entry of the vmalloc area, from the buddy allocator."""
    mode = paging_mode(ctx)
    count = (mode.vmalloc_size_tb << 40) >> mode.pgdir_shift
    for _ in range(count):
        ctx.mm.alloc_pages(order=0, gfp="GFP_KERNEL")
    ctx.arch_state["vmalloc_prealloc_pages"] = count
    return count
