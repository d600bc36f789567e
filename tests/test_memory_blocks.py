"""The memory blocks' sysfs devices driver_init registers
(mmsvc.mm.memory_blocks): a block per 128 MiB holding memory, each with its
struct, its device's private part and its kernfs nodes."""

from __future__ import annotations

import dataclasses
import math

from mmsvc.machine import default_machine
from mmsvc.mm import memory_blocks
from mmsvc.simulation import Simulation


def _booted(machine):
    sim = Simulation(machine)
    sim.boot()
    return sim


def _slabinfo(sim, cache: str) -> list[int]:
    """active_objs, num_objs, objsize, objperslab of *cache*."""
    for line in sim.mm.slabinfo().splitlines():
        if line.split()[:1] == [cache]:
            return [int(x) for x in line.split()[1:5]]
    raise AssertionError(f"no {cache} in slabinfo")


def _objects(sim, cache: str) -> int:
    return _slabinfo(sim, cache)[0]


def test_every_block_holding_memory_is_registered_with_its_sysfs_nodes():
    sim = _booted(default_machine("6.1"))
    # 3 GiB below the PCI hole and 1 GiB from 4 GiB: 24 + 8 blocks of 128 MiB
    assert sim.ctx.results["memory_blocks"] == {"block_size": 128 << 20, "blocks": 32}
    nodes = 32 * (memory_blocks.KERNFS_NODES_PER_BLOCK + memory_blocks.KERNFS_NODE_LINKS_PER_BLOCK)
    assert _objects(sim, "kernfs_node_cache") == nodes
    # a radix tree node per 64 ids, in slabs of objperslab
    ids = math.ceil(nodes / memory_blocks.IDR_IDS_PER_NODE)
    _active, total, size, per_slab = _slabinfo(sim, "radix_tree_node")
    assert size == memory_blocks.RADIX_TREE_NODE_SIZE + 8  # + the free pointer
    assert total == math.ceil(ids / per_slab) * per_slab


def test_a_block_with_any_memory_counts_once():
    from mmsvc.machine.e820 import E820_RAM, E820Entry

    m = default_machine("6.1")
    # RAM in two pieces of one block, and a piece straddling two blocks
    e820 = (E820Entry(0, 0x9fc00, E820_RAM), E820Entry(0x100000, 0x7ff00000, E820_RAM),
            E820Entry(0x1_0000_0000, 0x1000_0000, E820_RAM),
            E820Entry(0x1_1800_0000, 0x100_0000, E820_RAM))
    sim = _booted(m.replace(firmware=dataclasses.replace(m.firmware, e820=e820)))
    # 16 blocks below 2 GiB, 2 from 4 GiB, and the one at 4.375 GiB
    assert sim.ctx.results["memory_blocks"]["blocks"] == 19


def test_more_blocks_take_more_pages():
    small = _booted(default_machine("6.1"))
    m = default_machine("6.1")
    from mmsvc.machine.e820 import E820_RAM, E820Entry

    e820 = (*m.firmware.e820, E820Entry(0x1_4000_0000, 0x4_0000_0000, E820_RAM))
    big = _booted(m.replace(firmware=dataclasses.replace(m.firmware, e820=e820)))
    assert big.ctx.results["memory_blocks"]["blocks"] == 32 + 128
    assert _objects(big, "kernfs_node_cache") == 5 * _objects(small, "kernfs_node_cache")


def test_a_build_without_memory_hotplug_registers_none():
    m = default_machine("6.1")
    sim = _booted(m.replace(kconfig=dataclasses.replace(m.kconfig, memory_hotplug=False)))
    assert "memory_blocks" not in sim.ctx.results
