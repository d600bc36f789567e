"""The acceptance bar: each real boot log's memory lines, reproduced.

For every log in shared/fixtures/dmesg, the machine the log describes is
booted with the 6.1 profile and the memory lines the kernel printed must
appear exactly; the Memory line's total, section sizes and cma must be
exact, reserved within 1 % and available within 2 % (UML: all exact).
"""

from __future__ import annotations

import pytest

from mmsvc.machine import from_dmesg
from mmsvc.simulation import Simulation
from mmsvc.verify import MEMORY_FIELDS, TOLERANCE, memory_lines, unreached_lines

from .conftest import fixture_logs

LOGS = fixture_logs()


def _boot(path):
    sim = Simulation(from_dmesg(str(path)).replace(profile="6.1"))
    sim.boot()
    return sim


@pytest.mark.skipif(not LOGS, reason="real boot logs not found beside the repository")
@pytest.mark.parametrize("path", LOGS, ids=[p.name for p in LOGS])
def test_memory_lines_match_real_kernel(path):
    text = path.read_text(errors="replace")
    real_lines, real_mem = memory_lines(text)
    sim = _boot(path)
    sim_lines, sim_mem = memory_lines(sim.log.text())
    missing = [line for line in real_lines if line not in sim_lines]
    assert not missing, f"lines the kernel printed that the simulation lacks: {missing}"
    # the fixtures' boots stop at the root file system: later lines cannot be there
    unreached = unreached_lines(text, sim.log.text())
    extra = [line for line in sim_lines if line not in real_lines and line not in unreached]
    assert not extra, f"lines the simulation printed that the kernel did not: {extra}"
    assert real_mem is not None and sim_mem is not None
    uml = path.name.startswith("uml")
    for name, real, got in zip(MEMORY_FIELDS, real_mem, sim_mem, strict=True):
        tol = 0.0 if uml else TOLERANCE.get(name, 0.0)
        assert abs(real - got) <= tol * real, f"Memory {name}: real {real}K, simulated {got}K"


@pytest.mark.skipif(not LOGS, reason="real boot logs not found beside the repository")
@pytest.mark.parametrize("path", LOGS, ids=[p.name for p in LOGS])
def test_memory_line_is_exact(path):
    """Beyond the bar: every field of the Memory line, reserved and
    available included, is the kernel's to the page."""
    _, real_mem = memory_lines(path.read_text(errors="replace"))
    _, sim_mem = memory_lines(_boot(path).log.text())
    assert sim_mem == real_mem


@pytest.mark.skipif(not LOGS, reason="real boot logs not found beside the repository")
def test_same_input_same_output():
    path = LOGS[0]
    assert _boot(path).log.text() == _boot(path).log.text()
