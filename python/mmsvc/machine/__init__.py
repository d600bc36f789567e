"""Machine descriptions: what the simulated kernel boots on.

Submodules: :mod:`~.description` (dataclasses), :mod:`~.e820` (table, sanitising,
printing), :mod:`~.cmdline` (command line), :mod:`~.kconfig` (``.config`` reader),
:mod:`~.kernels` (catalogue, System.map), :mod:`~.dmesg` (boot-log reader),
:mod:`~.loader` (TOML/JSON), :mod:`~.defaults` (built-in machine).
"""

from __future__ import annotations

from mmsvc.machine.cmdline import KernelCmdline, MemOp, parse_cmdline
from mmsvc.machine.defaults import default_machine
from mmsvc.machine.description import (
    CpuFeatures,
    E820Firmware,
    FaultyRam,
    GenericFirmware,
    Initrd,
    KernelConfig,
    KernelImage,
    MachineDescription,
    McfgAllocation,
    MemoryRegion,
    MotherboardResource,
    MpTable,
    NumaNode,
    UmlFirmware,
    register_firmware,
)
from mmsvc.machine.dmesg import from_dmesg, parse_dmesg, proc_sections
from mmsvc.machine.e820 import E820Entry
from mmsvc.machine.kconfig import load_kconfig, parse_kconfig
from mmsvc.machine.kernels import BuildConstants, KernelBuild, image_from_system_map
from mmsvc.machine.loader import dump_json, dumps_json, dumps_toml, load, loads_json, loads_toml

__all__ = [
    "BuildConstants", "CpuFeatures", "E820Entry", "E820Firmware", "FaultyRam",
    "GenericFirmware", "Initrd",
    "KernelBuild", "KernelCmdline", "KernelConfig", "KernelImage", "MachineDescription",
    "McfgAllocation", "MemOp", "MemoryRegion", "MotherboardResource", "MpTable", "NumaNode",
    "UmlFirmware",
    "default_machine", "dump_json",
    "dumps_json", "dumps_toml", "from_dmesg", "image_from_system_map", "load",
    "load_kconfig", "loads_json", "loads_toml", "parse_cmdline", "parse_dmesg",
    "parse_kconfig", "proc_sections", "register_firmware",
]
