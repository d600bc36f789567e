"""A 32 TiB, 16-node machine boots (the scale benchmark's machine)."""

from __future__ import annotations

from mmsvc.bench.scale import scale_log
from mmsvc.machine import from_dmesg
from mmsvc.simulation import Simulation


def test_32_tib_over_16_nodes_boots():
    sim = Simulation(from_dmesg(scale_log(32 * 1024, 16)).replace(profile="6.1"))
    sim.boot()
    text = sim.log.text()
    assert "Initmem setup node 15 [mem 0x00001e0040000000-0x000020003fffffff]" in text
    assert "Built 16 zonelists, mobility grouping on." in text
    c = sim.mm.counters()
    assert c["present_pages"] * 4096 > 32 * 2**40 - 2**30
    # every deferred page was freed by page_alloc_init_late
    assert c["nr_free_pages"] + c["pcp_pages"] > 0.98 * c["totalram_pages"]
    pfn = sim.mm.alloc_pages(order=10, nid=15)
    assert sim.mm.page_zone(pfn) == (15, "Normal")
