"""nohz_full= and isolcpus=: the housekeeping handlers, what they take from
memblock and when the kernel reports them unknown. The real boots
pc-2g-smp4-isolation, pc-2g-smp2-isolation-bad and pc-2g-nohz-one-cpu check
the lines and the Memory line (test_realboots)."""

from __future__ import annotations

import pytest

from mmsvc.machine import kernels
from mmsvc.machine.units import cpulist_parse
from mmsvc.mm.isolation import HK_DOMAIN, HK_MANAGED_IRQ, HK_TICK, NOHZ_FULL_TYPES
from tests.conftest import boot_default


@pytest.mark.parametrize("text, nbits, cpus", [
    ("1", 4, {1}), ("0-3", 4, {0, 1, 2, 3}), ("1-3,N", 8, {1, 2, 3, 7}), ("all", 4, {0, 1, 2, 3}),
    ("0-7:2/4", 8, {0, 1, 4, 5}), (" 1 , 2", 4, {1, 2}), ("1-2\n", 4, {1, 2}), ("", 4, set()),
    ("1", 1, None), ("x", 4, None), ("3-1", 4, None), ("0-3:1/0", 4, None), ("0-3:5/4", 4, None),
    ("1;2", 4, None), ("99999999999", 4, None),
])
def test_cpulist_parse_reads_what_the_kernel_reads(text, nbits, cpus):
    got = cpulist_parse(text, nbits)
    assert (got if got is None else set(got)) == cpus


def _lines(sim, *starts):
    return [r.text for r in sim.log.records if r.text.startswith(starts)]


def test_isolating_cpus_keeps_masks_in_memblock():
    plain = boot_default("")
    sim = boot_default("nohz_full=1 isolcpus=managed_irq,1")
    hk = sim.ctx.results["housekeeping"]
    assert hk.types == set(NOHZ_FULL_TYPES) | {HK_MANAGED_IRQ}
    assert hk.cpumasks[HK_TICK] == {0}
    # six nohz_full types, the dynticks mask, and managed_irq's
    assert len(hk.allocations) == 8
    for addr, size in hk.allocations:
        assert size == 8 and sim.mm.memblock.is_region_reserved(addr, size)
    assert sim.mm.memblock.reserved_size() > plain.mm.memblock.reserved_size()
    assert not _lines(sim, "Housekeeping")
    assert _lines(sim, "Unknown kernel") == _lines(plain, "Unknown kernel")  # "nokaslr" only


def test_handlers_that_give_up_leave_their_parameter_unknown():
    # the default machine has two CPUs
    sim = boot_default("nohz_full=2 isolcpus=0-1 isolcpus=bad!,1")
    assert _lines(sim, "Housekeeping", "isolcpus") == [
        "Housekeeping: nohz_full= or isolcpus= incorrect CPU range",
        "Housekeeping: must include one present CPU, using boot CPU:0",
        "isolcpus: Invalid flag bad!",
    ]
    # isolcpus=0-1 keeps CPU 0 for housekeeping and isolates CPU 1
    assert _lines(sim, "Unknown kernel") == [
        'Unknown kernel command line parameters "nokaslr nohz_full=2 isolcpus=bad!,1", '
        "will be passed to user space."]
    assert sim.ctx.results["housekeeping"].types == {HK_DOMAIN}


def test_a_second_option_must_isolate_the_same_cpus():
    sim = boot_default("isolcpus=nohz,1 nohz_full=0")
    assert "Housekeeping: nohz_full= must match isolcpus=" in _lines(sim, "Housekeeping")
    assert 'nohz_full=0' in _lines(sim, "Unknown kernel")[0]


def test_builds_without_cpu_isolation_do_not_know_the_options():
    from mmsvc.cli import arch_default_machine
    from mmsvc.simulation import Simulation

    um = arch_default_machine("um")
    assert not kernels.lookup("6.1.176").kconfig.cpu_isolation
    sim = Simulation(um.replace(profile="6.1", cmdline="mem=64M nohz_full=1"))
    sim.boot()
    assert "nohz_full=1" in _lines(sim, "Unknown kernel")[0]
