"""The mmsvc command line, run in-process with click's runner."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from mmsvc.cli import cli


@pytest.fixture
def run():
    runner = CliRunner()

    def invoke(*args, input=None):
        return runner.invoke(cli, list(args), input=input, catch_exceptions=False)

    return invoke


def test_boot_default_machine(run):
    out = run("boot")
    assert out.exit_code == 0
    assert "BIOS-e820: [mem 0x0000000100000000-0x000000013fffffff] usable" in out.output
    assert "Memory: " in out.output and "Built 1 zonelists" in out.output


def test_boot_builtin_uml_machine(run):
    out = run("boot", "--arch", "um")
    assert out.exit_code == 0, out.output
    assert "BIOS-e820" not in out.output
    assert "Memory: " in out.output and "/32768K available" in out.output


def test_boot_json_summary(run):
    out = run("boot", "--json", "--profile", "6.1")
    data = json.loads(out.output)
    assert data["machine"]["profile"] == "6.1"
    assert [z["zone"] for z in data["zone_ranges"]] == ["DMA", "DMA32", "Normal", "Device"]
    assert data["memory"]["total_kb"] == data["counters"]["present_pages"] * 4


def test_cmdline_override_reaches_the_boot(run):
    out = run("boot", "--cmdline", "console=ttyS0 pti=on init_on_alloc=0")
    assert "Kernel/User page tables isolation: force enabled on command line." in out.output
    assert "Kernel/User page tables isolation: enabled" in out.output
    assert "heap alloc:off" in out.output


@pytest.mark.parametrize("view, needle", [
    ("buddyinfo", "Node 0, zone   Normal"),
    ("zoneinfo", "Node 0, zone    DMA32"),
    ("pagetypeinfo", "Page block order: 9"),
    ("meminfo", "MemTotal:"),
])
def test_proc_views(run, view, needle):
    out = run(view)
    assert out.exit_code == 0 and needle in out.output


def test_verify_real_log(run, dmesg_dir):
    out = run("verify", str(dmesg_dir / "qemu-x86_64-2g.log"))
    assert out.exit_code == 0, out.output
    assert out.output.rstrip().endswith("memory lines agree")
    assert "DIFF" not in out.output


def test_step_interactively(run):
    out = run("step", "--steps", input="\n\n\nq\n")
    assert out.exit_code == 0
    assert "next: setup_arch" in out.output
    assert "next: setup_per_cpu_areas" in out.output


def test_bad_machine_file_is_a_clear_error(run, tmp_path):
    bad = tmp_path / "m.toml"
    bad.write_text('arch = "x86_64"\nbogus = 1\n')
    out = run("boot", "--machine", str(bad))
    assert out.exit_code == 2
    assert "bogus" in out.output


def test_plugins_listing(run):
    out = run("plugins")
    assert "x86_64" in out.output and "mmsvc-uml 0.1.0" in out.output


def test_bench_quick(run):
    out = run("bench", "--quick", "--json")
    data = json.loads(out.output)
    names = {f["name"] for f in data["figures"]}
    assert {"native order-0 alloc+free pair", "mmsvc per-call API", "mmsvc batch API",
            "plain-Python buddy, per call", "boot of a 1 GiB machine",
            "gRPC unary Step round trip, p50", "gRPC Batch stream",
            "translate_batch, random 4K, per address", "kernel_map_batch, 4K, amortised",
            "direct map of 64 GiB, 1G pages", "direct map of 64 GiB, 2M pages",
            "kmalloc+kfree pair, native", "vmalloc+vfree 64 KiB pair"} <= names
    assert all(f["value"] > 0 for f in data["figures"])
    by_name = {f["name"]: f for f in data["figures"]}
    for f in data["figures"]:
        if f["baseline"] is not None:  # every ratio names a figure of the same run
            assert f["baseline"] in by_name and f["ratio"] > 0
            assert f["ratio_kind"] in ("speedup", "cost")
