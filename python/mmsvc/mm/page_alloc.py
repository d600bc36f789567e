"""The generic page-allocator boot steps (mm/page_alloc.c, mm/memblock.c).

``free_area_init`` builds the nodes and zones from memblock and prints the
zone layout; ``build_all_zonelists`` prints the zonelist summary;
``memblock_free_all`` hands every free page to the buddy allocator;
``mem_init_print_info`` prints the "Memory:" line; ``page_alloc_init_late``
frees the deferred struct pages.
"""

from __future__ import annotations

from typing import Any

from mmsvc.boot.context import BootContext
from mmsvc.errors import OutOfMemoryError
from mmsvc.klog import KERN_WARNING
from mmsvc.mm.mminit import (
    mminit_verify_pageflags_layout,
    mminit_verify_zonelist,
    trace_memmap_init,
)
from mmsvc.units import PAGE_SHIFT, SMP_CACHE_BYTES, round_up

#: MEMBLOCK_HOTPLUG, the memblock flag of memory the SRAT marks hotpluggable
MEMBLOCK_HOTPLUG = 0x1
#: the first pfn at or above 4 GiB, below which kernelcore=mirror leaves memory to the kernel
PFN_4G = 1 << (32 - PAGE_SHIFT)


def _mem(start_pfn: int, end_pfn: int) -> str:
    return f"[mem {start_pfn << PAGE_SHIFT:#018x}-{(end_pfn << PAGE_SHIFT) - 1:#018x}]"


def pglist_data_size(ctx: BootContext) -> int:
    """``sizeof(pg_data_t)`` of the booted build (the catalogue's, else the
    architecture's typical one)."""
    return ctx.build.pglist_data_size or ctx.arch.pglist_data_size


def node_of(ctx: BootContext, nid: int) -> int:
    """The node a memblock region belongs to (non-NUMA regions carry MAX_NUMNODES)."""
    return nid if 0 <= nid < ctx.kconfig.max_numnodes else 0


def free_area_init(ctx: BootContext, zone_limits: dict[str, int], *,
                   dma_reserve: int = 0, nr_nodes: int | None = None) -> dict[str, Any]:
    """Build nodes and zones from memblock.memory and print their layout.

    ``zone_limits`` maps each zone the architecture has (lowest first) to its
    highest pfn (``max_zone_pfn``); "Movable" and "Device" take 0.
    """
    arch = ctx.arch
    regions = [(s, e, node_of(ctx, nid)) for s, e, nid in ctx.mm.memblock.mem_pfn_ranges()
               if e > s]
    nodes = nr_nodes or max((r[2] for r in regions), default=0) + 1
    layout = ctx.mm.free_area_init(
        regions=regions,
        zones=list(zone_limits.items()),
        nr_nodes=nodes,
        dma_reserve=dma_reserve,
        config=page_alloc_config(ctx),
        movable=movable_zone_request(ctx),
    )
    ctx.results["free_area_init"] = layout
    if (ctx.g.early_params_parsed and ctx.cmdline.kernelcore is not None
            and ctx.cmdline.kernelcore.mirror and not ctx.cmdline.movable_node
            and any(s < PFN_4G for s, _, _ in regions)):
        ctx.printk("This configuration results in unmirrored kernel memory.", KERN_WARNING)
    ctx.g.nr_kernel_pages = layout["nr_kernel_pages"]
    ctx.g.nr_all_pages = layout["nr_all_pages"]
    memory = [n["nid"] for n in layout["nodes"] if n["present"] > 0] or [0]
    ctx.g.nr_memory_nodes = len(memory)
    ctx.g.node_online_map = ()
    ctx.g.node_set_online(memory)
    pr = ctx.pr_info
    pr("Zone ranges:")
    for z in layout["zone_ranges"]:
        where = "empty" if z["start_pfn"] == z["end_pfn"] else _mem(z["start_pfn"], z["end_pfn"])
        pr(f"  {z['zone']:<8} {where}")
    pr("Movable zone start for each node")
    for nid, pfn in layout["movable_zone_start"]:
        pr(f"  Node {nid}: {pfn << PAGE_SHIFT:#018x}")
    pr("Early memory node ranges")
    for s, e, nid in layout["early_node_ranges"]:
        pr(f"  node {nid:3d}: {_mem(s, e)}")
    mminit_verify_pageflags_layout(ctx)
    for node in layout["nodes"]:
        nid = node["nid"]
        if node["start_pfn"] != node["end_pfn"]:
            pr(f"Initmem setup node {nid} {_mem(node['start_pfn'], node['end_pfn'])}")
            if not arch.sparsemem:
                alloc_node_mem_map(ctx, node)
                setup_usemaps(ctx, node)
            trace_memmap_init(ctx, node)
        elif ctx.profile_at_least("6.1") and nid in ctx.g.node_possible_map:
            # a possible node that is not online: its pgdat comes from memblock here
            pr(f"Initializing node {nid} as memoryless")
            ctx.mm.memblock.alloc(pglist_data_size(ctx), SMP_CACHE_BYTES,
                                  caller="free_area_init")
            pr(f"Initmem setup node {nid} as memoryless")
    for u in layout["unavailable"]:
        pr(f"On node {u['nid']}, zone {u['zone']}: {u['pages']} pages in unavailable ranges")
    return layout


