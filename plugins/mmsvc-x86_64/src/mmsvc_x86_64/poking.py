"""``poking_init`` (arch/x86/mm/init.c): the mm text patching goes through.

Right after ``mm_init`` x86 creates ``poking_mm`` and maps the page it will
patch through at a random user address, so the tables exist before any
atomic patching needs them: the pgd (two pages when the kernel is built
with page-table isolation, whether or not PTI is on), then one table per
level below it (p4d with 5-level paging, pud, pmd, pte), all unmovable.
(The ``mm_struct`` itself is a slab object; it is left out.)
"""

from __future__ import annotations

from mmsvc.api import BootContext

GFP_PGTABLE_USER = "GFP_KERNEL_ACCOUNT|__GFP_ZERO"


def poking_init(ctx: BootContext) -> None:
    """Allocate poking_mm's pgd and the page tables of the poking address
    (a random one in a RANDOMIZE_BASE build, whatever ``nokaslr`` says)."""
    if ctx.kconfig.randomize_base:
        from mmsvc_x86_64.paging import kaslr_entropy_report

        kaslr_entropy_report(ctx, "Poking")
    pgd_order = 1 if ctx.kconfig.page_table_isolation else 0
    tables = 4 if ctx.machine.five_level_paging else 3
    pages = [(ctx.mm.alloc_pages(pgd_order, gfp=GFP_PGTABLE_USER), pgd_order)]
    pages += [(ctx.mm.alloc_pages(0, gfp=GFP_PGTABLE_USER), 0) for _ in range(tables)]
    ctx.arch_state["poking_mm_pages"] = pages
