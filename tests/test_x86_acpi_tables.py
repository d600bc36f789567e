"""The ACPI tables the firmware lists: read from a log, reserved early with
the kernel's lines (every real boot of tests/realboots compares them), and
memblock=debug tracing from parse_early_param on."""

from __future__ import annotations

from pathlib import Path

import pytest

from mmsvc.errors import MachineConfigError
from mmsvc.machine import MachineDescription, default_machine, from_dmesg
from mmsvc.machine.description import AcpiTable, E820Firmware
from mmsvc.simulation import Simulation

REAL = Path(__file__).parent / "realboots"


def _boot(machine) -> Simulation:
    sim = Simulation(machine)
    sim.boot()
    return sim


def test_the_tables_a_log_lists_are_read_without_the_root_ones():
    m = from_dmesg(str(REAL / "q35-8g.log"))
    sigs = [t.signature for t in m.firmware.acpi_tables]
    assert sigs == ["FACP", "DSDT", "FACS", "APIC", "HPET", "MCFG", "WAET"]
    assert m.firmware.acpi_tables[2] == AcpiTable("FACS", 0x7FFE0000, 0x40)


def test_each_table_is_reserved_with_its_line():
    base = default_machine("6.1")
    tables = (AcpiTable("FACP", 0xBFFE198C, 0x74), AcpiTable("SSDT", 0x3000_0000, 0x2000))
    m = base.replace(firmware=E820Firmware(base.firmware.e820, tables))
    sim = _boot(m)
    lines = [r.text for r in sim.log.records if r.text.startswith("ACPI: Reserving")]
    assert lines == ["ACPI: Reserving FACP table memory at [mem 0xbffe198c-0xbffe19ff]",
                     "ACPI: Reserving SSDT table memory at [mem 0x30000000-0x30001fff]"]
    # one in RAM keeps its pages from the buddy allocator
    assert sim.mm.memblock.is_region_reserved(0x3000_0000, 0x2000)
    plain = _boot(base)
    assert sim.ctx.results["mem_init_print_info"]["reserved_kb"] == \
        plain.ctx.results["mem_init_print_info"]["reserved_kb"] + 8
    # acpi=off: no table is used, none reserved
    off = _boot(m.replace(cmdline=m.cmdline + " acpi=off"))
    assert not any(r.text.startswith("ACPI: Reserving") for r in off.log.records)


@pytest.mark.parametrize("entry, field", [
    ({"signature": "TOOLONG", "address": 1, "length": 1}, "firmware.acpi_tables[0].signature"),
    ({"signature": "FACP", "address": 0, "length": 1}, "firmware.acpi_tables[0].address"),
    ({"signature": "FACP", "address": 1}, "firmware.acpi_tables[0].length"),
])
def test_bad_tables_are_refused_by_name(entry, field):
    d = default_machine("6.1").to_dict()
    d["firmware"]["acpi_tables"] = [entry]
    with pytest.raises(MachineConfigError) as ei:
        MachineDescription.from_dict(d)
    assert ei.value.field == field


def test_memblock_debug_starts_with_the_early_parameters():
    m = default_machine("6.1").replace(cmdline="console=ttyS0 nokaslr memblock=debug")
    traced = [r.text for r in _boot(m).log.records if r.text.startswith("memblock_")]
    # 6.1 reserves the image before it parses the early parameters: untraced
    assert traced and "early_reserve_memory" not in " ".join(traced)
    assert traced[0].startswith("memblock_reserve:") and traced[0].endswith("reserve_brk")
    # 5.14 parses them first, so its reservation of the image is traced
    old = _boot(m.replace(profile="5.14", kernel=default_machine("5.14").kernel,
                          kconfig=default_machine("5.14").kconfig))
    assert any("early_reserve_memory" in r.text for r in old.log.records)
