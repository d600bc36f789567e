"""The memory-init debug reports (``mminit_loglevel=``, mm/mm_init.c), built
with CONFIG_DEBUG_MEMORY_INIT.

``mminit_loglevel=N`` prints the ``mminit::`` lines whose level is below N:
warnings (0), the zonelists as built (1, ``mminit_verify_zonelist``), and
traces (2): the page-flags layout and each zone's memmap range. All but
the warnings are KERN_DEBUG, so a console shows them with ``debug`` or
``loglevel=8``.

The page-flags layout is the build's: how many bits of ``page->flags``
hold the section, node, zone, last CPU/PID, KASAN tag and multi-gen LRU
fields, worked out from the config as include/linux/page-flags-layout.h
does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mmsvc.boot.context import BootContext
from mmsvc.klog import KERN_DEBUG, KERN_WARNING

MMINIT_WARNING, MMINIT_VERIFY, MMINIT_TRACE = 0, 1, 2
BITS_PER_LONG = 64
#: PG_locked ... PG_unevictable: the flags every build has
_BASE_PAGEFLAGS = 21
#: last_cpupid: the PID bits beside the CPU number
LAST__PID_SHIFT = 8
#: multi-gen LRU (6.1): order_base_2(MAX_NR_GENS + 1) and MAX_NR_TIERS - 2
LRU_GEN_BITS, LRU_REFS_BITS = 3, 2
KASAN_TAG_BITS = 8


def mminit_loglevel(ctx: BootContext) -> int:
    """``mminit_loglevel``: the early parameter read as get_option does; 0
    until parse_early_param has run (user-mode Linux runs it only after
    the zonelists are built) and on builds without CONFIG_DEBUG_MEMORY_INIT
    (then nothing knows the parameter)."""
    if not ctx.kconfig.debug_memory_init or not ctx.g.early_params_parsed:
        return 0
    return ctx.cmdline.get_int("mminit_loglevel", 0) or 0


def mminit_dprintk(ctx: BootContext, level: int, prefix: str, text: str) -> None:
    if level < mminit_loglevel(ctx):
        ctx.printk(f"mminit::{prefix} {text}", KERN_WARNING if level <= MMINIT_WARNING
                   else KERN_DEBUG)


def _order_base_2(n: int) -> int:
    return (n - 1).bit_length() if n > 1 else 0


def nr_pageflags(ctx: BootContext) -> int:
    """``NR_PAGEFLAGS``: the page flags the build's config enables (on a
    64-bit build PG_arch_2, and PG_young/PG_idle with PAGE_IDLE_FLAG,
    5.14's IDLE_PAGE_TRACKING); the same list in 5.14 and 6.1."""
    kc = ctx.kconfig
    n = _BASE_PAGEFLAGS + kc.mmu + kc.arch_uses_pg_uncached + kc.memory_failure
    return n + 2 * kc.page_idle_flag + 1 + kc.kasan_hw_tags


@dataclass(frozen=True)
class PageFlagsLayout:
    """Where the fields of ``page->flags`` sit (widths and shifts in bits)."""

    nr_pageflags: int
    sections_shift: int
    sections_width: int
    nodes_shift: int
    nodes_width: int
    zones_shift: int
    last_cpupid_shift: int
    last_cpupid_width: int
    kasan_tag_width: int
    lru_gen_width: int
    lru_refs_width: int

    @property
    def sections_pgoff(self) -> int:
        return BITS_PER_LONG - self.sections_width

    @property
    def nodes_pgoff(self) -> int:
        return self.sections_pgoff - self.nodes_width

    @property
    def zones_pgoff(self) -> int:
        return self.nodes_pgoff - self.zones_shift

    @property
    def last_cpupid_pgoff(self) -> int:
        return self.zones_pgoff - self.last_cpupid_width

    @property
    def kasan_tag_pgoff(self) -> int:
        return self.last_cpupid_pgoff - self.kasan_tag_width

    @property
    def node_not_in_page_flags(self) -> bool:
        return self.nodes_shift != 0 and self.nodes_width == 0

    @property
    def zoneid(self) -> tuple[int, int]:
        """``(ZONEID_SHIFT, ZONEID_PGOFF)``: the section or the node, with the zone."""
        if self.node_not_in_page_flags:
            return (self.sections_shift + self.zones_shift,
                    min(self.sections_pgoff, self.zones_pgoff))
        return self.nodes_shift + self.zones_shift, min(self.nodes_pgoff, self.zones_pgoff)


def page_flags_layout(ctx: BootContext) -> PageFlagsLayout:
    kc, arch = ctx.kconfig, ctx.arch
    flags = nr_pageflags(ctx)
    room = BITS_PER_LONG - flags
    nr_zones = len(arch.zone_names) + (kc.zone_device and "Device" not in arch.zone_names)
    zones = 0 if nr_zones < 2 else _order_base_2(nr_zones)
    sections_shift = 0
    if kc.sparsemem:
        bits = ctx.machine.max_physmem_bits or 0
        sections_shift = max(bits - arch.section_size_bits, 0)
    sections = sections_shift if kc.sparsemem and not kc.sparsemem_vmemmap else 0
    lru_gen = LRU_GEN_BITS if kc.lru_gen and ctx.profile_at_least("6.1") else 0
    nodes_shift = kc.nodes_shift if kc.numa else 0
    nodes = nodes_shift if zones + lru_gen + sections + nodes_shift <= room else 0
    kasan = KASAN_TAG_BITS if kc.kasan_hw_tags else 0
    cpupid = 0
    if kc.numa_balancing:
        cpupid = LAST__PID_SHIFT + (_order_base_2(kc.nr_cpus) if kc.smp else 0)
    cpupid_width = cpupid if zones + lru_gen + sections + nodes + kasan + cpupid <= room else 0
    refs = 0
    if lru_gen:
        refs = min(LRU_REFS_BITS, room - zones - lru_gen - sections - nodes - kasan
                   - cpupid_width)
    return PageFlagsLayout(flags, sections_shift, sections, nodes_shift, nodes, zones, cpupid,
                           cpupid_width, kasan, lru_gen, refs)


