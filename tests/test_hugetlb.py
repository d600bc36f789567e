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


# -- HugeTLB vmemmap optimisation (hugetlb_free_vmemmap) ------------------------


def _unknown_hvo(sim) -> bool:
    return any(ln.startswith("Unknown") and "hugetlb_free_vmemmap" in ln
               for ln in sim.log.text().splitlines())


def _vmemmap_of(sim, pfn: int) -> int:
    from mmsvc.mm.sparse import STRUCT_PAGE_SIZE

    return sim.ctx.results["vmemmap"]["base"] + pfn * STRUCT_PAGE_SIZE


def test_hvo_is_off_unless_asked():
    plain = boot_default("hugepages=16")
    assert not plain.ctx.g.vmemmap_optimize_enabled
    assert not _unknown_hvo(boot_default("hugetlb_free_vmemmap=off"))


@pytest.mark.parametrize("word", ["on", "1", "y", "", None])
def test_each_2mib_pool_page_gives_back_seven_vmemmap_pages(word):
    option = "hugetlb_free_vmemmap" + ("" if word is None else f"={word}")
    plain, sim = boot_default("hugepages=16"), boot_default(f"{option} hugepages=16")
    if word == "":
        # kstrtobool refuses an empty word: reported, the switch stays off
        assert ("Booting kernel: `' invalid for parameter `hugetlb_free_vmemmap'"
                in sim.log.text())
        assert sim.mm.totalram_pages() == plain.mm.totalram_pages()
        return
    assert not _unknown_hvo(sim)
    assert sim.mm.totalram_pages() == plain.mm.totalram_pages() + 16 * 7


def test_the_tail_vmemmap_maps_the_head_page_read_only():
    sim = boot_default("hugetlb_free_vmemmap=on hugepagesz=1G hugepages=1")
    pfn = [h for h in sim.ctx.results["hugetlb"] if h["size"] == GiB][0]["pfns"][0]
    head = _vmemmap_of(sim, pfn)
    first = sim.mm.translate(head)
    assert first["page_size"] == 4096 and "WRITE" in first["flags"]
    tails = [sim.mm.translate(head + i * 4096) for i in (1, 511, 512, 4095)]
    assert {t["phys"] >> 12 for t in tails} == {first["phys"] >> 12}
    assert all("WRITE" not in t["flags"] and t["page_size"] == 4096 for t in tails)
    # the page after the huge page's struct pages is still its own 2 MiB mapping's
    after = sim.mm.translate(head + 4096 * 4096)
    assert after["phys"] >> 12 != first["phys"] >> 12
    # the 4095 pages that held them are managed and free now
    plain = boot_default("hugepagesz=1G hugepages=1")
    assert sim.mm.totalram_pages() == plain.mm.totalram_pages() + 4095


def test_a_bad_word_is_reported_and_changes_nothing():
    sim = boot_default("hugetlb_free_vmemmap=maybe hugepages=4")
    assert ("Booting kernel: `maybe' invalid for parameter `hugetlb_free_vmemmap'"
            in sim.log.text())
    assert not _unknown_hvo(sim)
    assert not sim.ctx.g.vmemmap_optimize_enabled
    # the last good word wins
    sim = boot_default("hugetlb_free_vmemmap=on hugetlb_free_vmemmap=maybe")
    assert sim.ctx.g.vmemmap_optimize_enabled


def test_5_14_keeps_two_vmemmap_pages_and_says_so():
    plain = boot_default("hugepages=16", profile="5.14")
    sim = boot_default("hugetlb_free_vmemmap=on hugepages=16", profile="5.14")
    assert sim.mm.totalram_pages() == plain.mm.totalram_pages() + 16 * 6
    assert "HugeTLB: can free 6 vmemmap pages for hugepages-2048kB" in _hugetlb_lines(sim)
    assert "HugeTLB: can free 4094 vmemmap pages for hugepages-1048576kB" in _hugetlb_lines(sim)
    # 5.14's early parameter takes on/off only
    sim = boot_default("hugetlb_free_vmemmap=1 hugepages=16", profile="5.14")
    assert "Malformed early option 'hugetlb_free_vmemmap'" in sim.log.text()
    assert sim.mm.totalram_pages() == plain.mm.totalram_pages()


def test_a_build_without_hvo_does_not_know_the_switch():
    import dataclasses

    from mmsvc.machine import default_machine

    m = default_machine("6.1")
    k = dataclasses.replace(m.kconfig, hugetlb_page_optimize_vmemmap=False)
    sim = boot_default("hugetlb_free_vmemmap=on", kconfig=k)
    assert _unknown_hvo(sim) and not sim.ctx.g.vmemmap_optimize_enabled


@pytest.mark.parametrize("log", ["pc-2g-hvo-2m.log", "pc-4g-hvo-1g.log",
                                 "q35-6g-2node-hvo-mix.log", "pc-2g-hvo-bad.log",
                                 "pc-3g-hvo-off.log"])
def test_real_hvo_boots_give_back_what_the_kernel_gave_back(log):
    """MemTotal and each zone's managed pages, as the real kernel printed
    them after boot (tests/realboots, made by tools/realboot/corpus)."""
    from mmsvc import views
    from mmsvc.machine import from_dmesg
    from mmsvc.machine.dmesg import proc_sections
    from mmsvc.simulation import Simulation
    from mmsvc.verify import meminfo_values

    text = (REALBOOTS / log).read_text(errors="replace")
    sim = Simulation(from_dmesg(str(REALBOOTS / log)).replace(profile="6.1"))
    sim.boot()
    real = meminfo_values(proc_sections(text)["meminfo"])
    assert views.meminfo(sim)["MemTotal"] == real["MemTotal"]
