"""UML boot before mm_init: linux_main's physical memory set-up, then
``setup_arch`` -> ``paging_init`` (arch/um/kernel/physmem.c, mem.c)."""

from __future__ import annotations

from mmsvc.api import (
    PAGE_SIZE,
    BootContext,
    MachineConfigError,
    Step,
    div_round_up,
    free_area_init,
    substep,
)
from mmsvc_uml.layout import uml_layout

#: fixrange_init: a PMD and a PTE table for the fixmap, fixaddr_user_init
FIXMAP_TABLE_PAGES = 2


def linux_main(ctx: BootContext) -> None:
    """The host side: the exec-shield gap notice, physmem and uml_reserved."""
    lay = uml_layout(ctx)
    gap = ctx.machine.firmware.exec_shield_gap
    if gap > (1 << 20):
        ctx.pr_info(f"Adding {gap} bytes to physical memory to account for exec-shield gap")
    ctx.arch_state["layout"] = lay
    ctx.arch_state["uml_reserved"] = lay.uml_reserved


def setup_physmem(ctx: BootContext) -> None:
    """memblock: all of physmem is memory; the image, brk and the 4 MiB
    after it (up to uml_reserved) are reserved."""
    lay = ctx.arch_state["layout"]
    mb = ctx.mm.memblock
    reserve = lay.uml_reserved - lay.uml_physmem
    if lay.physmem_size <= reserve:
        # the host side gives up before any kernel memory exists
        ctx.pr_info(f"Too few physical memory! Needed={reserve}, given={lay.physmem_size}")
        raise MachineConfigError(
            "cmdline.mem", f"{lay.physmem_size} bytes of physical memory (mem= plus the "
            f"exec-shield gap) do not exceed the {reserve} the image and its reserve need")
    mb.add(0, lay.physmem_size + lay.highmem, caller="setup_physmem")
    mb.reserve(0, reserve, caller="setup_physmem")
    ctx.g.min_low_pfn = div_round_up(reserve, PAGE_SIZE)
    ctx.g.max_low_pfn = ctx.g.min_low_pfn + ((lay.physmem_size - reserve) >> 12)
    ctx.g.max_pfn = ctx.g.max_possible_pfn = lay.physmem_size >> 12


def paging_init(ctx: BootContext) -> None:
    """The zero page, the one Normal zone up to end_iomem (a virtual address),
    then the fixmap page tables."""
    lay = ctx.arch_state["layout"]
    mb = ctx.mm.memblock
    ctx.arch_state["empty_zero_page"] = mb.alloc_low(PAGE_SIZE, PAGE_SIZE,
                                                     caller="paging_init")
    free_area_init(ctx, {"Normal": lay.end_iomem >> 12, "Movable": 0}, nr_nodes=1)
    for _ in range(FIXMAP_TABLE_PAGES):
        mb.alloc_low(PAGE_SIZE, PAGE_SIZE, caller="fixrange_init")


def steps() -> list[Step]:
    return [
        substep("linux_main", linux_main, "host set-up: physmem size, exec-shield gap"),
        substep("setup_physmem", setup_physmem, "physmem into memblock, image reserved"),
        substep("paging_init", paging_init, "zero page, zones, fixmap tables"),
    ]
