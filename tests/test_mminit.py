"""mminit_loglevel=: the CONFIG_DEBUG_MEMORY_INIT reports.

Real kernels print the same lines in the -mminit boots of tests/realboots
(checked by test_realboots); these tests cover the levels, the console,
other builds and 5.14's format."""

from __future__ import annotations

from mmsvc.klog import KERN_DEBUG
from mmsvc.machine import NumaNode, kernels
from tests.conftest import boot_default

GiB = 1 << 30


def _mminit(sim) -> list[str]:
    return [r.text for r in sim.log.records if r.text.startswith("mminit::")]


def test_each_level_adds_its_reports():
    assert _mminit(boot_default("")) == []
    assert _mminit(boot_default("mminit_loglevel=1")) == []
    verify = _mminit(boot_default("mminit_loglevel=2"))
    assert verify and all(ln.startswith("mminit::zonelist") for ln in verify)
    trace = _mminit(boot_default("mminit_loglevel=3"))
    assert trace[:5] == [
        "mminit::pageflags_layout_widths Section 0 Node 10 Zone 3 Lastcpupid 21 Kasantag 0 "
        "Gen 3 Tier 2 Flags 25",
        "mminit::pageflags_layout_shifts Section 25 Node 10 Zone 3 Lastcpupid 21 Kasantag 0",
        "mminit::pageflags_layout_pgshifts Section 0 Node 54 Zone 51 Lastcpupid 30 Kasantag 0",
        "mminit::pageflags_layout_nodezoneid Node/Zone ID: 64 -> 51",
        "mminit::pageflags_layout_usage location: 64 -> 25 layout 25 -> 25 unused 25 -> 0 "
        "page-flags",
    ]
    # the default machine: DMA, DMA32 and Normal on one node
    assert [ln for ln in trace if "memmap_init" in ln] == [
        "mminit::memmap_init Initialising map node 0 zone 0 pfns 1 -> 4096",
        "mminit::memmap_init Initialising map node 0 zone 1 pfns 4096 -> 1048576",
        "mminit::memmap_init Initialising map node 0 zone 2 pfns 1048576 -> 1310720",
    ]
    assert "mminit::zonelist general 0:Normal = 0:Normal 0:DMA32 0:DMA " in trace
    assert "mminit::zonelist thisnode 0:DMA = 0:DMA " in trace


def test_the_reports_are_debug_lines():
    sim = boot_default("mminit_loglevel=3")
    assert all(r.level == KERN_DEBUG for r in sim.log.records if r.text.startswith("mminit"))
    assert "mminit::" not in sim.log.text()  # the console's default level hides them
    assert "mminit::" in boot_default("mminit_loglevel=3 loglevel=8").log.text()


def test_zonelists_follow_the_fallback_order_and_skip_higher_zones():
    two = (NumaNode(0, ((0, 0xA0000), (0x100000, 2 * GiB)), (0,)),
           NumaNode(1, ((2 * GiB, 3 * GiB), (4 * GiB, 5 * GiB)), (1,)))
    lines = _mminit(boot_default("mminit_loglevel=2", numa=two, cpus=2))
    assert lines == [
        "mminit::zonelist general 0:DMA = 0:DMA ",
        "mminit::zonelist general 0:DMA32 = 0:DMA32 0:DMA 1:DMA32 ",
        "mminit::zonelist thisnode 0:DMA = 0:DMA ",
        "mminit::zonelist thisnode 0:DMA32 = 0:DMA32 0:DMA ",
        "mminit::zonelist general 1:DMA32 = 1:DMA32 0:DMA32 0:DMA ",
        "mminit::zonelist general 1:Normal = 1:Normal 1:DMA32 0:DMA32 0:DMA ",
        "mminit::zonelist thisnode 1:DMA32 = 1:DMA32 ",
        "mminit::zonelist thisnode 1:Normal = 1:Normal 1:DMA32 ",
    ]


def test_a_build_without_debug_memory_init_does_not_know_the_option():
    cloud = kernels.lookup("6.1.0-56-cloud-amd64")
    sim = boot_default("mminit_loglevel=4", kernel=cloud.image, kconfig=cloud.kconfig)
    assert _mminit(sim) == []
    assert any(r.text.startswith("Unknown kernel command line") and "mminit_loglevel=4"
               in r.text for r in sim.log.records)


def test_5_14_has_no_multi_gen_lru_fields():
    lines = _mminit(boot_default("mminit_loglevel=3", profile="5.14"))
    assert lines[0] == ("mminit::pageflags_layout_widths Section 0 Node 10 Zone 3 "
                        "Lastcpupid 21 Kasantag 0 Flags 25")
    assert lines[4] == ("mminit::pageflags_layout_usage location: 64 -> 30 layout 30 -> 25 "
                        "unused 25 -> 0 page-flags")


def test_user_mode_linux_parses_the_option_too_late():
    # start_kernel runs parse_early_param after the zonelists; UML's
    # setup_arch does not run it before (as its real boot shows)
    from mmsvc.cli import arch_default_machine
    from mmsvc.simulation import Simulation

    m = arch_default_machine("um")
    sim = Simulation(m.replace(profile="6.1", cmdline="mminit_loglevel=4 loglevel=8"))
    sim.boot()
    assert _mminit(sim) == []
