"""QEMU's microvm machine: no SMBIOS/DMI table (nothing copied into brk),
two I/O APICs (their resources come from memblock together), and with
``-M microvm,acpi=off`` no ACPI tables at all (no HPET resource; the MP
table describes the CPUs). The boots are in tests/realboots (microvm-*),
two of them under memblock=debug, compared line by line there."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from mmsvc.errors import MachineConfigError
from mmsvc.machine import MachineDescription, from_dmesg
from mmsvc.simulation import Simulation

REAL = Path(__file__).parent / "realboots"


def _trace(m: MachineDescription, caller: str) -> list[str]:
    sim = Simulation(m.replace(cmdline=f"{m.cmdline} memblock=debug", profile="6.1"))
    sim.add_breakpoint("setup_command_line")
    sim.run()
    return [r.text for r in sim.log.records if caller in r.text]


def test_a_microvm_log_says_what_its_firmware_lacks():
    fw = from_dmesg(str(REAL / "microvm-2g.log")).firmware
    assert (fw.ioapics, fw.dmi_size, fw.acpi) == (2, 0, True)
    fw = from_dmesg(str(REAL / "microvm-1g-noacpi.log")).firmware
    assert (fw.ioapics, fw.dmi_size, fw.acpi) == (1, 0, False)
    fw = from_dmesg(str(REAL / "pc-4g.log")).firmware
    assert (fw.ioapics, fw.dmi_size, fw.acpi) == (1, 0x200, True)


def test_two_ioapics_take_one_allocation_for_both():
    m = from_dmesg(str(REAL / "microvm-2g.log"))
    (line,) = _trace(m, "ioapic_setup_resources")
    assert line.startswith("memblock_alloc_try_nid: 150 bytes")
    none = m.replace(firmware=dataclasses.replace(m.firmware, ioapics=0))
    assert _trace(none, "ioapic_setup_resources") == []


def test_without_dmi_brk_holds_only_the_page_table_buffer():
    m = from_dmesg(str(REAL / "microvm-2g.log"))
    with_dmi = m.replace(firmware=dataclasses.replace(m.firmware, dmi_size=0x200))
    (brk,) = _trace(m, "reserve_brk")
    (brk_dmi,) = _trace(with_dmi, "reserve_brk")
    assert "[0x0000000004400000-0x000000000440ffff]" in brk
    assert "[0x0000000004400000-0x0000000004410fff]" in brk_dmi


def test_without_acpi_tables_there_is_no_hpet_resource():
    m = from_dmesg(str(REAL / "microvm-1g-noacpi.log"))
    assert _trace(m, "hpet_insert_resource") == []
    acpi = m.replace(firmware=dataclasses.replace(m.firmware, acpi=True))
    assert len(_trace(acpi, "hpet_insert_resource")) == 1


@pytest.mark.parametrize(("value", "what"), [(129, "0 to 128"), (-1, "")])
def test_ioapics_out_of_range_is_named(value, what):
    d = from_dmesg(str(REAL / "microvm-2g.log")).to_dict()
    d["firmware"]["ioapics"] = value
    with pytest.raises(MachineConfigError) as err:
        MachineDescription.from_dict(d)
    assert "firmware.ioapics" in str(err.value) and what in str(err.value)


def test_memblock_debug_shows_how_much_dmi_data_brk_holds():
    """Long SMBIOS OEM strings (-smbios type=11) take a second page of brk
    for the DMI data; memblock=debug's brk range shows it, and the Memory
    line and MemTotal follow."""
    fw = from_dmesg(str(REAL / "pc-3g-oem-strings.log")).firmware
    assert fw.dmi_size == 2 * 4096
    assert from_dmesg(str(REAL / "pc-2g-memblock-debug.log")).firmware.dmi_size == 4096
