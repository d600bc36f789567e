"""UML ``mem_init`` (arch/um/kernel/mem.c), one sub-step per statement."""

from __future__ import annotations

from mmsvc import api
from mmsvc.api import PAGE_SIZE, BootContext, Step, div_round_up, round_up, substep


def zero_empty_zero_page(ctx: BootContext) -> None:
    """Clear the zero page (memblock_alloc_low gave it in paging_init)."""
    ctx.arch_state["empty_zero_page_cleared"] = True


def round_brk_end(ctx: BootContext) -> None:
    """brk_end = UML_ROUND_UP(sbrk(0)): the host brk, grown by the firmware's
    ``brk_growth`` since start-up (nothing, normally)."""
    lay = ctx.arch_state["layout"]
    growth = ctx.machine.firmware.brk_growth
    ctx.arch_state["brk_end"] = round_up(lay.brk_start + growth, PAGE_SIZE)


def map_brk_to_reserved(ctx: BootContext) -> None:
    """map_memory(brk_end, __pa(brk_end), uml_reserved - brk_end): make the
    memory between brk and uml_reserved usable by the kernel."""
    brk_end, reserved = ctx.arch_state["brk_end"], ctx.arch_state["uml_reserved"]
    ctx.arch_state["mapped"] = (brk_end, reserved - brk_end)


def free_brk_to_reserved(ctx: BootContext) -> None:
    """memblock_free the [brk_end, uml_reserved) range; uml_reserved = brk_end."""
    lay = ctx.arch_state["layout"]
    brk_end, reserved = ctx.arch_state["brk_end"], ctx.arch_state["uml_reserved"]
    if reserved > brk_end:
        ctx.mm.memblock.free(lay.pa(brk_end), reserved - brk_end, caller="mem_init")
    ctx.arch_state["uml_reserved"] = brk_end
    if ctx.profile_at_least("6.1"):
        ctx.g.min_low_pfn = div_round_up(lay.pa(brk_end), PAGE_SIZE)


def memblock_free_all(ctx: BootContext) -> None:
    api.memblock_free_all(ctx)


def set_max_pfns(ctx: BootContext) -> None:
    """max_low_pfn = totalram_pages(); max_pfn = max_low_pfn (a count, as the kernel does)."""
    ctx.g.max_low_pfn = ctx.mm.totalram_pages()
    ctx.g.max_pfn = ctx.g.max_low_pfn


def set_kmalloc_ok(ctx: BootContext) -> None:
    ctx.g.kmalloc_ok = True


def steps() -> list[Step]:
    return [
        substep("zero_empty_zero_page", zero_empty_zero_page, "memset(empty_zero_page, 0)"),
        substep("round_brk_end", round_brk_end, "brk_end = UML_ROUND_UP(sbrk(0))"),
        substep("map_memory", map_brk_to_reserved, "map brk_end..uml_reserved"),
        substep("memblock_free", free_brk_to_reserved, "memblock_free(brk_end..uml_reserved)"),
        substep("memblock_free_all", memblock_free_all, "all free memory to the buddy"),
        substep("max_low_pfn", set_max_pfns, "max_low_pfn = totalram_pages; max_pfn too"),
        substep("kmalloc_ok", set_kmalloc_ok, "kmalloc_ok = 1"),
    ]
