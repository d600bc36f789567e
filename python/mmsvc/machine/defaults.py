"""The built-in default machine: a 4 GiB QEMU-pc-like x86_64 box, 2 CPUs, profile 5.14."""

from __future__ import annotations

from mmsvc.machine import kernels
from mmsvc.machine.description import E820Firmware, MachineDescription
from mmsvc.machine.e820 import E820_RAM, E820_RESERVED, E820Entry


def _span(first: int, last: int, etype: int) -> E820Entry:
    return E820Entry(first, last - first + 1, etype)


#: QEMU pc with 4 GiB: 3 GiB below the PCI hole, 1 GiB above 4 GiB.
DEFAULT_E820 = (
    _span(0x0, 0x9FBFF, E820_RAM),
    _span(0x9FC00, 0x9FFFF, E820_RESERVED),
    _span(0xF0000, 0xFFFFF, E820_RESERVED),
    _span(0x100000, 0xBFFDFFFF, E820_RAM),
    _span(0xBFFE0000, 0xBFFFFFFF, E820_RESERVED),
    _span(0xFEFFC000, 0xFEFFFFFF, E820_RESERVED),
    _span(0xFFFC0000, 0xFFFFFFFF, E820_RESERVED),
    _span(0x100000000, 0x13FFFFFFF, E820_RAM),
)

DEFAULT_CMDLINE = "console=ttyS0 nokaslr"


def default_machine(profile: str = "5.14") -> MachineDescription:
    """The default machine; *profile* "6.1" swaps in the Debian 6.1 generic build."""
    build = kernels.default_build("x86_64", profile)
    if build is None:  # pragma: no cover - the catalogue ships both
        raise LookupError(profile)
    return MachineDescription(
        arch="x86_64",
        firmware=E820Firmware(DEFAULT_E820),
        kernel=build.image,
        kconfig=build.kconfig,
        cpus=2,
        cmdline=DEFAULT_CMDLINE,
        profile=profile,
    )
