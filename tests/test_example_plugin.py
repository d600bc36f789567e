"""The worked third-party architecture (examples/mmsvc-riscv64) installs as a
real distribution, is found through its entry point, and boots."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "mmsvc-riscv64"


@pytest.fixture(scope="module")
def riscv_site(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("riscv-site")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(EXAMPLE)],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return target


def _mmsvc(site: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(site), *filter(None, [os.environ.get("PYTHONPATH")])]))
    return subprocess.run([sys.executable, "-m", "mmsvc.cli", *args], capture_output=True,
                          text=True, env=env, timeout=300)


def test_listed_with_its_version(riscv_site):
    out = _mmsvc(riscv_site, "plugins")
    assert out.returncode == 0, out.stderr
    line = next(ln for ln in out.stdout.splitlines() if ln.startswith("riscv64"))
    assert "mmsvc-riscv64 0.1.0" in line and "architectures: riscv64" in line


def test_boots_with_dma32_and_normal(riscv_site):
    out = _mmsvc(riscv_site, "boot", "--machine", str(EXAMPLE / "machine.toml"))
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "  DMA32    [mem 0x0000000080000000-0x00000000ffffffff]" in text
    assert "  Normal   [mem 0x0000000100000000-0x000000017fffffff]" in text
    assert "Initmem setup node 0 [mem 0x0000000080000000-0x000000017fffffff]" in text
    memory = next(ln for ln in text.splitlines() if ln.startswith("Memory:"))
    assert "/4194304K available" in memory


def test_bad_description_names_the_field(riscv_site, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text((EXAMPLE / "machine.toml").read_text().replace("size = 0x100000000",
                                                                 "size = 0"))
    out = _mmsvc(riscv_site, "boot", "--machine", str(bad))
    assert out.returncode == 2
    assert "firmware.memory[0].size" in out.stderr


def test_sv39_described_as_plain_data_maps_and_walks(riscv_site):
    code = (
        "from mmsvc.machine import load\n"
        "from mmsvc.simulation import Simulation\n"
        f"sim = Simulation(load({str(EXAMPLE / 'machine.toml')!r}))\n"
        "sim.boot()\n"
        "t = sim.mm.translate(0xFFFFFFE000000000 + 0x40001000)\n"
        "walk = [s['name'] for s in sim.mm.walk(0xFFFFFFE000000000)]\n"
        "print(hex(t['phys']), t['page_size'], walk)\n"
        "a = sim.mm.vmalloc(8192, caller='riscv_probe')\n"
        "print(sim.mm.vmallocinfo().split()[2], hex(t['entry'] & 0xff))\n"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(riscv_site), *filter(None, [os.environ.get("PYTHONPATH")])]))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    first, second = out.stdout.splitlines()
    assert first == "0xc0001000 1073741824 ['pgd']"  # a 1 GiB Sv39 leaf
    assert second.startswith("riscv_probe")
    assert int(second.split()[1], 16) & 0b1111 == 0b0111  # V|R|W, no X: NX kernel data


def test_a_bad_format_names_the_field():
    from mmsvc import _core
    from mmsvc.errors import InvalidArgumentError

    fmt = _core.page_table_format("riscv_sv39")
    fmt["va_form"] = "sideways"
    with pytest.raises(InvalidArgumentError, match="format.va_form"):
        _core.Mm().init_kernel_pagetable(fmt)
    del fmt["levels"]
    with pytest.raises(InvalidArgumentError, match="format.levels: missing"):
        _core.Mm().init_kernel_pagetable(fmt)


def test_arch_default_machine_from_the_command_line(riscv_site):
    out = _mmsvc(riscv_site, "boot", "--arch", "riscv64")
    assert out.returncode == 0, out.stderr
    assert "  DMA32    [mem 0x0000000080000000-0x00000000ffffffff]" in out.stdout
    assert "CPUs=2" in out.stdout
    bad = _mmsvc(riscv_site, "boot", "--arch", "sparc")
    assert bad.returncode == 2 and "no plugin provides architecture 'sparc'" in bad.stderr
