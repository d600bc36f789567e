"""The memory-layout options together, on machines of one to four nodes:
every combination boots with a consistent layout or stops with a typed
error naming the problem; none raises anything else."""

from __future__ import annotations

import dataclasses

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mmsvc.errors import MmsvcError
from mmsvc.machine import NumaNode, default_machine
from mmsvc.simulation import Simulation

GiB = 1 << 30
END = 5 * GiB  # the default machine's memory ends at 5 GiB
SECTION = 128 << 20

SIZES = st.sampled_from(["1", "64M", "512M", "1G", "3G", "8G", "0"])
PERCENT = st.integers(0, 100).map(lambda p: f"{p}%")
CORE = st.one_of(st.none(), SIZES, PERCENT)
FAKE = st.one_of(st.none(), st.integers(0, 40).map(str),
                 st.sampled_from(["32M", "100M", "1G", "2U", "3U", "2:10,30,30,10"]))


def _machine(nodes: int, cmdline: str):
    m = default_machine("6.1")
    step = END // nodes // SECTION * SECTION
    bounds = [i * step for i in range(nodes)] + [END]
    numa = tuple(NumaNode(i, ((bounds[i], bounds[i + 1]),), (i,)) for i in range(nodes))
    return dataclasses.replace(m, numa=numa if nodes > 1 else (), cpus=nodes,
                               cmdline=f"{m.cmdline} {cmdline}".strip())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(1, 4), st.one_of(CORE, st.just("mirror")), CORE, FAKE,
       st.sampled_from(["", "crashkernel=256M,high", "mem=3G", "numa=off"]))
def test_layout_options_boot_or_fail_cleanly(nodes, kernelcore, movablecore, fake, extra):
    parts = [extra]
    if kernelcore is not None:
        parts.append(f"kernelcore={kernelcore}")
    if movablecore is not None:
        parts.append(f"movablecore={movablecore}")
    if fake is not None:
        parts.append(f"numa=fake={fake}")
    try:
        sim = Simulation(_machine(nodes, " ".join(p for p in parts if p)))
        sim.boot()
    except MmsvcError:
        return
    layout = sim.ctx.results["free_area_init"]
    memory = sum(e - s for s, e, _ in sim.mm.memblock.mem_pfn_ranges())
    assert sum(n["present"] for n in layout["nodes"]) == memory
    for node in layout["nodes"]:
        zones = [z for z in node["zones"] if z["spanned"]]
        # zones of a node do not overlap, and lie inside it
        for a, b in zip(zones, zones[1:], strict=False):
            assert a["start_pfn"] + a["spanned"] <= b["start_pfn"]
        for z in zones:
            assert node["start_pfn"] <= z["start_pfn"]
            assert z["start_pfn"] + z["spanned"] <= node["end_pfn"]
    for _nid, pfn in layout["movable_zone_start"]:
        assert pfn % 1024 == 0
    g = sim.ctx.g
    assert set(g.node_online_map) <= set(g.node_possible_map)
    assert sim.mm.totalram_pages() <= memory
    # the machine stays usable
    pfn = sim.mm.alloc_pages(0)
    sim.mm.free_pages(pfn, 0)


HUGE = st.sampled_from(["", "hugepagesz=1G hugepages=2", "hugepagesz=1G hugepages=0:1,1:1",
                        "hugepages=100", "hugepagesz=2M hugepages=1:8", "hugepagesz=7M"])
CPUS = st.sampled_from(["", "nr_cpus=1", "possible_cpus=9", "nosmp", "maxcpus=1"])
MISC = st.sampled_from(["", "log_buf_len=1M", "log_buf_len=junk", "hashdist=0",
                        "nohugevmalloc", "swiotlb=force", "iommu=soft", "pti=on vsyscall=emulate"])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(1, 4), HUGE, CPUS, MISC, st.sampled_from(["5.14", "6.1"]))
def test_cpu_huge_page_and_buffer_options_boot_or_fail_cleanly(nodes, huge, cpus, misc,
                                                                profile):
    m = _machine(nodes, " ".join(p for p in (huge, cpus, misc) if p)).replace(profile=profile)
    try:
        sim = Simulation(m)
        sim.boot()
    except MmsvcError:
        return
    g = sim.ctx.g
    assert 1 <= g.nr_cpu_ids
    memory = sum(e - s for s, e, _ in sim.mm.memblock.mem_pfn_ranges())
    assert sim.mm.totalram_pages() <= memory
    assert sim.mm.nr_free_pages() <= sim.mm.totalram_pages()
    # every huge page reported is one the simulation holds
    for h in sim.ctx.results.get("hugetlb", []):
        assert len(h["pfns"]) == h["pages"]
    pfn = sim.mm.alloc_pages(0)
    sim.mm.free_pages(pfn, 0)
