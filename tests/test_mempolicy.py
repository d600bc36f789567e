"""The memory policy of requests that name no node (``nid=-1``, the kernel's
NUMA_NO_NODE): the allocating cpu's node, or the boot task's interleave
from ``numa_policy_init`` to ``numa_default_policy``."""

from __future__ import annotations

import array

import pytest

from mmsvc import _core
from mmsvc.errors import InvalidArgumentError, MmsvcError
from mmsvc.machine import default_machine, from_dmesg
from mmsvc.mm.mempolicy import interleave_nodes
from mmsvc.simulation import Simulation

from .conftest import MiB

NODE = 0x8000  # pages per node: 128 MiB


def two_nodes() -> _core.Mm:
    """Node 0 [1 MiB, 128 MiB) and node 1 [128 MiB, 256 MiB), cpu 1 on node 1."""
    mm = _core.Mm("6.1")
    mm.memblock.add(MiB, 2 * NODE * 4096 - MiB, 0)
    mm.memblock.set_node(NODE * 4096, NODE * 4096, 1)
    mm.free_area_init(mm.memblock.mem_pfn_ranges(), [("DMA", 0x1000), ("DMA32", 2 * NODE),
                                                     ("Normal", 2 * NODE), ("Movable", 0)], 2,
                      config={"deferred_struct_page_init": False, "nr_cpus": 2,
                              "cpu_to_node": [0, 1]})
    mm.memblock_free_all()
    mm.setup_per_cpu_pageset()
    mm.init_per_zone_wmark_min()
    return mm


def node_of(mm: _core.Mm, pfn: int) -> int:
    return mm.page_zone(pfn)[0]


def test_no_node_means_the_cpus_node_by_default():
    mm = two_nodes()
    assert mm.mempolicy() == ("local", [])
    assert node_of(mm, mm.alloc_pages(0)) == 0
    assert node_of(mm, mm.alloc_pages(0, cpu=1)) == 1
    assert node_of(mm, mm.alloc_pages(3, nid=-1, cpu=1)) == 1
    assert node_of(mm, mm.alloc_pages(0, nid=0, cpu=1)) == 0


def test_interleave_takes_the_nodes_in_turn_and_bulk_splits_evenly():
    mm = two_nodes()
    mm.set_mempolicy("interleave", [1, 0])
    assert mm.mempolicy() == ("interleave", [0, 1])
    assert [node_of(mm, mm.alloc_pages(0, cpu=1)) for _ in range(5)] == [0, 1, 0, 1, 0]
    out = array.array("Q", bytes(8 * 101))
    assert mm.alloc_pages_bulk(out, 0) == 101
    per_node = [sum(node_of(mm, p) == n for p in out) for n in (0, 1)]
    # the interleave goes on from node 1: it gets the larger share first
    assert per_node == [50, 51]
    # a node given explicitly is not the policy's business
    assert node_of(mm, mm.alloc_pages(0, nid=0)) == 0
    assert node_of(mm, mm.alloc_pages(0)) == 1
    mm.set_mempolicy("local")
    assert node_of(mm, mm.alloc_pages(0, cpu=1)) == 1


@pytest.mark.parametrize(("mode", "nodes", "field"), [
    ("interleave", None, "nodes"), ("interleave", [], "nodes"), ("local", [0], "nodes"),
    ("preferred", [0], "mode"),
])
def test_bad_policies_are_refused_and_change_nothing(mode, nodes, field):
    mm = two_nodes()
    mm.set_mempolicy("interleave", [0, 1])
    with pytest.raises(InvalidArgumentError, match=field):
        mm.set_mempolicy(mode, nodes)
    assert mm.mempolicy() == ("interleave", [0, 1])


def test_an_interleave_over_a_missing_node_is_refused():
    mm = two_nodes()
    with pytest.raises(MmsvcError, match="node 7"):
        mm.set_mempolicy("interleave", [0, 7])
    assert mm.mempolicy() == ("local", [])


def test_a_bad_request_does_not_move_the_interleave():
    mm = two_nodes()
    mm.set_mempolicy("interleave", [0, 1])
    with pytest.raises(MmsvcError):
        mm.alloc_pages(0, cpu=9)
    assert node_of(mm, mm.alloc_pages(0)) == 0


def test_interleave_nodes_rule():
    mib = 256  # pages per MiB
    assert interleave_nodes({0: 64 * mib, 1: 16 * mib, 2: 0}) == [0, 1]
    assert interleave_nodes({0: 8 * mib, 1: 15 * mib}) == [1]  # all small: the largest
    assert interleave_nodes({0: 0}) == []


