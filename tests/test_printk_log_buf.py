"""The kernel log buffer (setup_log_buf): log_buf_len= and the possible
CPUs' contributions, from memblock, against real boots that printed it."""

from __future__ import annotations

from pathlib import Path

import pytest

from mmsvc.machine import from_dmesg
from mmsvc.machine.cmdline import parse_cmdline
from mmsvc.simulation import Simulation

from .conftest import boot_default

REALBOOTS = Path(__file__).parent / "realboots"


def _printk_lines(sim: Simulation) -> list[str]:
    return [ln for ln in sim.log.text().splitlines() if ln.startswith("printk: ")]


def _sizes(sim: Simulation) -> list[int]:
    return [size for _addr, size in sim.ctx.results["log_buf"].get("allocations", [])]


def test_one_cpu_keeps_the_static_buffer():
    sim = boot_default()
    assert _printk_lines(sim) == []
    assert _sizes(sim) == []
    assert sim.ctx.results["log_buf"]["len"] == 128 << 10   # CONFIG_LOG_BUF_SHIFT=17


def test_the_cpus_share_counts_beyond_half_the_static_buffer():
    # 16 more CPUs give 64K: not more than half of 128K, nothing happens
    assert _sizes(boot_default(cpus=17)) == []
    sim = boot_default(cpus=18)
    # 17 x 4K on top of 128K, rounded up to a power of two; a descriptor (24
    # bytes) and a record info (88 bytes) per 32 bytes of text
    assert _sizes(sim) == [256 << 10, 8192 * 24, 8192 * 88]
    assert _printk_lines(sim)[:4] == [
        "printk: log_buf_len individual max cpu contribution: 4096 bytes",
        "printk: log_buf_len total cpu_extra contributions: 69632 bytes",
        "printk: log_buf_len min size: 131072 bytes",
        "printk: log_buf_len: 262144 bytes"]
    assert _printk_lines(sim)[4].startswith("printk: early log buf free: ")


def test_log_buf_len_is_taken_in_setup_arch():
    sim = boot_default("log_buf_len=3M")
    assert _sizes(sim) == [4 << 20, 131072 * 24, 131072 * 88]
    text = sim.log.text()
    # x86's setup_arch calls setup_log_buf(1) before the zones are printed
    assert text.index("printk: log_buf_len: 4194304 bytes") < text.index("Zone ranges:")
    # the CPUs add nothing once the buffer was replaced
    assert "cpu_extra" not in text


@pytest.mark.parametrize("value,parsed,buffer", [
    ("3M", 3 << 20, 4 << 20),             # rounded up to a power of two
    ("0x200000", 2 << 20, 2 << 20),
    ("100k", 100 << 10, 128 << 10),       # the buffer only grows: the static one stays
    ("junk", 0, 128 << 10),               # memparse reads no number: nothing asked
])
def test_log_buf_len_parses_as_memparse(value, parsed, buffer):
    assert parse_cmdline(f"log_buf_len={value}").log_buf_len == parsed
    sim = boot_default(f"log_buf_len={value}")
    assert sim.ctx.results["log_buf"]["len"] == buffer
    assert bool(_sizes(sim)) == (buffer > 128 << 10)


@pytest.mark.parametrize("log", ["pc-4g-smp64.log", "pc-2g-logbuf.log"])
def test_real_boots_print_the_same_sizes(log):
    text = (REALBOOTS / log).read_text(errors="replace")
    sim = Simulation(from_dmesg(str(REALBOOTS / log)).replace(profile="6.1"))
    sim.boot()
    real = [ln.split("] ", 1)[1] for ln in text.splitlines()
            if "printk: log_buf_len" in ln]
    # every size line; "early log buf free" counts the text of the records
    # printed so far, which the simulation does not print all of
    assert [ln for ln in _printk_lines(sim) if "log_buf_len" in ln] == real
    assert len(real) >= 1
