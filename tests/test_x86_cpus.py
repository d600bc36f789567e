"""Possible, present and online CPUs on x86_64 (prefill_possible_map, the
SMP alternatives) and the bounce buffer's late report (pci_iommu_init),
against real boots."""

from __future__ import annotations

from pathlib import Path

import pytest

from mmsvc.errors import MachineConfigError
from mmsvc.machine import from_dmesg
from mmsvc.simulation import Simulation

from .conftest import boot_default

REALBOOTS = Path(__file__).parent / "realboots"


def _lines(sim, key: str) -> list[str]:
    return [ln for ln in sim.log.text().splitlines() if key in ln]


@pytest.mark.parametrize("extra,fields,allowing,warning", [
    ("", {"cpus": 4}, "Allowing 4 CPUs, 0 hotplug CPUs", None),
    ("", {"cpus": 4, "present_cpus": 2}, "Allowing 4 CPUs, 2 hotplug CPUs", None),
    ("nr_cpus=1", {"cpus": 4}, "Allowing 1 CPUs, 0 hotplug CPUs",
     "smpboot: 4 Processors exceeds NR_CPUS limit of 1"),
    ("nosmp", {"cpus": 2}, "Allowing 1 CPUs, 0 hotplug CPUs",
     "smpboot: 2 Processors exceeds max_cpus limit of 0"),
    ("possible_cpus=8", {"cpus": 2}, "Allowing 8 CPUs, 6 hotplug CPUs", None),
    # maxcpus= limits the CPUs brought up, not the possible ones
    ("maxcpus=1", {"cpus": 4}, "Allowing 4 CPUs, 0 hotplug CPUs", None),
])
def test_prefill_possible_map(extra, fields, allowing, warning):
    sim = boot_default(extra, **fields)
    assert _lines(sim, "smpboot: Allowing") == [f"smpboot: {allowing}"]
    assert _lines(sim, "Processors exceeds") == ([warning] if warning else [])
    possible = int(allowing.split()[1])
    assert sim.ctx.g.nr_cpu_ids == possible
    assert f"nr_cpu_ids:{possible} " in sim.log.text()


@pytest.mark.parametrize("extra,fields,freed", [
    ("", {"cpus": 1}, True),
    ("", {"cpus": 4}, True),
    ("maxcpus=1", {"cpus": 4}, False),      # patched for one CPU, more may come
    ("", {"cpus": 4, "present_cpus": 1}, False),
    ("noreplace-smp maxcpus=1", {"cpus": 4}, True),
    ("nosmp", {"cpus": 2}, True),           # one possible CPU: nothing to patch back
])
def test_smp_alternatives_are_kept_while_more_cpus_may_come(extra, fields, freed):
    sim = boot_default(extra, **fields)
    assert bool(_lines(sim, "Freeing SMP alternatives memory: 36K")) is freed


def test_present_cpus_names_the_field():
    with pytest.raises(MachineConfigError) as ei:
        boot_default(cpus=2, present_cpus=3)
    assert ei.value.field == "present_cpus"


def test_a_log_states_present_and_firmware_cpus():
    m = from_dmesg(str(REALBOOTS / "pc-4g-smp4-maxcpus64.log"))
    assert (m.cpus, m.present_cpus) == (64, 4)
    m = from_dmesg(str(REALBOOTS / "pc-2g-nrcpus1.log"))     # -smp 4 nr_cpus=1
    assert (m.cpus, m.present_cpus) == (4, None)


def test_the_bounce_buffer_is_reported_late_or_given_back():
    # memory above 4 GiB: used, and reported at pci_iommu_init (after sock_init)
    sim = boot_default()
    text = sim.log.text()
    assert text.index("PCI-DMA: Using software bounce buffering for IO (SWIOTLB)") > \
        text.index("HugeTLB: registered")
    small = dict(firmware=from_dmesg(str(REALBOOTS / "pc-2g-swiotlb-force.log")).firmware)
    # 2 GiB: swiotlb=force allocates it and keeps it, silently
    forced = boot_default("swiotlb=force", **small)
    assert not _lines(forced, "software IO TLB: mapped") and "swiotlb" in forced.ctx.arch_state
    # iommu=soft asks for bounce buffering: kept and reported
    soft = boot_default("iommu=soft", **small)
    assert _lines(soft, "software IO TLB: mapped")
    plain = boot_default("", **small)
    assert "swiotlb" not in plain.ctx.arch_state
    assert soft.mm.totalram_pages() == forced.mm.totalram_pages() < plain.mm.totalram_pages()


