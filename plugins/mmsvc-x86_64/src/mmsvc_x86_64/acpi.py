"""Whether the kernel uses ACPI: not with ``acpi=off``, and not on firmware
without ACPI tables (QEMU's microvm with ``acpi=off``: "A valid RSDP was
not found"), where the kernel falls back to the MP table."""

from __future__ import annotations

from mmsvc.api import BootContext


def acpi_disabled(ctx: BootContext) -> bool:
    return ctx.cmdline.get("acpi") == "off" or not getattr(ctx.machine.firmware, "acpi", True)
