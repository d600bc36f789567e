"""x86_64 ``mem_init`` (arch/x86/mm/init_64.c) as sub-steps.

pci_iommu_alloc (GART probe and the swiotlb bounce buffer when memory goes
past 4 GiB), memblock_free_all, then the vmalloc area's preallocated
top-level page tables from the buddy allocator.
"""

from __future__ import annotations

from mmsvc import api
from mmsvc.api import (
    KERN_WARNING,
    PAGE_SIZE,
    SMP_CACHE_BYTES,
    BootContext,
    Step,
    page_align,
    round_up,
    roundup_pow_of_two,
    substep,
)
from mmsvc_x86_64 import paging
from mmsvc_x86_64.constants import MAX_DMA32_PFN

#: IO_TLB_DEFAULT_SIZE and IO_TLB_SHIFT
IO_TLB_DEFAULT_SIZE = 64 << 20
IO_TLB_SHIFT = 11
#: sizeof(struct io_tlb_slot), sizeof(struct io_tlb_area), the 5.14 header
IO_TLB_SLOT_SIZE = 24
IO_TLB_AREA_SIZE = 16
IO_TLB_MEM_HEADER_5_14 = 256
#: IO_TLB_SEGSIZE: slabs come in segments of 128
IO_TLB_SEGSIZE = 128


def swiotlb_option(ctx: BootContext) -> tuple[int, int | None, str]:
    """``swiotlb=[nslabs][,nareas][,force|noforce]``: the slab count (the
    default 64 MiB when not given), the area count if given, and the mode."""
    text = ctx.cmdline.get("swiotlb") or ""
    nslabs, nareas = IO_TLB_DEFAULT_SIZE >> IO_TLB_SHIFT, None
    parts = text.split(",")
    if parts and parts[0].isdigit():
        n = int(parts.pop(0))
        nslabs = round_up(n, IO_TLB_SEGSIZE)
    if parts and parts[0].isdigit():
        nareas = int(parts.pop(0))
    mode = parts[0] if parts and parts[0] in ("force", "noforce") else ""
    return nslabs, nareas, mode


def swiotlb_size_or_default(ctx: BootContext) -> int:
    """Bytes of the bounce buffer ``swiotlb=`` asks for, or the default."""
    return swiotlb_option(ctx)[0] << IO_TLB_SHIFT


def x86_swiotlb_enable(ctx: BootContext) -> bool:
    """pci_swiotlb_detect: bounce buffering is used when memory may lie above
    4 GiB, or ``iommu=soft`` asks for it; ``iommu=off`` turns the detection off."""
    iommu = ctx.cmdline.get("iommu") or ""
    if iommu == "soft":
        return True
    return (iommu != "off" and ctx.kconfig.swiotlb
            and ctx.g.max_possible_pfn > MAX_DMA32_PFN)


def pci_iommu_alloc(ctx: BootContext) -> None:
    """The GART probe, then swiotlb_init: the bounce buffer from memblock
    when it will be used or ``swiotlb=force`` keeps it whatever happens,
    never with ``swiotlb=noforce``."""
    ctx.pr_info("AGP: Checking aperture...")
    ctx.pr_info("AGP: No AGP bridge found")
    nslabs, asked_areas, mode = swiotlb_option(ctx)
    enable = x86_swiotlb_enable(ctx)
    ctx.arch_state["swiotlb_enable"] = enable
    if not ctx.kconfig.swiotlb or mode == "noforce" or not (enable or mode == "force"):
        return
    mb = ctx.mm.memblock
    if ctx.profile_at_least("6.1"):
        nareas = roundup_pow_of_two(asked_areas or max(ctx.g.nr_cpu_ids, 1))
        ctx.pr_info(f"software IO TLB: area num {nareas}.")
        tlb = mb.alloc_low(page_align(nslabs << IO_TLB_SHIFT), PAGE_SIZE,
                           caller="swiotlb_memblock_alloc")
        mb.alloc(page_align(nslabs * IO_TLB_SLOT_SIZE), PAGE_SIZE, caller="swiotlb_init_remap")
        mb.alloc(nareas * IO_TLB_AREA_SIZE, SMP_CACHE_BYTES, caller="swiotlb_init_remap")
    else:
        tlb = mb.alloc_low(page_align(nslabs << IO_TLB_SHIFT), PAGE_SIZE, caller="swiotlb_init")
        mb.alloc(page_align(IO_TLB_MEM_HEADER_5_14 + nslabs * IO_TLB_SLOT_SIZE), PAGE_SIZE,
                 caller="swiotlb_init_with_tbl")
    ctx.arch_state["swiotlb"] = {"start": tlb, "size": nslabs << IO_TLB_SHIFT}


def pci_iommu_init(ctx: BootContext) -> None:
    """pci_iommu_init (rootfs_initcall): with bounce buffering in use, say so
    and where the buffer is. Otherwise the buffer exists only because
    ``swiotlb=force`` keeps it (swiotlb_exit gives nothing back then)."""
    if not ctx.arch_state.get("swiotlb_enable"):
        return
    ctx.pr_info("PCI-DMA: Using software bounce buffering for IO (SWIOTLB)")
    tlb = ctx.arch_state.get("swiotlb")
    if tlb is None:
        ctx.printk("software IO TLB: No low mem", KERN_WARNING)
        return
    start, size = tlb["start"], tlb["size"]
    ctx.pr_info(f"software IO TLB: mapped [mem {start:#018x}-{start + size:#018x}] "
                f"({size >> 20}MB)")


def memblock_free_all(ctx: BootContext) -> None:
    api.memblock_free_all(ctx)


def preallocate_vmalloc_pages(ctx: BootContext) -> None:
    paging.preallocate_vmalloc_pages(ctx)


def steps() -> list[Step]:
    return [
        substep("pci_iommu_alloc", pci_iommu_alloc, "GART probe and swiotlb"),
        substep("memblock_free_all", memblock_free_all, "free memblock to the buddy allocator"),
        substep("preallocate_vmalloc_pages", preallocate_vmalloc_pages,
                "vmalloc area top-level page tables"),
    ]
