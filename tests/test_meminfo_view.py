"""/proc/meminfo's huge page pools and commit limit, rendered as the kernel
does, from a booted simulation."""

from __future__ import annotations

from mmsvc import views

from .conftest import boot_default


def test_hugetlb_pools_and_commit_limit():
    sim = boot_default("hugepagesz=1G hugepages=1 hugepagesz=2M hugepages=16")
    info = views.meminfo(sim)
    # the default size is the smallest one (2 MiB); Hugetlb counts every pool
    assert (info["HugePages_Total"], info["Hugepagesize"]) == (16, 2048)
    assert info["Hugetlb"] == (1 << 20) + 16 * 2048
    # no swap: half of the RAM the pools leave
    assert info["SwapTotal"] == 0
    assert info["CommitLimit"] == (info["MemTotal"] // 4 - info["Hugetlb"] // 4) * 50 // 100 * 4
    text = views.render(sim, "meminfo")
    assert "HugePages_Total:      16\n" in text
    assert "HugePages_Rsvd:        0\n" in text
    assert "Hugepagesize:       2048 kB\n" in text


def test_default_hugepagesz_names_the_reported_pool():
    info = views.meminfo(boot_default("default_hugepagesz=1G hugepages=1"))
    assert (info["HugePages_Total"], info["Hugepagesize"]) == (1, 1 << 20)


def test_no_hugetlb_lines_without_huge_page_sizes():
    import dataclasses

    from mmsvc.machine import default_machine
    from mmsvc.simulation import Simulation

    m = default_machine("6.1")
    sim = Simulation(dataclasses.replace(
        m, cpu_features=dataclasses.replace(m.cpu_features, pse=False)))
    sim.boot()
    assert "HugePages_Total" not in views.meminfo(sim)
    assert "hugetlbfs: disabling because there are no supported hugepage sizes\n" in sim.log.text()
    assert "hugetlbfs: disabling" not in boot_default().log.text()


def test_numa_distance_table_debug_line():
    text = boot_default("numa=fake=3 loglevel=8").log.text()
    assert "NUMA: Initialized distance table, cnt=3\n" in text
    assert "Initialized distance table" not in boot_default("numa=fake=3").log.text()
