"""x86_64 paging modes and the early page tables (arch/x86/mm/init.c,
arch/x86/include/asm/pgtable_64_types.h).

4-level paging maps 48 bits of virtual address with 46 bits of physical
address; 5-level (LA57 CPU, CONFIG_X86_5LEVEL, no ``no5lvl``) 57 and 52.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mmsvc.api import KERN_WARNING, BootContext, SparseGeometry, VmemmapTables, round_up
from mmsvc_x86_64 import initmem
from mmsvc_x86_64.constants import (
    ISA_END_ADDRESS,
    MAX_DMA_ADDRESS,
    MODULES_END,
    PMD_SHIFT,
    PMD_SIZE,
    modules_vaddr,
)

#: __VMEMMAP_BASE_L4 / __VMEMMAP_BASE_L5
VMEMMAP_BASE_L4 = 0xFFFFEA0000000000
VMEMMAP_BASE_L5 = 0xFFD4000000000000
#: VMALLOC_SIZE_TB_L4 / _L5, and the PGDIR sizes
VMALLOC_SIZE_TB_L4 = 32
VMALLOC_SIZE_TB_L5 = 12800


#: PG_LEVEL_2M / PG_LEVEL_1G bits of page_size_mask
PG_LEVEL_2M, PG_LEVEL_1G = 2, 3


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
    #: VMALLOC_START (unrandomised)
    vmalloc_base: int = 0

    @property
    def levels(self) -> int:
        return len(self.level_shifts) - 1

    @property
    def pgdir_shift(self) -> int:
        return self.level_shifts[0]


FOUR_LEVEL = PagingMode("4-level", (39, 30, 21, 12), 46, VMEMMAP_BASE_L4, VMALLOC_SIZE_TB_L4,
                        "x86_64_4level", 0xFFFF888000000000, 0xFFFFC90000000000)
FIVE_LEVEL = PagingMode("5-level", (48, 39, 30, 21, 12), 52, VMEMMAP_BASE_L5,
                        VMALLOC_SIZE_TB_L5, "x86_64_5level", 0xFF11000000000000,
                        0xFFA0000000000000)


def paging_mode(ctx: BootContext) -> PagingMode:
    return FIVE_LEVEL if ctx.machine.five_level_paging else FOUR_LEVEL


def init_pgt_buf_pages(ctx: BootContext) -> int:
    """INIT_PGT_BUF_SIZE in pages (see KernelConfig.x86_init_pgt_buf_pages)."""
    return ctx.kconfig.x86_init_pgt_buf_pages


def init_mem_mapping(ctx: BootContext) -> None:
    """Report the page sizes of the direct map and build it
    (probe_page_size_mask: 2 MiB pages need PSE, and so do 1 GiB ones)."""
    cpu = ctx.machine.cpu_features
    gb = cpu.pse and cpu.gbpages and not ctx.cmdline.nogbpages
    if gb:
        ctx.pr_info("Using GB pages for direct mapping")
    ctx.arch_state["direct_gbpages"] = gb
    build_direct_map(ctx, gb)


def build_direct_map(ctx: BootContext, gbpages: bool) -> None:
    """init_mem_mapping: the kernel page table (its root is the image's
    static ``init_top_pgt``, in .data) with the high kernel mapping of the
    image (static tables too), and the direct map of all memblock
    memory: the ISA range first, as the kernel maps it regardless of holes,
    then everything else top-down."""
    mode = paging_mode(ctx)
    mm = ctx.mm
    mm.init_kernel_pagetable(mode.preset, root_pfn=initmem.section_starts(ctx)["data"] >> 12)
    if not initmem.nx_enabled(ctx):
        # x86_configure_nx: without NX no mapping carries the bit
        mm.set_supported_pte_mask(["WRITE", "USER", "GLOBAL", "ACCESSED", "DIRTY"])
    buf_start, buf_pages = ctx.arch_state["pgt_buf"]
    initmem.map_high_kernel(ctx, (buf_start + buf_pages) << 12)
    pse = ctx.machine.cpu_features.pse
    mask = ((1 << PG_LEVEL_2M) if pse else 0) | ((1 << PG_LEVEL_1G) if gbpages else 0)
    mm.init_memory_mapping(0, ISA_END_ADDRESS, mask, mode.page_offset)
    if kaslr_memory_enabled(ctx):
        # init_trampoline_kaslr: the real-mode trampoline's own pud (and p4d
        # with 5-level paging) for the randomised direct map's first entry
        mm.alloc_low_pages(2 if mode is FIVE_LEVEL else 1)
    end = ctx.g.max_pfn << 12
    if mm.memblock.bottom_up:
        # movable_node: above the image first, so that its tables come from
        # there, then up to the image
        kernel_end = initmem.section_starts(ctx)["end"] + initmem.brk_size(ctx)
        _memory_map_bottom_up(ctx, kernel_end, end, mask, mode.page_offset)
        _memory_map_bottom_up(ctx, ISA_END_ADDRESS, kernel_end, mask, mode.page_offset)
    else:
        _memory_map_top_down(ctx, ISA_END_ADDRESS, end, mask, mode.page_offset)
    ctx.results["direct_map"] = {"virt": mode.page_offset, "length": 1 << mode.max_physmem_bits,
                                 "kernel_counts": True}
    ctx.results["vmalloc_layout"] = {
        "layout": mode.preset,
        "extra_ranges": [(modules_vaddr(ctx.kconfig.randomize_base), MODULES_END)],
    }


def max_pfn_mapped(ctx: BootContext) -> int:
    """``max_pfn_mapped`` after init_mem_mapping: the end of the highest
    memory it mapped (memblock memory below max_pfn, and the ISA range)."""
    top = ISA_END_ADDRESS >> 12
    for start_pfn, end_pfn, _nid in ctx.mm.memblock.mem_pfn_ranges():
        if start_pfn < ctx.g.max_pfn:
            top = max(top, min(end_pfn, ctx.g.max_pfn))
    return top


@dataclass
class _Mapped:
    """min_pfn_mapped / max_pfn_mapped: where alloc_low_pages may take pages."""

    min_pfn: int
    max_pfn: int = 0


def _memory_map_top_down(ctx: BootContext, map_start: int, map_end: int, mask: int,
                         page_offset: int) -> None:
    """Map ``[map_start, map_end)`` from the top down: first the highest free
    2 MiB, then steps that grow as mapped memory grows, so page tables can
    come from memory already mapped."""
    mb = ctx.mm.memblock
    if not ctx.profile_at_least("6.1"):
        # 5.14 only looks for the top free 2 MiB
        real_end = mb.find_in_range(map_start, map_end, PMD_SIZE, PMD_SIZE) + PMD_SIZE
    else:
        try:
            addr = mb.phys_alloc_range(PMD_SIZE, PMD_SIZE, map_start, map_end,
                                       caller="memory_map_top_down")
        except MemoryError:  # mmsvc's OutOfMemoryError is one
            ctx.printk("Failed to release memory for alloc_low_pages()", KERN_WARNING)
            real_end = max(map_start, map_end & ~(PMD_SIZE - 1))
        else:
            mb.free(addr, PMD_SIZE, caller="memory_map_top_down")
            real_end = addr + PMD_SIZE
    step = PMD_SIZE
    mapped = _Mapped(min_pfn=real_end >> 12)
    last_start = real_end
    total = 0
    while last_start > map_start:
        start = max((last_start - 1) & ~(step - 1), map_start) if last_start > step else map_start
        total += _init_range_memory_mapping(ctx, start, last_start, mask, page_offset, mapped)
        last_start = start
        mapped.min_pfn = last_start >> 12
        if total >= step:
            step <<= PMD_SHIFT - 12 - 1
    if real_end < map_end:
        _init_range_memory_mapping(ctx, real_end, map_end, mask, page_offset, mapped)


def _memory_map_bottom_up(ctx: BootContext, map_start: int, map_end: int, mask: int,
                          page_offset: int) -> None:
    """Map ``[map_start, map_end)`` from the bottom up, in steps that grow
    as mapped memory grows; page tables come from what is mapped above
    ``map_start``."""
    step = PMD_SIZE
    mapped = _Mapped(min_pfn=map_start >> 12)
    start, total = map_start, 0
    while start < map_end:
        nxt = min(round_up(start + 1, step), map_end) if map_end - start > step else map_end
        total += _init_range_memory_mapping(ctx, start, nxt, mask, page_offset, mapped)
        start = nxt
        if total >= step:
            step <<= PMD_SHIFT - 12 - 1


def _init_range_memory_mapping(ctx: BootContext, r_start: int, r_end: int, mask: int,
                               page_offset: int, mapped: _Mapped) -> int:
    """Map the memblock memory inside ``[r_start, r_end)``. A range that
    holds the unused part of the brk page-table buffer cannot take its
    tables from that buffer (can_use_brk_pgt): they come from memory
    already mapped instead, top-down (alloc_low_pages)."""
    mm = ctx.mm
    buf_start, buf_pages = ctx.arch_state["pgt_buf"]
    buf_top = (buf_start + buf_pages) << 12
    total = 0
    for start_pfn, end_pfn, _nid in mm.memblock.mem_pfn_ranges():
        start = min(max(start_pfn << 12, r_start), r_end)
        end = min(max(end_pfn << 12, r_start), r_end)
        if start >= end:
            continue
        buf_end = buf_top - (mm.early_pgt_pool_left() << 12)
        can_use_brk = max(start, buf_end) >= min(end, buf_top)
        lo = mapped.min_pfn << 12
        hi = max(lo, mapped.max_pfn << 12)
        mm.init_memory_mapping(start, end, mask, page_offset, early_pool=can_use_brk,
                               alloc_range=(lo, hi))
        mapped.max_pfn = max(mapped.max_pfn, end >> 12)
        total += end - start
    return total


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
    """The vmemmap is mapped with 2 MiB pages, or 4 KiB ones without PSE
    (vmemmap_populate)."""
    mode = paging_mode(ctx)
    leaf = PMD_SHIFT if ctx.machine.cpu_features.pse else 12
    return VmemmapTables(mode.vmemmap_base, mode.level_shifts, leaf,
                         flags=("WRITE", "NOEXEC", "GLOBAL", "ACCESSED", "DIRTY"))


def kaslr_memory_enabled(ctx: BootContext) -> bool:
    """Memory-region randomisation (RANDOMIZE_MEMORY, with KASLR on: a
    RANDOMIZE_BASE build booted without ``nokaslr``) moves the direct map,
    vmalloc and vmemmap bases to random 1 GiB boundaries."""
    kc = ctx.kconfig
    return kc.randomize_memory and kc.randomize_base and not ctx.cmdline.nokaslr


def early_consoles(ctx: BootContext) -> tuple[str | None, list[str]]:
    """setup_early_printk: the early console ``early_printk`` writes to (the
    last one registered), and the consoles asked for twice. It scans from
    the first ``earlyprintk=`` value to the end of the command line
    (parse_args has not cut the rest yet), so a later word such as
    ``vga=normal`` registers the VGA console after the serial one (QEMU's
    machines have VGA); a console already registered is refused."""
    raw = ctx.cmdline.raw
    m = re.search(r"(?:^|\s)earlyprintk=", raw)
    if m is None:
        return None, []
    current, registered, refused = None, set(), []
    for word in re.findall(r"pciserial|serial|ttyS|vga", raw[m.end():]):
        con = "vga" if word == "vga" else "serial"
        if con in registered:
            refused.append(con)
            continue
        registered.add(con)
        current = con
    return current, refused


def kaslr_entropy_report(ctx: BootContext, purpose: str) -> None:
    """What ``kaslr_get_random_long`` tells the early console: the purpose
    and the entropy sources (RDRAND when the CPU has it, and the TSC). It
    never reaches the ring buffer; the serial log shows it when the early
    console is the serial one."""
    if early_consoles(ctx)[0] != "serial":
        return
    rdrand = " RDRAND" if ctx.machine.cpu_features.rdrand else ""
    ctx.printk(f"{purpose} KASLR using{rdrand} RDTSC...")


def kernel_randomize_memory(ctx: BootContext) -> None:
    """With memory-region randomisation on, the direct map, vmalloc and
    vmemmap bases are drawn (the simulation keeps their layout's effects,
    see :func:`preallocate_vmalloc_pages`)."""
    if kaslr_memory_enabled(ctx):
        kaslr_entropy_report(ctx, "Memory")


def preallocate_vmalloc_pages(ctx: BootContext) -> int:
    """One page-table page (p4d with 5-level, pud with 4-level) for every
    top-level entry the vmalloc area touches, from the buddy allocator.
    Its fixed base is top-level aligned; a randomised one is only 1 GiB
    aligned, so the area straddles one entry more (all but one boot in
    512 with 4-level paging, and practically every one with 5-level)."""
    mode = paging_mode(ctx)
    count = (mode.vmalloc_size_tb << 40) >> mode.pgdir_shift
    if kaslr_memory_enabled(ctx):
        count += 1
    # an area mapped before (percpu_alloc=page's units) has its entry already
    top = {a >> mode.pgdir_shift for start, size in ctx.results.get("vm_early", ())
           for a in (start, start + size - 1)}
    count -= len(top)
    for _ in range(count):
        ctx.mm.alloc_pages(order=0, gfp="GFP_KERNEL")
    ctx.arch_state["vmalloc_prealloc_pages"] = count
    return count
