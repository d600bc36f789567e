"""espfix64 (arch/x86/kernel/espfix_64.c): the boot CPU's espfix stack.

The espfix PUD is static; the boot CPU's PMD page, PTE page and stack page
come from the buddy allocator, plus a P4D page with 5-level paging.
"""

from __future__ import annotations

from mmsvc.api import BootContext
from mmsvc_x86_64 import paging


def init_espfix_bsp(ctx: BootContext) -> None:
    pages = 3 + (1 if paging.paging_mode(ctx).levels == 5 else 0)
    pfns = [ctx.mm.alloc_pages(order=0, gfp="GFP_KERNEL") for _ in range(pages)]
    ctx.arch_state["espfix_pages"] = pfns
