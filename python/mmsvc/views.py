"""The /proc views of a simulated machine, in the kernel's text formats.

buddyinfo, pagetypeinfo and zoneinfo come straight from the Rust core (it
owns the free lists); meminfo is assembled here from the core's counters,
the way fs/proc/meminfo.c assembles it from vmstat.
"""

from __future__ import annotations

from typing import Any

from mmsvc.errors import InvalidArgumentError
from mmsvc.units import PAGE_SIZE

VIEWS = ("buddyinfo", "pagetypeinfo", "zoneinfo", "meminfo", "slabinfo", "vmallocinfo")


def render(sim: Any, name: str) -> str:
    """The text of ``/proc/<name>`` for the simulation's machine."""
    mm = sim.mm
    if name == "buddyinfo":
        return mm.buddyinfo()
    if name == "pagetypeinfo":
        return mm.pagetypeinfo()
    if name == "zoneinfo":
        return mm.zoneinfo()
    if name == "slabinfo":
        return mm.slabinfo()
    if name == "vmallocinfo":
        return mm.vmallocinfo()
    if name == "meminfo":
        return meminfo_text(meminfo(sim))
    raise InvalidArgumentError(f"view: unknown /proc view {name!r} (known: {', '.join(VIEWS)})")


def meminfo(sim: Any) -> dict[str, int]:
    """The /proc/meminfo fields the simulation models, in kB."""
    c = sim.mm.counters()
    kb = PAGE_SIZE >> 10
    slab_up = sim.ctx.g.slab_state == "UP"
    reclaimable, unreclaimable = sim.mm.slab_meminfo() if slab_up else (0, 0)
    fields = {
        "MemTotal": c["totalram_pages"] * kb,
        "MemFree": c["nr_free_pages"] * kb,
        "MemAvailable": mem_available(sim.mm.zones(), c["nr_free_pages"], reclaimable) * kb,
        "Buffers": 0,
        "Cached": 0,
        "SwapCached": 0,
        "SwapTotal": 0,
        "SwapFree": 0,
    }
    if slab_up:
        fields["Slab"] = (reclaimable + unreclaimable) * kb
        fields["SReclaimable"] = reclaimable * kb
        fields["SUnreclaim"] = unreclaimable * kb
    fields["PageTables"] = c.get("page_table_pages", 0) * kb
    hugetlb = sim.ctx.results.get("hugetlb") or []
    hugetlb_pages = sum(h["pages"] * (h["size"] // PAGE_SIZE) for h in hugetlb)
    # no swap device: vm_commit_limit is the overcommit ratio (50 %) of the
    # RAM huge pages do not hold
    fields["CommitLimit"] = (c["totalram_pages"] - hugetlb_pages) * 50 // 100 * kb
    if sim.ctx.g.vmap_initialized:
        total, used, chunk = sim.mm.vmalloc_meminfo()
        fields.update(VmallocTotal=total, VmallocUsed=used, VmallocChunk=chunk)
    if hugetlb:
        # hugetlb_report_meminfo: the default size's pool, then every pool's memory
        size = sim.ctx.g.default_hugepagesz or min(h["size"] for h in hugetlb)
        pool = next((h for h in hugetlb if h["size"] == size), {"pages": 0})
        fields.update({"HugePages_Total": pool["pages"], "HugePages_Free": pool["pages"],
                       "HugePages_Rsvd": 0, "HugePages_Surp": 0,
                       "Hugepagesize": size >> 10, "Hugetlb": hugetlb_pages * kb})
    dm = sim.ctx.results.get("direct_map")
    if dm is not None:
        # the leaves of the direct map, or the kernel's own counters when
        # the architecture keeps them (x86's direct_pages_count)
        names = {4096: "DirectMap4k", 2 << 20: "DirectMap2M", 1 << 30: "DirectMap1G"}
        if dm.get("kernel_counts"):
            sized = [(size, count * size >> 10) for size, count in sim.mm.direct_pages_count()]
        else:
            sized = sim.mm.leaf_counts_kb(dm["virt"], dm["length"])
        for size, kbytes in sized:
            if size in names:
                fields[names[size]] = kbytes
    return fields


def mem_available(zones: list[dict[str, Any]], nr_free: int, reclaimable: int) -> int:
    """``si_mem_available`` in pages: free pages less the reserve
    (``totalreserve_pages``: per zone its largest lowmem_reserve plus its
    high watermark, at most its managed pages), plus the part of the page
    cache and of reclaimable slab that is not held back by the low
    watermarks. The simulation has no page cache."""
    wmark_low = sum(z["low"] for z in zones)
    totalreserve = sum(min(max(z["protection"], default=0) + z["high"], z["managed"])
                       for z in zones)
    available = nr_free - totalreserve
    available += reclaimable - min(reclaimable // 2, wmark_low)
    return max(available, 0)


#: /proc/meminfo lines that are counts, not kB (hugetlb_report_meminfo's)
MEMINFO_COUNTS = ("HugePages_Total", "HugePages_Free", "HugePages_Rsvd", "HugePages_Surp")


def meminfo_text(fields: dict[str, int]) -> str:
    """Format like fs/proc/meminfo.c: ``%-16s%8lu kB`` after the name and
    colon; the huge page counts as ``%-16s   %5lu``."""
    return "".join(f"{name + ':':<16}   {value:>5}\n" if name in MEMINFO_COUNTS
                   else f"{name + ':':<16}{value:>8} kB\n" for name, value in fields.items())
