"""``ftrace_init`` (kernel/trace/ftrace.c): the dynamic-ftrace records.

Right after ``mm_init`` the kernel turns every ``mcount`` call site of the
image into a ``struct dyn_ftrace`` record (16 bytes on x86_64, 256 to a
page). The records live in page groups from the buddy allocator, each
group the largest power of two of pages the rest still fills. How many
sites a build has is a property of the image: ``ftrace_entries``, from the
kernel catalogue or a System.map/vmlinux (``(__stop_mcount_loc -
__start_mcount_loc) / 8``, the count the boot prints). Those unmovable
allocations, an order-7 one among them, shape the free lists every later
boot allocation sees.
"""

from __future__ import annotations

from mmsvc.boot.context import BootContext
from mmsvc.units import PAGE_SIZE, div_round_up

#: sizeof(struct dyn_ftrace) on 64-bit x86: ip and flags
ENTRY_SIZE = 16
ENTRIES_PER_PAGE = PAGE_SIZE // ENTRY_SIZE
#: sizeof(struct ftrace_page): next, records, index, order
FTRACE_PAGE_SIZE = 24


def record_orders(entries: int) -> list[int]:
    """The page-group orders ``ftrace_allocate_pages`` takes for ``entries``
    records: the largest power of two of pages not above what is left,
    until every record has a place."""
    orders: list[int] = []
    left = entries
    while left > 0:
        pages = div_round_up(left, ENTRIES_PER_PAGE)
        order = pages.bit_length() - 1
        orders.append(order)
        left -= min(left, (PAGE_SIZE << order) // ENTRY_SIZE)
    return orders


def ftrace_init(ctx: BootContext) -> None:
    """Allocate the record groups and print the two ftrace lines."""
    entries = ctx.build.ftrace_entries
    if not entries:
        ctx.results.setdefault("noop", {})["ftrace_init"] = (
            "the kernel build does not say how many mcount sites it has")
        return
    pages = div_round_up(entries, ENTRIES_PER_PAGE)
    ctx.pr_info(f"ftrace: allocating {entries} entries in {pages} pages")
    groups = []
    for order in record_orders(entries):
        ctx.mm.kmalloc(FTRACE_PAGE_SIZE)
        groups.append((ctx.mm.alloc_pages(order, gfp="GFP_KERNEL|__GFP_ZERO"), order))
    total = sum(1 << order for _pfn, order in groups)
    ctx.pr_info(f"ftrace: allocated {total} pages with {len(groups)} groups")
    ctx.results["ftrace"] = {"entries": entries, "groups": groups}
