"""Transparent huge pages at boot (mm/huge_memory.c, mm/khugepaged.c).

``hugepage_init`` (a subsys_initcall) starts khugepaged when THP is enabled,
and khugepaged's ``set_recommended_min_free_kbytes`` raises min_free_kbytes
so that enough whole pageblocks stay free for huge pages: two a zone, plus
one for each pair of the three per-cpu migratetypes, at most 5 % of lowmem.
The watermarks of /proc/zoneinfo follow.
"""

from __future__ import annotations

from mmsvc.boot.context import BootContext
from mmsvc.klog import KERN_WARNING
from mmsvc.units import PAGE_SHIFT

#: below this much RAM (512 MiB) hugepage_init leaves THP off
SMALL_SYSTEM_PAGES = (512 << 20) >> PAGE_SHIFT
#: transparent_hugepage= words and whether they enable THP
THP_MODES = {"always": True, "madvise": True, "never": False}


def parse_args(ctx: BootContext) -> set[int]:
    """``setup_transparent_hugepage`` for each ``transparent_hugepage=`` in
    turn (a THP build's): always, madvise or never sets the mode; another
    word is warned about, changes nothing and leaves the parameter unknown.
    Returns the indices (of ``ctx.cmdline.params``) of those it declined."""
    rejected: set[int] = set()
    if not ctx.kconfig.transparent_hugepage:
        return rejected
    for i, (name, value) in enumerate(ctx.cmdline.params):
        if name.replace("-", "_") != "transparent_hugepage" or value is None:
            continue
        if value in THP_MODES:
            ctx.results["thp_mode"] = value
        else:
            ctx.printk("huge_memory: transparent_hugepage= cannot parse, ignored", KERN_WARNING)
            rejected.add(i)
    return rejected


def thp_enabled(ctx: BootContext) -> bool:
    """``hugepage_flags_enabled``: the build's default (always or madvise,
    both enabled) unless ``transparent_hugepage=never`` was the last word
    the kernel took."""
    return THP_MODES.get(ctx.results.get("thp_mode") or "", True)


def hugepage_init(ctx: BootContext) -> None:
    """Nothing without a THP build or a machine that can map huge pages;
    otherwise khugepaged's min_free_kbytes: raised when THP is enabled,
    recomputed when it is disabled (6.1; 5.14 leaves it)."""
    has_thp = ctx.arch.has_transparent_hugepage
    if not ctx.kconfig.transparent_hugepage or has_thp is None or not has_thp(ctx.machine):
        ctx.results.setdefault("noop", {})["hugepage_init"] = (
            "no transparent huge pages on this build or machine")
        return
    if ctx.mm.totalram_pages() < SMALL_SYSTEM_PAGES:
        # THP is turned off on small systems before khugepaged starts
        ctx.results.setdefault("noop", {})["hugepage_init"] = (
            "less than 512 MiB of RAM: transparent huge pages off")
        return
    enabled = thp_enabled(ctx)
    if not enabled and not ctx.profile_at_least("6.1"):
        return
    ctx.results["min_free_kbytes"] = ctx.mm.set_recommended_min_free_kbytes(enabled)
