"""PCI's MMCONFIG (arch/x86/pci/mmconfig-shared.c): the MCFG table's
configuration-space windows, read from a log, checked against the e820 map
at arch_initcall and ioremapped (every q35 boot of tests/realboots compares
the lines)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from mmsvc.errors import MachineConfigError
from mmsvc.machine import MachineDescription, McfgAllocation, from_dmesg
from mmsvc.machine.e820 import E820_RESERVED, E820Entry
from mmsvc.simulation import Simulation

REAL = Path(__file__).parent / "realboots"
WINDOW = "[mem 0xb0000000-0xbfffffff]"


def _q35(cmdline: str = "", **firmware) -> MachineDescription:
    m = from_dmesg(str(REAL / "q35-8g.log")).replace(profile="6.1")
    if firmware:
        m = m.replace(firmware=dataclasses.replace(m.firmware, **firmware))
    return m.replace(cmdline=f"{m.cmdline} {cmdline}".strip())


def _boot(m: MachineDescription) -> Simulation:
    sim = Simulation(m)
    sim.boot()
    return sim


def _lines(sim: Simulation) -> list[str]:
    return [r.text for r in sim.log.records if "MMCONFIG" in r.text]


def _ioremaps(sim: Simulation) -> list[str]:
    return [ln for ln in sim.mm.vmallocinfo().splitlines() if "pci_mmcfg_arch_map" in ln]


def test_a_q35_log_gives_its_mcfg_allocation():
    assert _q35().firmware.mcfg == (McfgAllocation(0xB000_0000, 0, 0, 0xFF),)
    # the i440fx machine has no MCFG table
    assert from_dmesg(str(REAL / "pc-2g-nonx.log")).firmware.mcfg == ()


def test_the_window_reserved_in_e820_is_kept_and_ioremapped():
    sim = _boot(_q35())
    assert _lines(sim) == [
        f"PCI: MMCONFIG for domain 0000 [bus 00-ff] at {WINDOW} (base 0xb0000000)",
        f"PCI: MMCONFIG at {WINDOW} reserved in E820"]
    # 256 MiB and the guard page; 2 MiB leaves, as alignment allows
    (area,) = _ioremaps(sim)
    assert " 268439552 " in area and "phys=0x00000000b0000000 ioremap" in area
    (_cfg, virt), = sim.ctx.arch_state["pci_mmcfg"]
    t = sim.mm.translate(virt + (5 << 20))
    assert t["phys"] == 0xB050_0000 and t["page_size"] == 2 << 20


def _e820_without_window(m: MachineDescription, keep: int) -> tuple[E820Entry, ...]:
    """The map with the window's reservation cut to its first *keep* bytes."""
    out = [e for e in m.firmware.e820 if not (e.addr == 0xB000_0000 and e.type == E820_RESERVED)]
    assert len(out) == len(m.firmware.e820) - 1
    if keep:
        out.append(E820Entry(0xB000_0000, keep, E820_RESERVED))
    return tuple(sorted(out, key=lambda e: e.addr))


def test_a_window_reserved_in_part_is_halved_to_what_is_reserved():
    m = _q35()
    sim = _boot(_q35(e820=_e820_without_window(m, 64 << 20)))
    assert _lines(sim)[1:] == [
        f"PCI: MMCONFIG at {WINDOW} reserved in E820",
        "PCI: MMCONFIG for 0000 [bus00-3f] at [mem 0xb0000000-0xb3ffffff] (base 0xb0000000) "
        "(size reduced!)"]
    (area,) = _ioremaps(sim)
    assert f" {(64 << 20) + 4096} " in area


def test_a_window_not_reserved_is_not_used():
    m = _q35()
    sim = _boot(_q35(e820=_e820_without_window(m, 0), motherboard_resources=()))
    assert _lines(sim)[1] == "PCI: not using MMCONFIG"
    assert _ioremaps(sim) == []


@pytest.mark.parametrize("option", ["acpi=off", "pci=nommconf", "pci=conf1", "pci=off",
                                    "pci=noacpi,conf2"])
def test_options_that_turn_it_off(option):
    sim = _boot(_q35(option))
    assert _lines(sim) == [] and _ioremaps(sim) == []


def test_pci_bios_is_32_bit_only():
    # x86_64 has no PCI BIOS access: the option changes nothing here
    assert _ioremaps(_boot(_q35("pci=bios"))) != []


def test_without_nx_the_window_counts_as_w_x():
    from mmsvc.machine.description import CpuFeatures

    def wx(cmdline: str) -> int:
        m = _q35(cmdline)
        m = m.replace(cpu_features=dataclasses.replace(m.cpu_features, nx=False))
        line = next(r.text for r in _boot(m).log.records if "W+X" in r.text)
        return int(line.split("FAILED, ")[1].split()[0])

    assert CpuFeatures().nx
    assert wx("") - wx("pci=nommconf") == 65536