def mminit_verify_pageflags_layout(ctx: BootContext) -> None:
    """The page-flags layout report (free_area_init, before the nodes)."""
    if MMINIT_TRACE >= mminit_loglevel(ctx):
        return
    lay = page_flags_layout(ctx)
    new = ctx.profile_at_least("6.1")
    gen = f" Gen {lay.lru_gen_width} Tier {lay.lru_refs_width}" if new else ""
    pr = mminit_dprintk
    pr(ctx, MMINIT_TRACE, "pageflags_layout_widths",
       f"Section {lay.sections_width} Node {lay.nodes_width} Zone {lay.zones_shift} "
       f"Lastcpupid {lay.last_cpupid_width} Kasantag {lay.kasan_tag_width}{gen} "
       f"Flags {lay.nr_pageflags}")
    pr(ctx, MMINIT_TRACE, "pageflags_layout_shifts",
       f"Section {lay.sections_shift} Node {lay.nodes_shift} Zone {lay.zones_shift} "
       f"Lastcpupid {lay.last_cpupid_shift} Kasantag {lay.kasan_tag_width}")
    shifts = [off * (width != 0) for off, width in (
        (lay.sections_pgoff, lay.sections_width), (lay.nodes_pgoff, lay.nodes_width),
        (lay.zones_pgoff, lay.zones_shift), (lay.last_cpupid_pgoff, lay.last_cpupid_width),
        (lay.kasan_tag_pgoff, lay.kasan_tag_width))]
    pr(ctx, MMINIT_TRACE, "pageflags_layout_pgshifts",
       "Section {} Node {} Zone {} Lastcpupid {} Kasantag {}".format(*shifts))
    zid_shift, zid_pgoff = lay.zoneid
    pr(ctx, MMINIT_TRACE, "pageflags_layout_nodezoneid",
       f"Node/Zone ID: {zid_pgoff + zid_shift} -> {zid_pgoff}")
    width = (BITS_PER_LONG - lay.sections_width - lay.nodes_width - lay.zones_shift
             - lay.last_cpupid_shift - lay.kasan_tag_width - lay.lru_gen_width
             - lay.lru_refs_width)
    pr(ctx, MMINIT_TRACE, "pageflags_layout_usage",
       f"location: {BITS_PER_LONG} -> {width} layout {width} -> {lay.nr_pageflags} "
       f"unused {lay.nr_pageflags} -> 0 page-flags")
    if lay.node_not_in_page_flags:
        pr(ctx, MMINIT_TRACE, "pageflags_layout_nodeflags", "Node not in page flags")
    if lay.last_cpupid_shift and not lay.last_cpupid_width:
        pr(ctx, MMINIT_TRACE, "pageflags_layout_nodeflags", "Last cpupid not in page flags")


def trace_memmap_init(ctx: BootContext, node: dict[str, Any]) -> None:
    """init_currently_empty_zone's trace: each zone the node spans."""
    for idx, zone in enumerate(node["zones"]):
        if zone["spanned"]:
            mminit_dprintk(ctx, MMINIT_TRACE, "memmap_init",
                           f"Initialising map node {node['nid']} zone {idx} pfns "
                           f"{zone['start_pfn']} -> {zone['start_pfn'] + zone['spanned']}")


def mminit_verify_zonelist(ctx: BootContext, layout: dict[str, Any],
                           orders: dict[int, list[int]]) -> None:
    """Each online node's zonelists as built: for every zone with memory,
    the fallback list (zones of the nodes in fallback order, highest zone
    first, none above this zone) and, on NUMA builds, this node's own."""
    if MMINIT_VERIFY >= mminit_loglevel(ctx):
        return
    nodes = {n["nid"]: n for n in layout["nodes"]}

    def zonerefs(nid: int) -> list[tuple[int, int, str]]:
        node = nodes.get(nid)
        if node is None:
            return []
        return [(nid, i, z["zone"]) for i, z in reversed(list(enumerate(node["zones"])))
                if z["managed_estimate"] > 0]

    lists = ("general", "thisnode") if ctx.kconfig.numa else ("general",)
    for nid in ctx.g.node_online_map:
        node = nodes.get(nid)
        if node is None:
            continue
        refs = {"general": [r for n in orders.get(nid, [nid]) for r in zonerefs(n)],
                "thisnode": zonerefs(nid)}
        for which in lists:
            for idx, zone in enumerate(node["zones"]):
                if not zone["present"]:
                    continue
                members = "".join(f"{n}:{name} " for n, i, name in refs[which] if i <= idx)
                ctx.printk(f"mminit::zonelist {which} {nid}:{zone['zone']} = {members}",
                           KERN_DEBUG)
