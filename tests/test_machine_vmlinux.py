"""A kernel build described by its vmlinux (the ELF symbol table)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from mmsvc.errors import MachineConfigError
from mmsvc.machine import loads_toml
from mmsvc.machine.kernels import image_from_vmlinux

KERNEL_MAP = 0xFFFFFFFF80000000
SYMBOLS = {
    "_text": KERNEL_MAP + 0x1000000, "_stext": KERNEL_MAP + 0x1001000,
    "_etext": KERNEL_MAP + 0x1e01000, "__start_rodata": KERNEL_MAP + 0x2000000,
    "__end_rodata": KERNEL_MAP + 0x2900000, "_sdata": KERNEL_MAP + 0x2a00000,
    "_edata": KERNEL_MAP + 0x2c48000, "__init_begin": KERNEL_MAP + 0x3000000,
    "__init_end": KERNEL_MAP + 0x32c2000, "__bss_start": KERNEL_MAP + 0x3400000,
    "__bss_stop": KERNEL_MAP + 0x4000000, "__end_of_kernel_reserve": KERNEL_MAP + 0x4200000,
    "_end": KERNEL_MAP + 0x4220000,
}


@pytest.fixture
def vmlinux(tmp_path):
    if shutil.which("gcc") is None:
        pytest.skip("gcc is needed to assemble a test ELF")
    src = tmp_path / "syms.s"
    src.write_text("".join(f".globl {n}\n.set {n}, {v:#x}\n" for n, v in SYMBOLS.items()))
    out = tmp_path / "vmlinux"
    subprocess.run(["gcc", "-c", str(src), "-o", str(out)], check=True)
    return out


def test_sizes_come_from_the_symbols(vmlinux):
    img = image_from_vmlinux(vmlinux, "6.1.0-test")
    assert img.load_address == 0x1000000
    assert img.text == 0xE00000 and img.rodata == 0x900000 and img.rwdata == 0x248000
    assert img.init == 0x2C2000 and img.bss == 0xC00000
    assert img.reserved_span == 0x3200000


def test_machine_file_can_point_at_a_vmlinux(vmlinux, tmp_path):
    desc = loads_toml(f"""
arch = "x86_64"
[kernel]
vmlinux = "{vmlinux}"
release = "6.1.0-test"
[firmware]
e820 = [{{ addr = 0, size = 0x9fc00, type = "usable" }},
        {{ addr = 0x100000, size = 0x3ff00000, type = "usable" }}]
""")
    assert desc.kernel.reserved_span == 0x3200000


def test_not_an_elf_is_a_clear_error(tmp_path):
    bad = tmp_path / "vmlinux"
    bad.write_bytes(b"not an elf")
    with pytest.raises(MachineConfigError, match="vmlinux"):
        image_from_vmlinux(bad)