@pytest.mark.parametrize("key, entry, field", [
    ("mcfg", {"address": 0xB000_0000, "start_bus": 2, "end_bus": 1}, "firmware.mcfg[0]"),
    ("mcfg", {"address": 0xB000_0000, "end_bus": 256}, "firmware.mcfg[0]"),
    ("mcfg", {"address": 0xB000_0000, "segment": 0x10000}, "firmware.mcfg[0].segment"),
    ("mcfg", {"segment": 0}, "firmware.mcfg[0].address"),
    ("mcfg", {"address": 0xB000_0000, "bus": 0}, "firmware.mcfg[0].bus"),
    ("mcfg", {"address": 1 << 60}, "firmware.mcfg[0]"),
    ("motherboard_resources", {"start": 0xB000_0000}, "firmware.motherboard_resources[0].size"),
    ("motherboard_resources", {"start": 0xB000_0000, "size": 0},
     "firmware.motherboard_resources[0].size"),
    ("motherboard_resources", {"start": -1, "size": 1},
     "firmware.motherboard_resources[0].start"),
    ("motherboard_resources", {"start": 1 << 60, "size": 1}, "firmware.motherboard_resources[0]"),
])
def test_bad_pci_firmware_entries_are_refused_by_name(key, entry, field):
    d = _q35().to_dict()
    d["firmware"][key] = [entry]
    with pytest.raises(MachineConfigError) as ei:
        MachineDescription.from_dict(d)
    assert ei.value.field == field


def test_the_allocations_survive_a_round_trip():
    m = _q35()
    again = MachineDescription.from_dict(m.to_dict()).firmware
    assert again.mcfg == m.firmware.mcfg
    assert again.motherboard_resources == m.firmware.motherboard_resources


def test_pci_noearly_leaves_it_to_the_motherboard_resources():
    sim = _boot(_q35("pci=noearly"))
    assert _lines(sim) == [
        f"PCI: MMCONFIG for domain 0000 [bus 00-ff] at {WINDOW} (base 0xb0000000)",
        f"PCI: MMCONFIG at {WINDOW} reserved in ACPI motherboard resources"]
    assert len(_ioremaps(sim)) == 1
    # the late pass comes with acpi_init, after the early pass's place
    steps = [s.name for s in sim.steps]
    assert steps.index("pci_arch_init") < steps.index("acpi_init")


def test_a_window_e820_misses_gets_a_second_chance():
    m = _q35()
    sim = _boot(_q35(e820=_e820_without_window(m, 0)))
    assert _lines(sim) == [
        f"PCI: MMCONFIG for domain 0000 [bus 00-ff] at {WINDOW} (base 0xb0000000)",
        "PCI: not using MMCONFIG",
        f"PCI: MMCONFIG for domain 0000 [bus 00-ff] at {WINDOW} (base 0xb0000000)",
        f"PCI: MMCONFIG at {WINDOW} reserved in ACPI motherboard resources"]
    assert len(_ioremaps(sim)) == 1
    # and without a motherboard device claiming it, no MMCONFIG at all
    bare = _boot(_q35(e820=_e820_without_window(m, 0), motherboard_resources=()))
    assert _lines(bare)[2:] == [
        f"PCI: MMCONFIG for domain 0000 [bus 00-ff] at {WINDOW} (base 0xb0000000)",
        f"[Firmware Info]: PCI: MMCONFIG at {WINDOW} not reserved in ACPI motherboard resources",
        "PCI: not using MMCONFIG"]
    assert _ioremaps(bare) == []


def test_a_log_gives_the_motherboard_resources():
    from mmsvc.machine import MotherboardResource

    assert _q35().firmware.motherboard_resources == (
        MotherboardResource(0xB000_0000, 256 << 20),)


def test_only_a_pci_mmconfig_kernel_uses_it():
    m = _q35()
    assert m.kconfig.pci_mmconfig
    without = m.replace(kconfig=dataclasses.replace(m.kconfig, pci_mmconfig=False))
    sim = _boot(without)
    assert _lines(sim) == [] and _ioremaps(sim) == []


def test_the_debian_configs_have_it():
    from mmsvc.machine import load_kconfig

    shared = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "kconfig"
    if not shared.is_dir():
        pytest.skip("shared/fixtures not found next to the repository")
    assert load_kconfig(shared / "config-6.1.0-56-amd64").pci_mmconfig
    assert not load_kconfig(shared / "config-6.1.0-um").pci_mmconfig
