"""Page-table isolation (arch/x86/mm/pti.c).

The early decision (``pti_check_boottime_disable``, during setup_arch) and
``pti_init`` in mm_init, which announces PTI and builds the user-visible
page tables (cpu_entry_area, entry text) from the buddy allocator.
"""

from __future__ import annotations

from mmsvc.api import BootContext

PREFIX = "Kernel/User page tables isolation: "


def pti_check_boottime_disable(ctx: BootContext) -> None:
    kc, cmd, cpu = ctx.kconfig, ctx.cmdline, ctx.machine.cpu_features
    enabled = False
    if kc.page_table_isolation:
        vulnerable = cpu.has_meltdown
        if cmd.pti_forced_off:
            if vulnerable:
                ctx.pr_info(PREFIX + "disabled on command line.")
        else:
            if cmd.pti == "on" and not vulnerable:
                ctx.pr_info(PREFIX + "force enabled on command line.")
            enabled = cmd.pti == "on" or vulnerable
    ctx.arch_state["pti"] = enabled


def pti_init(ctx: BootContext) -> None:
    if not ctx.arch_state.get("pti"):
        return
    ctx.pr_info(PREFIX + "enabled")
    from mmsvc_x86_64 import paging

    # user page tables: one table per level below the top for the
    # cpu_entry_area and for the entry text, plus a PTE page per CPU
    levels = paging.paging_mode(ctx).levels - 1
    pages = 2 * levels + ctx.machine.cpus
    for _ in range(pages):
        ctx.mm.alloc_pages(order=0, gfp="GFP_KERNEL")
    ctx.arch_state["pti_pages"] = pages
