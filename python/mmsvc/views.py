"""The /proc views of a simulated machine, in the kernel's text formats.

buddyinfo, pagetypeinfo and zoneinfo come straight from the Rust core (it
owns the free lists); meminfo is assembled here from the core's counters,
the way fs/proc/meminfo.c assembles it from vmstat.
"""

from __future__ import annotations

from typing import Any

from mmsvc.errors import InvalidArgumentError

VIEWS = ("buddyinfo", "pagetypeinfo", "zoneinfo", "meminfo")


def render(sim: Any, name: str) -> str:
    """The text of ``/proc/<name>`` for the simulation's machine."""
    mm = sim.mm
    if name == "buddyinfo":
        return mm.buddyinfo()
    if name == "pagetypeinfo":
        return mm.pagetypeinfo()
    if name == "zoneinfo":
        return mm.zoneinfo()
    if name == "meminfo":
        return meminfo_text(meminfo(sim))
    raise InvalidArgumentError(f"view: unknown /proc view {name!r} (known: {', '.join(VIEWS)})")


def meminfo(sim: Any) -> dict[str, int]:
    """The /proc/meminfo fields the simulation models, in kB."""
    c = sim.mm.counters()
    kb = 4
    fields = {
        "MemTotal": c["totalram_pages"] * kb,
        "MemFree": c["nr_free_pages"] * kb,
        "MemAvailable": c["nr_free_pages"] * kb,
        "Buffers": 0,
        "Cached": 0,
        "SwapCached": 0,
    }
    extra = sim.ctx.results.get("meminfo_extra", {})
    fields.update(extra)
    return fields


def meminfo_text(fields: dict[str, int]) -> str:
    """Format like fs/proc/meminfo.c: ``%-16s%8lu kB`` after the name and colon."""
    return "".join(f"{name + ':':<16}{value:>8} kB\n" for name, value in fields.items())