def movable_zone_request(ctx: BootContext) -> dict[str, Any]:
    """``kernelcore=``, ``movablecore=`` and ``movable_node`` for the core's
    ZONE_MOVABLE sizing: pages or a percentage of memory. They are early
    parameters: an architecture that builds its zones before
    ``parse_early_param`` (UML) gets none of them."""
    cmd = ctx.cmdline
    if not ctx.g.early_params_parsed:
        return {"movable_node": False}
    movable_node = bool(cmd.movable_node) and bool(ctx.kconfig.memory_hotplug)
    out: dict[str, Any] = {"movable_node": movable_node}
    if movable_node:
        out["hotplug_regions"] = [(r.base >> PAGE_SHIFT, node_of(ctx, r.nid))
                                  for r in ctx.mm.memblock.memory() if r.flags & MEMBLOCK_HOTPLUG]
    for name in ("kernelcore", "movablecore"):
        core = getattr(cmd, name)
        if core is None:
            continue
        if core.mirror:
            # machine descriptions carry no mirrored memory: all of it is
            # unmirrored, and the kernel then ignores movablecore=
            return {"movable_node": out["movable_node"], "mirror": True}
        if core.percent is not None:
            out[f"{name}_percent"] = core.percent
        else:
            out[f"{name}_pages"] = (core.bytes or 0) >> PAGE_SHIFT
    return out


def alloc_node_mem_map(ctx: BootContext, node: dict[str, Any]) -> None:
    """FLATMEM: the node's struct page array, MAX_ORDER-aligned, from
    memblock, right after its "Initmem setup" line; the kernel panics when
    memblock cannot give it, and so the boot stops here."""
    align = 1 << (ctx.arch.max_order - 1)
    start = node["start_pfn"] & ~(align - 1)
    end = round_up(node["end_pfn"], align)
    size = (end - start) * 64
    try:
        ctx.mm.memblock.alloc_node(size, 64, node["nid"], caller="alloc_node_mem_map")
    except OutOfMemoryError as e:
        raise OutOfMemoryError(f"Failed to allocate {size} bytes for node {node['nid']} "
                               f"memory map (the kernel panics here): {e}") from e


def usemap_size(ctx: BootContext, zone_start_pfn: int, spanned: int) -> int:
    """``usemap_size``: the zone's pageblock flags, NR_PAGEBLOCK_BITS (4)
    a pageblock, in whole longs."""
    pb = 1 << ctx.arch.pageblock_order
    bits = round_up(spanned + (zone_start_pfn & (pb - 1)), pb) // pb * 4
    return round_up(bits, 64) // 8


def setup_usemaps(ctx: BootContext, node: dict[str, Any]) -> None:
    """FLATMEM (``setup_usemap``): each zone of the node with pages spanned
    gets its pageblock flags from memblock (SPARSEMEM keeps them per
    section)."""
    for z in node["zones"]:
        if z["spanned"]:
            size = usemap_size(ctx, z["start_pfn"], z["spanned"])
            ctx.mm.memblock.alloc_node(size, SMP_CACHE_BYTES, node["nid"], caller="setup_usemap")


def page_alloc_config(ctx: BootContext) -> dict[str, Any]:
    """The buddy allocator's configuration for this machine, as plain data."""
    arch, kc, cmd = ctx.arch, ctx.kconfig, ctx.cmdline
    return {
        "max_order": arch.max_order,
        "pageblock_order": arch.pageblock_order,
        "nr_cpus": ctx.machine.cpus,
        "sparsemem": arch.sparsemem,
        "section_size_bits": arch.section_size_bits,
        "deferred_struct_page_init": bool(kc.deferred_struct_page_init),
        # 6.1's early_page_ext (with page_ext built in) turns deferral off;
        # the core applies it for the 6.1 profile only
        "early_page_ext": bool(kc.page_extension) and cmd.get("early_page_ext") is not None,
        "profile": ctx.profile,
    }


