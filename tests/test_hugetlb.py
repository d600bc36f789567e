"""Huge pages asked for on the command line (mm/hugetlb.c): gigantic pages
from memblock while the parameters are parsed, the pools and the report at
hugetlb_init, against real boots that printed them."""

from __future__ import annotations

from pathlib import Path

import pytest

from mmsvc.machine.description import CpuFeatures
from mmsvc.mm.hugetlb import string_get_size

from .conftest import boot_default

REALBOOTS = Path(__file__).parent / "realboots"
GiB = 1 << 30


def _hugetlb_lines(sim) -> list[str]:
    return [ln for ln in sim.log.text().splitlines() if ln.startswith("HugeTLB")]


def test_sizes_print_as_string_get_size():
    assert (string_get_size(GiB), string_get_size(2 << 20)) == ("1.00 GiB", "2.00 MiB")


def test_no_huge_pages_asked_still_registers_both_sizes():
    assert _hugetlb_lines(boot_default()) == [
        "HugeTLB: registered 1.00 GiB page size, pre-allocated 0 pages",
        "HugeTLB: 16380 KiB vmemmap can be freed for a 1.00 GiB page",
        "HugeTLB: registered 2.00 MiB page size, pre-allocated 0 pages",
        "HugeTLB: 28 KiB vmemmap can be freed for a 2.00 MiB page"]
    # without GB pages there is no 1 GiB size
    sim = boot_default(cpu_features=CpuFeatures(gbpages=False))
    assert _hugetlb_lines(sim)[0] == "HugeTLB: registered 2.00 MiB page size, pre-allocated 0 pages"


def test_gigantic_pages_come_from_memblock_and_count_as_managed_later():
    # the default machine: RAM below 3 GiB and from 4 to 5 GiB, the kernel in the
    # first GiB, NODE_DATA and the early tables at the top: one free aligned GiB
    plain, sim = boot_default(), boot_default("hugepagesz=1G hugepages=1")
    got = [h for h in sim.ctx.results["hugetlb"] if h["size"] == GiB][0]
    assert got["pages"] == 1 and got["pfns"] == [GiB >> 12]
    # reserved in the Memory line, then managed again (MemTotal) after hugetlb_init
    assert sim.ctx.results["mem_init_print_info"]["reserved_kb"] == \
        plain.ctx.results["mem_init_print_info"]["reserved_kb"] + (GiB >> 10)
    assert sim.mm.totalram_pages() == plain.mm.totalram_pages()
    assert "HugeTLB: registered 1.00 GiB page size, pre-allocated 1 pages" in _hugetlb_lines(sim)


def test_a_shortfall_and_bad_options_are_reported():
    sim = boot_default("hugepagesz=1G hugepages=8")
    assert "HugeTLB: allocating 8 of page size 1.00 GiB failed.  Only allocated 1 hugepages." \
        in _hugetlb_lines(sim)
    sim = boot_default("hugepagesz=3M hugepages=2")
    text = sim.log.text()
    assert "HugeTLB: unsupported hugepagesz=3M" in text
    assert "HugeTLB: hugepages=2 does not follow a valid hugepagesz, ignoring" in text
    sim = boot_default("hugepagesz=1G hugepages=1 hugepages=2")
    assert ("HugeTLB: hugepages= specified twice without interleaving hugepagesz=, ignoring "
            "hugepages=2") in sim.log.text()
    sim = boot_default("hugepagesz=1G hugepages=7:1")
    assert "HugeTLB: Invalid hugepages parameter 7:1" in sim.log.text()


def test_the_2mib_pool_comes_from_the_buddy_allocator():
    plain, sim = boot_default(), boot_default("hugepages=16")
    assert "HugeTLB: registered 2.00 MiB page size, pre-allocated 16 pages" in _hugetlb_lines(sim)
    # 16 order-9 blocks: not free any more, still managed
    assert plain.mm.nr_free_pages() - sim.mm.nr_free_pages() >= 16 * 512
    assert sim.mm.totalram_pages() == plain.mm.totalram_pages()


def test_5_14_prints_the_older_report():
    sim = boot_default("", profile="5.14")
    assert _hugetlb_lines(sim)[0] == "HugeTLB registered 1.00 GiB page size, pre-allocated 0 pages"


@pytest.mark.parametrize("log", ["pc-6g-2node-gigantic.log", "pc-6g-2node-gigantic-pernode.log",
                                 "pc-1g-hugepages.log", "pc-2g-hugepage1g.log"])
def test_real_boots_print_the_same(log):
    from mmsvc.machine import from_dmesg
    from mmsvc.simulation import Simulation

    text = (REALBOOTS / log).read_text(errors="replace")
    real = [ln.split("] ", 1)[1].rstrip() for ln in text.splitlines() if "HugeTLB" in ln]
    sim = Simulation(from_dmesg(str(REALBOOTS / log)).replace(profile="6.1"))
    sim.boot()
    assert _hugetlb_lines(sim) == real


def test_5_14_has_no_per_node_form():
    # "0:1" reads as 0 pages in 5.14 (the node form came with 5.16)
    sim = boot_default("hugepagesz=1G hugepages=0:1", profile="5.14")
    assert "HugeTLB registered 1.00 GiB page size, pre-allocated 0 pages" in _hugetlb_lines(sim)
    sim = boot_default("hugepagesz=1G hugepages=0:1")
    assert "HugeTLB: registered 1.00 GiB page size, pre-allocated 1 pages" in _hugetlb_lines(sim)


def _hugetlb_lines(sim) -> list[str]:
    return [r.text for r in sim.log.records if r.text.startswith("HugeTLB")]


def test_default_hugepagesz_takes_the_count_around_it():
    # after it: hugepages= is that size's (gigantic: from memblock at once)
    sim = boot_default("default_hugepagesz=1G hugepages=1 hugepagesz=2M hugepages=8")
    lines = _hugetlb_lines(sim)
    assert lines[0] == "HugeTLB: registered 1.00 GiB page size, pre-allocated 1 pages"
    assert "HugeTLB: registered 2.00 MiB page size, pre-allocated 8 pages" in lines
    # before it: the count given first is applied when the size is named
    first = boot_default("hugepages=1 default_hugepagesz=1G")
    assert _hugetlb_lines(first)[0] == (
        "HugeTLB: registered 1.00 GiB page size, pre-allocated 1 pages")
    # the default size may be named again once, to give its count
    again = boot_default("default_hugepagesz=1G hugepagesz=1G hugepages=1")
    assert _hugetlb_lines(again)[0] == (
        "HugeTLB: registered 1.00 GiB page size, pre-allocated 1 pages")
    twice = boot_default("default_hugepagesz=2M default_hugepagesz=1G")
    assert "HugeTLB: default_hugepagesz previously specified, ignoring 1G" in \
        [r.text for r in twice.log.records]


def test_a_first_count_for_a_size_already_counted_is_ignored():
    sim = boot_default("hugepages=4 hugepagesz=2M hugepages=8")
    text = [r.text for r in sim.log.records]
    assert "HugeTLB: First hugepages=8192 kB ignored" in text
    assert "HugeTLB: registered 2.00 MiB page size, pre-allocated 8 pages" in text
