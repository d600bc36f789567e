"""SLUB on a booted machine, through Python."""

from __future__ import annotations

import pytest

from mmsvc.errors import DoubleFreeError, InvalidStateError, NotAllocatedError
from mmsvc.machine import default_machine
from mmsvc.simulation import Simulation
from mmsvc.views import meminfo


@pytest.fixture
def sim():
    s = Simulation(default_machine().replace(profile="6.1"))
    s.boot()
    return s


def test_boot_creates_the_kmalloc_caches(sim):
    info = sim.mm.slabinfo()
    assert info.startswith("slabinfo - version: 2.1\n")
    names = [line.split()[0] for line in info.splitlines()[2:]]
    for name in ("kmalloc-8", "kmalloc-96", "kmalloc-192", "kmalloc-8k", "kmem_cache",
                 "kmem_cache_node", "dma-kmalloc-64", "kmalloc-rcl-64"):
        assert name in names
    assert "SLUB: HWalign=64, Order=0-3, MinObjects=0, CPUs=2, Nodes=1" in sim.log.text()


def test_kmalloc_kfree_ksize_krealloc(sim):
    mm = sim.mm
    before = mm.counters()
    a = mm.kmalloc(100)
    assert mm.ksize(a) == 128
    b = mm.krealloc(a, 300)
    assert mm.ksize(b) == 512
    big = mm.kmalloc(64 << 10)  # above KMALLOC_MAX_CACHE_SIZE: straight from the buddy
    assert mm.ksize(big) == 64 << 10
    assert meminfo(sim)["SUnreclaim"] >= 64
    mm.kfree(b)
    mm.kfree(big)
    with pytest.raises(DoubleFreeError):
        mm.kfree(b)
    with pytest.raises(NotAllocatedError):
        mm.kfree(b + 8)
    assert mm.counters()["totalram_pages"] == before["totalram_pages"]


def test_caches_merge_and_refuse_wrong_use(sim):
    mm = sim.mm
    c1 = mm.kmem_cache_create("test_obj", 200, flags=["SLAB_HWCACHE_ALIGN"])
    c2 = mm.kmem_cache_create("test_obj2", 200, flags=["SLAB_HWCACHE_ALIGN"])
    assert c1 == c2  # merged, as SLUB merges compatible caches
    obj = mm.kmem_cache_alloc(c1)
    mm.kmem_cache_destroy(mm.find_cache("test_obj"))  # an alias drops a reference
    with pytest.raises(InvalidStateError):
        mm.kmem_cache_destroy(c1)                      # live object: refused
    mm.kmem_cache_free(c1, obj)
    kmalloc_64 = mm.find_cache("kmalloc-64")
    x = mm.kmalloc(64)
    with pytest.raises(InvalidStateError):
        mm.kmem_cache_free(c1, x)  # wrong cache
    mm.kmem_cache_free(kmalloc_64, x)


def test_native_kmalloc_bench_frees_what_it_allocates(sim):
    mm = sim.mm
    before = {c[0]: c for c in mm.slab_caches()}
    assert mm.bench_kmalloc_kfree_pairs(64, 10_000) > 0
    after = {c[0]: c for c in mm.slab_caches()}
    assert after.keys() == before.keys()
    # SLUB keeps the cpu slab it used; nothing else stays behind
    assert after["kmalloc-64"][7] - before["kmalloc-64"][7] <= 1
    assert {k: v for k, v in after.items() if k != "kmalloc-64"} == {
        k: v for k, v in before.items() if k != "kmalloc-64"}


def test_native_kmalloc_bench_needs_slub():
    from mmsvc import _core

    with pytest.raises(InvalidStateError, match="SLUB"):
        _core.Mm("5.14").bench_kmalloc_kfree_pairs(64, 10)


def test_slab_calls_run_on_the_cpu_given(sim):
    from mmsvc.errors import OutOfRangeError

    mm = sim.mm
    before = mm.slab_caches()
    with pytest.raises(OutOfRangeError, match="cpu"):
        mm.kmalloc(64, cpu=4096)
    assert mm.slab_caches() == before
    a, b = mm.kmalloc(64, cpu=0), mm.kmalloc(64, cpu=1)
    assert a >> 12 != b >> 12  # each cpu allocates from its own cpu slab
    mm.kfree(a, cpu=0)
    mm.kfree(b, cpu=1)
