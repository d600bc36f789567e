"""HugeTLB Vmemmap Optimization, HVO (mm/hugetlb_vmemmap.c).

The struct pages of a huge page's tail pages all say the same thing, so with
``hugetlb_free_vmemmap`` on, each huge page made at boot maps the vmemmap
that holds them onto one page, read-only, and gives the pages that held them
back: a 2 MiB page returns 7 of its 8 vmemmap pages, a 1 GiB page 4095 of
4096 (5.14 kept a second page, the first tail struct pages'). They were
memblock memory, so they join the managed pages (``free_bootmem_page``):
MemTotal grows. The vmemmap's 2 MiB mappings they sat in are split into page
tables from the buddy allocator first (``split_vmemmap_huge_pmd``).

6.1 reads the switch as a boolean module parameter of the core
(``hugetlb_free_vmemmap``, any ``kstrtobool`` word, bare for on; a bad word
is reported by ``parse_args``); 5.14 as an early parameter that takes
``on`` or ``off`` only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mmsvc.klog import KERN_ERR, KERN_WARNING
from mmsvc.machine.units import kstrtobool
from mmsvc.mm.sparse import STRUCT_PAGE_SIZE
from mmsvc.units import PAGE_SHIFT, PAGE_SIZE

if TYPE_CHECKING:
    from mmsvc.boot.context import BootContext

PARAM = "hugetlb_free_vmemmap"


def reserve_pages(ctx: BootContext) -> int:
    """Vmemmap pages a huge page keeps: the head's (6.1,
    HUGETLB_VMEMMAP_RESERVE_SIZE); 5.14 the first tail's too
    (RESERVE_VMEMMAP_NR)."""
    return 1 if ctx.profile_at_least("6.1") else 2


def vmemmap_pages(size: int) -> int:
    """Pages of struct pages one huge page of *size* bytes has."""
    return (size >> PAGE_SHIFT) * STRUCT_PAGE_SIZE >> PAGE_SHIFT


def optimizable_pages(ctx: BootContext, size: int) -> int:
    """Vmemmap pages HVO gives back per huge page of *size* (0: none)."""
    return max(0, vmemmap_pages(size) - reserve_pages(ctx))


def _values(ctx: BootContext) -> list[str | None]:
    return [v for n, v in ctx.cmdline.params if n.replace("-", "_") == PARAM]


def parse_early(ctx: BootContext) -> None:
    """5.14's early parameter: ``on`` or ``off``, anything else refused by
    name (and the build's default kept)."""
    if not ctx.kconfig.hugetlb_page_optimize_vmemmap or ctx.profile_at_least("6.1"):
        return
    enabled = ctx.kconfig.hugetlb_page_optimize_vmemmap_default_on
    for value in _values(ctx):
        if value in ("on", "off"):
            enabled = value == "on"
        else:
            ctx.printk(f"Malformed early option '{PARAM}'", KERN_WARNING)
    ctx.g.vmemmap_optimize_enabled = enabled


def parse_args(ctx: BootContext) -> None:
    """6.1's core parameter, read in ``parse_args``: each occurrence in turn,
    a word ``kstrtobool`` refuses reported and skipped."""
    if not ctx.kconfig.hugetlb_page_optimize_vmemmap or not ctx.profile_at_least("6.1"):
        return
    enabled = ctx.kconfig.hugetlb_page_optimize_vmemmap_default_on
    for value in _values(ctx):
        word = kstrtobool("1" if value is None else value)
        if word is None:
            ctx.printk(f"Booting kernel: `{value}' invalid for parameter `{PARAM}'", KERN_ERR)
        else:
            enabled = word
    ctx.g.vmemmap_optimize_enabled = enabled


def optimize(ctx: BootContext, size: int, pfn: int) -> int:
    """``hugetlb_vmemmap_optimize`` for the huge page of *size* at *pfn*:
    remap its vmemmap past the reserved pages onto the last reserved one,
    read-only, and free the pages that backed it. Returns how many went
    back (0 when the switch is off or nothing maps the vmemmap)."""
    vmemmap = ctx.results.get("vmemmap")
    count = optimizable_pages(ctx, size)
    if not (ctx.g.vmemmap_optimize_enabled and vmemmap and count):
        return 0
    mm = ctx.mm
    head = vmemmap["base"] + pfn * STRUCT_PAGE_SIZE
    reuse = head + (reserve_pages(ctx) - 1) * PAGE_SIZE
    reuse_phys = mm.slow_virt_to_phys(reuse)
    ro = [f for f in vmemmap["flags"] if f != "WRITE"]
    freed: list[int] = []
    for i in range(count):
        virt = reuse + (i + 1) * PAGE_SIZE
        freed.append(mm.slow_virt_to_phys(virt) >> PAGE_SHIFT)
        # a 2 MiB mapping is split on the way (a page table from the buddy
        # allocator); the table keeps its other entries
        mm.kernel_unmap_range(virt, PAGE_SIZE)
        mm.kernel_map_range(virt, reuse_phys, PAGE_SIZE, ro, page_size=PAGE_SIZE)
    # the walk collected them on a list, head first: freed last-in first
    for page in reversed(freed):
        mm.free_reserved_area(page, page + 1)
    return count
