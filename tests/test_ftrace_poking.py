"""The two allocators right after mm_init: ftrace's record pages and x86's
poking_mm page tables."""

from __future__ import annotations

import dataclasses

import pytest

from mmsvc.machine import default_machine
from mmsvc.mm.ftrace import ENTRIES_PER_PAGE, record_orders
from mmsvc.simulation import Simulation


@pytest.mark.parametrize(("entries", "orders"), [
    (40521, [7, 4, 3, 2, 1, 0]),  # the generic build: "159 pages with 6 groups"
    (37697, [7, 4, 2]),           # the cloud build: "148 pages with 3 groups"
    (1, [0]), (256, [0]), (257, [1]), (512 * 256, [9]),
])
def test_record_groups(entries, orders):
    assert record_orders(entries) == orders
    assert sum(ENTRIES_PER_PAGE << o for o in orders) >= entries


def test_ftrace_init_allocates_and_prints():
    sim = Simulation(default_machine("6.1"))
    sim.run(until="init_IRQ")
    text = sim.log.text()
    assert "ftrace: allocating 40521 entries in 159 pages" in text
    assert "ftrace: allocated 159 pages with 6 groups" in text
    groups = sim.ctx.results["ftrace"]["groups"]
    assert [o for _p, o in groups] == [7, 4, 3, 2, 1, 0]
    assert all(sim.mm.allocated_order(p) == o for p, o in groups)
    assert sim.mm.pageblock_migratetype(groups[0][0]) == "Unmovable"


def test_an_uncatalogued_build_skips_ftrace_init():
    m = default_machine("6.1")
    sim = Simulation(m.replace(kernel=dataclasses.replace(m.kernel, release="6.1.0-custom")))
    sim.run(until="init_IRQ")
    assert "ftrace:" not in sim.log.text()
    assert "ftrace_init" in sim.ctx.results["noop"]


@pytest.mark.parametrize(("five_level", "tables"), [(True, 4), (False, 3)])
def test_poking_init_takes_a_pgd_pair_and_one_table_per_level(five_level, tables):
    m = default_machine("6.1")
    feats = dataclasses.replace(m.cpu_features, la57=five_level)
    sim = Simulation(m.replace(cpu_features=feats))
    sim.run(until="ftrace_init")
    pages = sim.ctx.arch_state["poking_mm_pages"]
    # CONFIG_PAGE_TABLE_ISOLATION: an order-1 pgd even with PTI off
    assert [o for _p, o in pages] == [1] + [0] * tables
    assert all(sim.mm.allocated_order(p) == o for p, o in pages)