def build_all_zonelists(ctx: BootContext) -> None:
    """Print the fallback orders (6.1), the zonelist summary and the policy zone."""
    layout = ctx.results["free_area_init"]
    memory = [n["nid"] for n in layout["nodes"] if n["present"] > 0] or [0]
    online = ctx.g.node_online_map
    orders = build_zonelist_orders(ctx, online, memory) if ctx.kconfig.numa else {}
    if ctx.profile_at_least("6.1"):
        for nid, order in orders.items():
            ctx.pr_info(f"Fallback order for Node {nid}: " + "".join(f"{n} " for n in order))
    mminit_verify_zonelist(ctx, layout, orders)
    total = layout["total_pages"]
    grouping = "on" if layout["mobility_grouping"] else "off"
    ctx.pr_info(f"Built {len(online)} zonelists, mobility grouping {grouping}.  "
                f"Total pages: {total}")
    policy = policy_zone(layout)
    if policy and ctx.kconfig.numa:
        ctx.pr_info(f"Policy zone: {policy}")


def node_distance(ctx: BootContext, a: int, b: int) -> int:
    """``node_distance``: the firmware's (or NUMA emulation's) table, else
    LOCAL_DISTANCE (10) or REMOTE_DISTANCE (20)."""
    table = ctx.g.numa_distance
    if a < len(table) and b < len(table):
        return table[a][b]
    return 10 if a == b else 20


def build_zonelist_orders(ctx: BootContext, online: list[int] | tuple[int, ...],
                          memory: list[int]) -> dict[int, list[int]]:
    """``build_zonelists`` for each online node in turn: the local node,
    then the nodes with memory, nearest first; a node numbered below the
    local one loses ties, and so does the node that opened each new
    distance (its ``node_load`` grows, for the nodes built after it). No
    CPU is in a node's mask yet at boot."""
    node_load = dict.fromkeys(memory, 0)
    weight = ctx.kconfig.max_numnodes  # distance first, node_load breaks ties
    orders = {}
    for nid in online:
        order = [nid]
        prev = nid
        while True:
            best, best_val = None, None
            for n in memory:
                if n in order:
                    continue
                val = (node_distance(ctx, nid, n) + (n < nid)) * weight + node_load[n]
                if best_val is None or val < best_val:
                    best, best_val = n, val
            if best is None:
                break
            if node_distance(ctx, nid, best) != node_distance(ctx, nid, prev):
                node_load[best] += 1
            order.append(best)
            prev = best
        orders[nid] = order
    return orders


def policy_zone(layout: dict[str, Any]) -> str | None:
    """The highest populated zone below Movable (``policy_zone``)."""
    best = None
    for node in layout["nodes"]:
        for z in node["zones"]:
            if z["zone"] in ("Movable", "Device") or z["present"] == 0:
                continue
            names = [zz["zone"] for zz in node["zones"]]
            if best is None or names.index(z["zone"]) > names.index(best):
                best = z["zone"]
    return best


def memblock_free_all(ctx: BootContext) -> int:
    """Release every free memblock range to the buddy allocator."""
    freed = ctx.mm.memblock_free_all()
    ctx.g.totalram_pages = ctx.mm.totalram_pages()
    return freed


def mem_init_print_info(ctx: BootContext) -> None:
    """The "Memory: A/TK available (...)" line."""
    k = ctx.machine.kernel
    physpages = ctx.mm.present_pages()
    totalram = ctx.mm.totalram_pages()
    free = ctx.mm.nr_free_pages()
    cma = ctx.g.totalcma_pages
    reserved = physpages - totalram - cma
    info = {
        "available_kb": free << 2, "total_kb": physpages << 2,
        "kernel_code_kb": k.text >> 10, "rwdata_kb": k.rwdata >> 10,
        "rodata_kb": k.rodata >> 10, "init_kb": k.init >> 10, "bss_kb": k.bss >> 10,
        "reserved_kb": reserved << 2, "cma_reserved_kb": cma << 2,
    }
    ctx.results["mem_init_print_info"] = info
    ctx.pr_info(
        f"Memory: {info['available_kb']}K/{info['total_kb']}K available "
        f"({info['kernel_code_kb']}K kernel code, {info['rwdata_kb']}K rwdata, "
        f"{info['rodata_kb']}K rodata, {info['init_kb']}K init, {info['bss_kb']}K bss, "
        f"{info['reserved_kb']}K reserved, {info['cma_reserved_kb']}K cma-reserved)")


def page_alloc_init_late(ctx: BootContext) -> None:
    """Free the deferred struct pages (``deferred_init_memmap``) and recompute
    the watermarks."""
    ctx.mm.page_alloc_init_late()
    ctx.g.totalram_pages = ctx.mm.totalram_pages()
    # each node with deferred pages reports when its kthread is done, in
    # jiffies since it started: the simulated kernel's clock does not move,
    # so 0ms, the same at every boot (the kernel's threads race, and so does
    # the order of their lines; verify compares them without the time)
    for node in ctx.results["free_area_init"]["nodes"]:
        if node.get("first_deferred_pfn") is not None:
            ctx.pr_info(f"node {node['nid']} deferred pages initialised in 0ms")
