"""The hash tables made after mm_init (every real boot of tests/realboots
compares their lines): limits, parameters, SMP and UP bucket sizes, and
where their memory comes from."""

from __future__ import annotations

from mmsvc.mm.hashes import get_order, hash_entries
from tests.conftest import boot_default


def _tables(sim) -> dict[str, dict]:
    return {t["name"]: t for t in sim.ctx.results["hash_tables"]}


def test_get_order_is_the_kernels():
    assert [get_order(n) for n in (1, 4096, 4097, 6144, 8192, 49152, 1 << 20)] == \
        [0, 0, 1, 1, 1, 4, 8]


def test_limits_bound_the_computed_size():
    # 4 GiB of kernel pages, one bucket per 64 KiB: 65536, then the limits
    pages = 1 << 20
    assert hash_entries(pages, pages, 8, 16) == 65536
    assert hash_entries(pages, pages, 8, 16, high_limit=4096) == 4096
    assert hash_entries(pages, pages, 8, 16, low_limit=1 << 18) == 1 << 18
    # a high limit stops the scale growing for memory beyond 64 GiB
    big = 1 << 25  # 128 GiB
    assert hash_entries(big, big, 8, 17, high_limit=1 << 30) == 2 * hash_entries(
        big, big, 8, 17)


def test_the_default_machine_tables_and_their_memory():
    sim = boot_default("")
    t = _tables(sim)
    assert t["futex"]["entries"] == 512 and t["futex"]["size"] == 512 * 64  # two CPUs
    assert t["Table-perturb"]["entries"] == 65536
    assert t["TCP bind"]["entries"] == min(t["TCP established"]["entries"], 65536)
    lines = [r.text for r in sim.log.records]
    est, bind = t["TCP established"]["entries"], t["TCP bind"]["entries"]
    assert f"TCP: Hash tables configured (established {est} bind {bind})" in lines
    # linear tables are buddy blocks, allocated
    assert all(not sim.mm.is_free(t[n]["where"][0]) for n in ("futex", "IP idents", "UDP"))


def test_parameters_set_the_sizes():
    t = _tables(boot_default("mhash_entries=100 thash_entries=4096 uhash_entries=10"))
    assert t["Mount-cache"]["entries"] == 128  # rounded up to a power of two
    assert t["TCP established"]["entries"] == 4096
    assert t["tcp_listen_portaddr_hash"]["entries"] == 4096
    assert t["UDP"]["entries"] == 256  # raised to the minimum


def test_a_uniprocessor_build_has_smaller_buckets():
    from mmsvc.cli import arch_default_machine
    from mmsvc.simulation import Simulation

    sim = Simulation(arch_default_machine("um").replace(profile="6.1"))
    sim.boot()
    t = _tables(sim)
    assert t["futex"]["size"] == 256 * 24  # no spinlock, no cache-line alignment
    assert t["TCP bind"]["size"] == t["TCP bind"]["entries"] * 16
    assert "MPTCP token" not in t  # not in the UML build