def test_possible_cpus_0_is_refused_by_name():
    with pytest.raises(MachineConfigError) as ei:
        boot_default("possible_cpus=0", cpus=2)
    assert ei.value.field == "cmdline: possible_cpus=0"


@pytest.mark.parametrize("extra", ["nr_cpus=x", "nr_cpus=0", "maxcpus=x", "possible_cpus=x"])
def test_values_that_are_no_number_change_nothing(extra):
    sim = boot_default(extra, cpus=4)
    assert sim.ctx.g.nr_cpu_ids == 4
    assert _lines(sim, "Freeing SMP alternatives memory")  # not patched for one CPU


# -- CPUs without NX or PSE (real boots pc-2g-nonx, pc-1g-nopse, pc-2g-noexec-off)


def _real(name: str):
    from pathlib import Path

    from mmsvc.machine import from_dmesg

    return from_dmesg(str(Path(__file__).parent / "realboots" / name))


def test_the_log_tells_a_cpu_without_nx_or_pse():
    assert not _real("pc-2g-nonx.log").cpu_features.nx
    nopse = _real("pc-1g-nopse.log").cpu_features
    assert not nopse.pse and nopse.nx
    full = _real("pc-1536m.log").cpu_features
    assert full.pse and full.nx


def test_without_nx_the_no_execute_changes_split_nothing():
    import dataclasses

    from mmsvc import views

    with_nx = boot_default("")
    m = with_nx.machine
    without = Simulation(m.replace(cpu_features=dataclasses.replace(m.cpu_features, nx=False)))
    without.boot()
    assert "Notice: NX (Execute Disable) protection missing in CPU!" in without.log.text()
    # set_memory_nx/_x do nothing, so fewer direct-map pages are split
    assert views.meminfo(without)["DirectMap4k"] < views.meminfo(with_nx)["DirectMap4k"]


def test_without_pse_everything_is_mapped_with_small_pages():
    import dataclasses

    from mmsvc import views

    with_pse = boot_default("")
    m = with_pse.machine
    sim = Simulation(m.replace(cpu_features=dataclasses.replace(m.cpu_features, pse=False)))
    sim.boot()
    info = views.meminfo(sim)
    assert info["DirectMap2M"] == 0 and info["DirectMap1G"] == 0
    text = sim.log.text()
    assert "Using GB pages" not in text and "HugeTLB" not in text
    # the percpu units stay PMD-sized atoms on 64-bit, whatever the CPU
    def banner(s):
        return [r.text for r in s.log.records if r.text.startswith("percpu: Embedded")]

    assert banner(sim) == banner(with_pse)


def test_noexec_is_5_14s_and_gone_in_6_1():
    old = boot_default("noexec=off", profile="5.14").log.text()
    assert "NX (Execute Disable) protection: disabled by kernel command line option" in old
    new = boot_default("noexec=off").log.text()
    assert "NX (Execute Disable) protection: active" in new
    assert 'Unknown kernel command line parameters "nokaslr noexec=off"' in new


def test_the_w_x_check_after_the_image_is_write_protected():
    import dataclasses

    ok = boot_default("")
    assert "x86/mm: Checked W+X mappings: passed, no W+X pages found." in ok.log.text()
    pti = boot_default("pti=on").log.text()
    assert "x86/mm: Checking user space page tables" in pti
    m = ok.machine
    nonx = Simulation(m.replace(cpu_features=dataclasses.replace(m.cpu_features, nx=False)))
    nonx.boot()
    failed = [r.text for r in nonx.log.records if "W+X" in r.text]
    # without NX every writable page counts: the direct map at least
    assert len(failed) == 1 and failed[0].startswith("x86/mm: Checked W+X mappings: FAILED")
    assert int(failed[0].split(", ")[1].split()[0]) > 4 << 18


def test_without_nx_the_user_copy_is_not_checked():
    import dataclasses

    m = boot_default("pti=on").machine
    sim = Simulation(m.replace(cpu_features=dataclasses.replace(m.cpu_features, nx=False)))
    sim.boot()
    text = sim.log.text()
    assert "x86/mm: Checking user space page tables" not in text
    assert text.count("x86/mm: Checked W+X mappings: FAILED") == 1
