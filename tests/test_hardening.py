"""Arbitrary arguments never crash the extension: every failure is a typed
mmsvc error (never InternalError, never a PanicException), and a failed call
leaves the machine as it was."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mmsvc.errors import InternalError, MmsvcError
from mmsvc.machine import default_machine
from mmsvc.simulation import Simulation

U64 = st.integers(min_value=0, max_value=2**64 - 1)
SMALL = st.integers(min_value=0, max_value=64)


@pytest.fixture(scope="module")
def sim():
    s = Simulation(default_machine().replace(profile="6.1"))
    s.boot()
    return s


def _fingerprint(sim):
    mm = sim.mm
    return (mm.buddyinfo(), mm.counters(), mm.slabinfo(), mm.vmallocinfo(),
            [(r.base, r.size) for r in mm.memblock.reserved()], mm.mempolicy(),
            mm.pagetypeinfo())


CALLS = [
    lambda mm, a, b, o: mm.alloc_pages(order=o, nid=a % 70 - 1),
    lambda mm, a, b, o: mm.free_pages(a, o),
    lambda mm, a, b, o: mm.kfree(a),
    lambda mm, a, b, o: mm.ksize(a),
    lambda mm, a, b, o: mm.vfree(a),
    lambda mm, a, b, o: mm.vmalloc_to_pfn(a),
    lambda mm, a, b, o: mm.translate(a),
    lambda mm, a, b, o: mm.walk(a),
    lambda mm, a, b, o: mm.kernel_unmap_range(a, b),
    lambda mm, a, b, o: mm.kmem_cache_free(o, a),
    lambda mm, a, b, o: mm.kmem_cache_destroy(o),
    lambda mm, a, b, o: mm.memblock.free_ranges(nid=o, flags=a & 0xFFFF_FFFF),
    lambda mm, a, b, o: mm.page_zone(a),
    lambda mm, a, b, o: mm.allocated_order(a),
    lambda mm, a, b, o: mm.slow_virt_to_phys(a),
    lambda mm, a, b, o: mm.kernel_change_attr(a, b, clear=["WRITE"], account=bool(o & 1)),
    lambda mm, a, b, o: mm.kernel_set_not_present(a, b, account=bool(o & 1)),
    lambda mm, a, b, o: mm.ioremap(a, b % (1 << 32)),
    lambda mm, a, b, o: mm.iounmap(a),
    lambda mm, a, b, o: mm.kernel_map_static(a, b, 1 << 21, [a >> 12, b >> 12], page_size=4096),
    lambda mm, a, b, o: mm.bench_kmalloc_kfree_pairs(a % 100_000, o),
    lambda mm, a, b, o: mm.pageblock_migratetype(a),
    lambda mm, a, b, o: mm.set_mempolicy("interleave", [o, a % 70]),
    lambda mm, a, b, o: mm.set_mempolicy(["local", "interleave", "bind"][o % 3], [a % 3] * (b % 2)),
    lambda mm, a, b, o: mm.vmalloc(a % (1 << 40), range=(a, b)),
    lambda mm, a, b, o: mm.vmalloc_add_range(a, b),
]


@settings(max_examples=300, deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.integers(0, len(CALLS) - 1), U64, U64, SMALL)
def test_failures_are_typed_and_change_nothing(sim, which, a, b, order):
    before = _fingerprint(sim)
    try:
        CALLS[which](sim.mm, a, b, order)
    except InternalError as exc:  # a caught Rust panic: a bug
        pytest.fail(f"internal error: {exc}")
    except MmsvcError:
        assert _fingerprint(sim) == before
    except OverflowError:
        pass  # a Python int that does not fit the argument's C type


def test_allocation_undo_keeps_machine_usable(sim):
    pfn = sim.mm.alloc_pages(order=3)
    sim.mm.free_pages(pfn, 3)
    assert sim.mm.allocated_order(pfn) is None
