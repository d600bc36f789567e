"""page_alloc_init_late's report: one line for each node whose struct pages
were deferred, none when nothing was (early_page_ext, UML's build)."""

from __future__ import annotations

import re

from mmsvc.verify import memory_lines

from .conftest import boot_default

LINE = re.compile(r"^node (\d+) deferred pages initialised in \d+ms$", re.M)


def test_each_node_with_deferred_pages_reports():
    from mmsvc.machine import NumaNode

    gib = 1 << 30
    numa = (NumaNode(0, ((0, 0xA0000), (0x100000, 3 * gib)), (0,)),
            NumaNode(1, ((4 * gib, 5 * gib),), (1,)))
    sim = boot_default(numa=numa, cpus=2)
    assert sorted(LINE.findall(sim.log.text())) == ["0", "1"]
    # no clock runs in the simulation, so the line is the same at every boot;
    # verify compares it without the kernel's duration
    assert "node 0 deferred pages initialised in 0ms" in sim.log.text()
    assert "node 0 deferred pages initialised in (time)" in memory_lines(sim.log.text())[0]
    assert boot_default(numa=numa, cpus=2).log.text() == sim.log.text()


def test_no_line_without_deferred_pages():
    assert not LINE.findall(boot_default("early_page_ext", profile="6.1").log.text())