def test_the_boot_interleaves_and_ends_local():
    sim = Simulation(default_machine("6.1"))
    sim.run(until="vfs_caches_init")
    assert sim.mm.mempolicy() == ("interleave", [0])
    sim.boot()
    assert sim.mm.mempolicy() == ("local", [])
    # one node: no NUMA balancing line
    assert "automatic NUMA balancing" not in sim.log.text()


def test_a_two_node_boot_spreads_its_tables_and_the_jit_pack(dmesg_dir):
    sim = Simulation(from_dmesg(str(dmesg_dir / "qemu-x86_64-4g-2node-proc.log")), profile="6.1")
    sim.boot()
    text = sim.log.text()
    assert ("mempolicy: Enabling automatic NUMA balancing. Configure with numa_balancing= "
            "or the kernel.numa_balancing sysctl") in text
    info = sim.mm.vmallocinfo()
    # as the real kernel's /proc/vmallocinfo has them
    assert "4198400 alloc_large_system_hash pages=1024 vmalloc vpages N0=512 N1=512" in info
    assert "2101248 alloc_large_system_hash pages=512 vmalloc N0=256 N1=256" in info
    assert "12288 bpf_prog_pack_alloc pages=2 vmalloc N0=1 N1=1" in info
    pack = [line for line in info.splitlines() if line.startswith("0xffffffffc0000000-")]
    assert pack and pack[0].endswith("4198400 bpf_prog_pack_alloc pages=1024 vmalloc vpages "
                                     "N0=512 N1=512")
    assert sim.mm.mempolicy() == ("local", [])


def test_numa_balancing_on_the_command_line_silences_the_line(dmesg_dir):
    m = from_dmesg(str(dmesg_dir / "qemu-x86_64-4g-2node-proc.log"))
    sim = Simulation(m.replace(cmdline=m.cmdline + " numa_balancing=disable"), profile="6.1")
    sim.run(until="vfs_caches_init")
    assert "automatic NUMA balancing" not in sim.log.text()
    assert sim.mm.mempolicy() == ("interleave", [0, 1])


def test_hash_pages_without_a_vmalloc_space_follow_the_interleave(dmesg_dir):
    from mmsvc.mm.hashes import alloc_large_system_hash_vmalloc

    sim = Simulation(from_dmesg(str(dmesg_dir / "qemu-x86_64-4g-2node-proc.log")), profile="6.1")
    sim.run(until="vfs_caches_init")
    sim.ctx.g.vmap_initialized = False  # as on an architecture without one
    table = alloc_large_system_hash_vmalloc(sim.ctx, "Test", 8, 14, 1 << 16)
    pages = sim.ctx.results["hash_tables"][-1]["where"]
    assert len(pages) == table.size // 4096 == 128
    assert [sum(node_of(sim.mm, p) == n for p in pages) for n in (0, 1)] == [64, 64]


def test_new_slabs_under_interleave_land_on_one_node():
    """Before SLUB makes a new slab for a request naming no node it asks the
    policy where to look for other nodes' partial slabs
    (``mempolicy_slab_node``), which moves the interleave on once more: with
    two nodes the new slabs all land on one node, where plain page requests
    alternate."""
    from mmsvc.machine import NumaNode

    gib = 1 << 30
    numa = (NumaNode(0, ((0, 0xA0000), (0x100000, 3 * gib)), (0,)),
            NumaNode(1, ((4 * gib, 5 * gib),), (1,)))
    sim = Simulation(default_machine("6.1").replace(numa=numa, cpus=2))
    sim.boot()
    mm = sim.mm
    mm.set_mempolicy("interleave", [0, 1])
    cache = mm.kmem_cache_create("mempolicy_test", 3000)
    slabs: list[int] = []
    for _ in range(40):
        pfn = mm.slow_virt_to_phys(mm.kmem_cache_alloc(cache)) >> 12
        if not slabs or abs(pfn - slabs[-1]) >= 8:
            slabs.append(pfn)
    nodes = [node_of(mm, pfn) for pfn in slabs]
    assert len(nodes) >= 4 and len(set(nodes)) == 1
    assert [node_of(mm, mm.alloc_pages(0)) for _ in range(4)] in ([0, 1, 0, 1], [1, 0, 1, 0])
    # the policy's node for a slab: moves the interleave on; local: the cpu's node
    first = mm.mempolicy_slab_node()
    assert mm.mempolicy_slab_node() != first
    mm.set_mempolicy("local")
    assert mm.mempolicy_slab_node() == mm.mempolicy_slab_node() == 0
