"""Gigantic pages reserved on the command line (mm/hugetlb.c, parse time).

``hugepagesz=`` picks a huge page size the architecture supports,
``hugepages=N`` (or ``hugepages=nid:N,nid:N``) how many of the last size
named (or of the default size when no size came first; ``default_hugepagesz=``
names that size, and takes a count given before it). Pages larger than
the buddy allocator's biggest block ("gigantic": 1 GiB on x86) can only
come from memblock, so they are taken while the parameters are parsed: one
size-aligned block a page, round-robin over the nodes with memory (each
try on one node, then on any), or on the nodes named. Smaller huge pages
come from the buddy allocator much later (hugetlb_init) and are not
simulated until hugetlb_init. Warnings are the kernel's.

``hugetlb_init`` (a subsys_initcall) then registers the sizes (the 1 GiB one
first when the CPU has it, unless the command line named sizes), takes the
smaller huge pages from the buddy allocator node by node, counts the
gigantic pages into the managed memory, and reports each size.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mmsvc.boot.context import BootContext
from mmsvc.klog import KERN_ERR, KERN_WARNING
from mmsvc.machine.units import memparse
from mmsvc.mm import hugetlb_vmemmap
from mmsvc.units import PAGE_SHIFT


@dataclass
class HState:
    """A huge page size and what the command line asked of it."""

    size: int
    max_huge_pages: int = 0
    max_huge_pages_node: dict[int, int] = field(default_factory=dict)
    next_nid_to_alloc: int = 0
    allocated: list[int] = field(default_factory=list)

    def gigantic(self, max_order: int) -> bool:
        return self.size >> PAGE_SHIFT > 1 << (max_order - 1)


def string_get_size(size: int) -> str:
    """string_get_size(size, 1, STRING_UNITS_2) for whole power-of-two sizes."""
    units = ("B", "KiB", "MiB", "GiB", "TiB")
    i = 0
    while size >= 1024 and i < len(units) - 1 and size % 1024 == 0:
        size //= 1024
        i += 1
    return f"{size}.00 {units[i]}"


def hugetlb_parse_args(ctx: BootContext) -> None:
    """The ``hugepagesz=``/``hugepages=``/``default_hugepagesz=`` options in
    command-line order, gigantic pages allocated as they are parsed."""
    if not ctx.kconfig.hugetlbfs:
        return
    sizes = ctx.arch.hugetlb_sizes(ctx.machine) if ctx.arch.hugetlb_sizes else ()
    if not sizes:
        return
    hstates: dict[int, HState] = {}
    parsed: HState | None = None
    parsed_valid = True
    last: object = None
    default_pages: dict[str, int] = {"count": 0}
    default_size = 0
    for name, value in ctx.cmdline.params:
        if name == "hugepagesz" and value is not None:
            parsed_valid = False
            size = memparse(value)[0]
            if size not in sizes:
                ctx.printk(f"HugeTLB: unsupported hugepagesz={value}", KERN_ERR)
                continue
            if size in hstates:
                # allowed once for the default size, before its count
                h = hstates[size]
                if size != default_size or h.max_huge_pages:
                    ctx.printk(f"HugeTLB: hugepagesz={value} specified twice, ignoring",
                               KERN_WARNING)
                    continue
                parsed, parsed_valid = h, True
                continue
            parsed = hstates[size] = hugetlb_add_hstate(ctx, size)
            parsed_valid = True
        elif name == "default_hugepagesz" and value is not None:
            parsed_valid = False
            if default_size:
                ctx.printk(f"HugeTLB: default_hugepagesz previously specified, ignoring "
                           f"{value}", KERN_ERR)
                continue
            size = memparse(value)[0]
            if size not in sizes:
                ctx.printk(f"HugeTLB: unsupported default_hugepagesz={value}", KERN_ERR)
                continue
            if size not in hstates:  # hugetlb_add_hstate
                parsed = hstates[size] = hugetlb_add_hstate(ctx, size)
            parsed_valid, default_size = True, size
            h = hstates[size]
            if default_pages["count"]:
                # hugepages= came first: it was this size's
                h.max_huge_pages = default_pages["count"]
                if h.gigantic(ctx.arch.max_order):
                    hugetlb_hstate_alloc_pages(ctx, h)
                default_pages["count"] = 0
        elif name == "hugepages" and value is not None:
            if not parsed_valid:
                ctx.printk(f"HugeTLB: hugepages={value} does not follow a valid hugepagesz, "
                           "ignoring", KERN_WARNING)
                parsed_valid = True
                continue
            target = parsed if parsed is not None else default_pages
            if target is last:
                ctx.printk("HugeTLB: hugepages= specified twice without interleaving "
                           f"hugepagesz=, ignoring hugepages={value}", KERN_WARNING)
                continue
            if not _parse_count(ctx, value, parsed, default_pages):
                continue
            if parsed is not None and parsed.gigantic(ctx.arch.max_order):
                hugetlb_hstate_alloc_pages(ctx, parsed)
            last = target
    ctx.g.hstates = list(hstates.values())
    ctx.g.default_hstate_max_huge_pages = default_pages["count"]
    ctx.g.default_hugepagesz = default_size


def hugetlb_add_hstate(ctx: BootContext, size: int) -> HState:
    """A new huge page size; 5.14 with HVO on says what it will save."""
    if ctx.g.vmemmap_optimize_enabled and not ctx.profile_at_least("6.1"):
        pages = hugetlb_vmemmap.optimizable_pages(ctx, size)
        ctx.pr_info(f"HugeTLB: can free {pages} vmemmap pages for hugepages-{size >> 10}kB")
    return HState(size, next_nid_to_alloc=_first_memory_node(ctx))


def _first_memory_node(ctx: BootContext) -> int:
    nodes = _memory_nodes(ctx)
    return nodes[0] if nodes else 0


def _parse_count(ctx: BootContext, value: str, h: HState | None,
                 default_pages: dict[str, int]) -> bool:
    """``N`` or (6.1; 5.16 added it) ``nid:N[,nid:N...]``; an invalid value
    clears what was asked per node and is reported. 5.14 reads a leading
    number only, 0 when there is none."""
    if not ctx.profile_at_least("6.1"):
        count = _leading_number(value)[0] or 0
        if h is None:
            default_pages["count"] = count
        else:
            h.max_huge_pages = count
        return True
    per_node: dict[int, int] = {}
    total = 0
    rest = value
    first = True
    while rest:
        num, _, tail = _leading_number(rest)
        if num is None:
            return _invalid(ctx, rest, h)
        if tail.startswith(":"):
            if num >= ctx.kconfig.max_numnodes or num not in ctx.g.node_online_map:
                return _invalid(ctx, rest, h)
            nid = num
            count, _, tail = _leading_number(tail[1:])
            if count is None:
                return _invalid(ctx, tail, h)
            per_node[nid] = count
            total += count
            if tail.startswith(","):
                rest, first = tail[1:], False
                continue
            break
        if not first:
            return _invalid(ctx, rest, h)
        total = num
        break
    if h is None:
        default_pages["count"] = total
        return True
    if per_node:
        h.max_huge_pages += total
        h.max_huge_pages_node.update(per_node)
    else:
        h.max_huge_pages = total
    return True


def _leading_number(text: str) -> tuple[int | None, int, str]:
    """sscanf("%lu%n"): digits at the start, their length, and the rest."""
    n = 0
    while n < len(text) and text[n].isdigit():
        n += 1
    if n == 0:
        return None, 0, text
    return int(text[:n]), n, text[n:]


def _invalid(ctx: BootContext, rest: str, h: HState | None) -> bool:
    ctx.printk(f"HugeTLB: Invalid hugepages parameter {rest}", KERN_WARNING)
    if h is not None:
        h.max_huge_pages_node.clear()
    return False


def hugetlb_hstate_alloc_pages(ctx: BootContext, h: HState) -> None:
    """The pages of *h*: node by node where nodes were named, else one at a
    time over the nodes in turn; a shortfall is reported. Gigantic pages
    come from memblock, the others from the buddy allocator."""
    if not h.max_huge_pages:
        return
    alloc = (_alloc_bootmem_huge_page if h.gigantic(ctx.arch.max_order)
             else _alloc_pool_huge_page)
    size = string_get_size(h.size)
    named = {nid: n for nid, n in sorted(h.max_huge_pages_node.items()) if n > 0}
    for nid, want in named.items():
        got = 0
        while got < want and alloc(ctx, h, nid):
            got += 1
        if got < want:
            ctx.printk(f"HugeTLB: allocating {want} of page size {size} failed node{nid}.  "
                       f"Only allocated {got} hugepages.", KERN_WARNING)
            h.max_huge_pages -= want - got
            h.max_huge_pages_node[nid] = got
    if named:
        return
    got = 0
    while got < h.max_huge_pages and alloc(ctx, h, None):
        got += 1
    if got < h.max_huge_pages:
        ctx.printk(f"HugeTLB: allocating {h.max_huge_pages} of page size {size} failed.  "
                   f"Only allocated {got} hugepages.", KERN_WARNING)
        h.max_huge_pages = got


def _memory_nodes(ctx: BootContext) -> list[int]:
    return sorted({z["nid"] for z in ctx.mm.zones() if z["present"]})


def _next_node(h: HState, nodes: list[int]) -> int:
    """hstate_next_node_to_alloc: this turn's node, and the next one's."""
    nid = next((n for n in nodes if n >= h.next_nid_to_alloc), nodes[0])
    after = [n for n in nodes if n > nid]
    h.next_nid_to_alloc = after[0] if after else nodes[0]
    return nid


def _alloc_bootmem_huge_page(ctx: BootContext, h: HState, nid: int | None) -> bool:
    """One size-aligned block from memblock on *nid*, or on the node whose
    turn it is, falling back to any node."""
    if nid is None:
        nodes = _memory_nodes(ctx)
        if not nodes:
            return False
        nid = _next_node(h, nodes)
    try:
        addr = ctx.mm.memblock.alloc_try_nid_raw(h.size, h.size, 0, nid=nid,
                                                 caller="__alloc_bootmem_huge_page")
    except MemoryError:
        return False
    h.allocated.append(addr)
    return True


def _alloc_pool_huge_page(ctx: BootContext, h: HState, nid: int | None) -> bool:
    """One huge page from the buddy allocator on *nid* only, or on the nodes
    in turn until one has it (alloc_pool_huge_page)."""
    order = (h.size >> PAGE_SHIFT).bit_length() - 1
    nodes = [nid] if nid is not None else _memory_nodes(ctx)
    for _ in nodes:
        node = nid if nid is not None else _next_node(h, nodes)
        try:
            pfn = ctx.mm.alloc_pages(order=order, gfp=HUGE_PAGE_GFP, nid=node)
        except MemoryError:
            continue
        h.allocated.append(pfn << PAGE_SHIFT)
        # prep_new_huge_page
        hugetlb_vmemmap.optimize(ctx, h.size, pfn)
        return True
    return False


#: GFP of a fresh pool huge page (htlb_alloc_mask with __GFP_THISNODE)
HUGE_PAGE_GFP = ("GFP_HIGHUSER_MOVABLE|__GFP_COMP|__GFP_THISNODE|__GFP_NOWARN|"
                 "__GFP_RETRY_MAYFAIL")


def hugetlb_init(ctx: BootContext) -> None:
    """Register the huge page sizes, fill their pools and report them."""
    if not ctx.kconfig.hugetlbfs:
        return
    sizes = ctx.arch.hugetlb_sizes(ctx.machine) if ctx.arch.hugetlb_sizes else ()
    if not sizes:
        return
    hstates: list[HState] = list(ctx.g.hstates)
    # gigantic_pages_init (arch_initcall): the largest size, if not named
    for size in sorted(sizes, reverse=True)[:1]:
        if len(sizes) > 1 and all(h.size != size for h in hstates):
            hstates.append(hugetlb_add_hstate(ctx, size))
    ctx.g.hstates = hstates
    hpage = min(sizes)
    default = next((h for h in hstates if h.size == hpage), None)
    if default is None:
        default = hugetlb_add_hstate(ctx, hpage)
        hstates.append(default)
    pending = ctx.g.default_hstate_max_huge_pages
    if not ctx.g.default_hugepagesz and pending:
        # the first hugepages=, given before any size, is HPAGE_SIZE's
        if default.max_huge_pages:
            ctx.printk(f"HugeTLB: First hugepages={pending * default.size >> 10} kB ignored",
                       KERN_WARNING)
        else:
            default.max_huge_pages = pending
    # hugetlb_init_hstates: the pools of the smaller sizes
    for h in hstates:
        if not h.gigantic(ctx.arch.max_order):
            hugetlb_hstate_alloc_pages(ctx, h)
    # gather_bootmem_prealloc: each gigantic page is prepared (HVO) and
    # counts as managed memory again
    for h in hstates:
        if h.gigantic(ctx.arch.max_order):
            for addr in h.allocated:
                hugetlb_vmemmap.optimize(ctx, h.size, addr >> PAGE_SHIFT)
                ctx.mm.adjust_managed_page_count(addr >> PAGE_SHIFT, h.size >> PAGE_SHIFT)
    ctx.g.totalram_pages = ctx.mm.totalram_pages()
    for h in hstates:
        size = string_get_size(h.size)
        if not ctx.profile_at_least("6.1"):
            ctx.pr_info(f"HugeTLB registered {size} page size, pre-allocated "
                        f"{h.max_huge_pages} pages")
            continue
        ctx.pr_info(f"HugeTLB: registered {size} page size, pre-allocated "
                    f"{h.max_huge_pages} pages")
        if ctx.kconfig.hugetlb_page_optimize_vmemmap:
            freeable = hugetlb_vmemmap.optimizable_pages(ctx, h.size) << PAGE_SHIFT >> 10
            ctx.pr_info(f"HugeTLB: {freeable} KiB vmemmap can be freed for a {size} page")
    ctx.results["hugetlb"] = [
        {"size": h.size, "pages": h.max_huge_pages,
         "pfns": [a >> PAGE_SHIFT for a in h.allocated]} for h in hstates]


def init_hugetlbfs_fs(ctx: BootContext) -> None:
    """fs_initcall ``init_hugetlbfs_fs``: a hugetlbfs build on a machine
    with no huge page size (x86 without PSE) says it is off."""
    if not ctx.kconfig.hugetlbfs:
        return
    sizes = ctx.arch.hugetlb_sizes(ctx.machine) if ctx.arch.hugetlb_sizes else ()
    if not sizes:
        ctx.pr_info("hugetlbfs: disabling because there are no supported hugepage sizes")
