"""The JSON summary ``mmsvc boot --json`` prints: zones, nodes, counters and
the Memory line, as plain data."""

from __future__ import annotations

from typing import Any


def summary(sim: Any) -> dict[str, Any]:
    ctx = sim.ctx
    layout = ctx.results.get("free_area_init", {})
    return {
        "machine": {"arch": ctx.machine.arch, "profile": ctx.profile, "cpus": ctx.machine.cpus,
                    "cmdline": ctx.machine.cmdline},
        "zone_ranges": layout.get("zone_ranges", []),
        "nodes": layout.get("nodes", []),
        "unavailable": layout.get("unavailable", []),
        "total_pages": layout.get("total_pages"),
        "memory": ctx.results.get("mem_init_print_info"),
        "counters": sim.mm.counters(),
        "globals": ctx.g.to_dict(),
        "steps": sim.step_list(),
    }
