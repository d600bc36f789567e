"""``mmsvc bench``: the page allocator measured against baselines in one run.

Every figure is reported with the ratio to a baseline measured in the same
process, on the same machine, just before or after it:

* native order-0 and order-9 alloc+free pairs (the Rust loop, no Python);
* the per-call Python API (``mm.alloc_pages`` / ``mm.free_pages``), ns/op;
* the batch API (``alloc_pages_bulk`` / ``free_pages_bulk`` over a buffer),
  page operations per second;
* the same per-call workload on a plain-Python buddy allocator (the baseline);
* page tables, slab and vmalloc (``mmsvc.bench.core``, each with its baseline).
"""

from __future__ import annotations

import array
import platform
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from mmsvc.bench.core import run_core
from mmsvc.bench.pybuddy import PyBuddy


@dataclass
class Figure:
    """One measured value; ``ratio`` compares it with ``baseline`` (another
    figure of the same run): how many times faster this one is when
    ``ratio_kind`` is "speedup", how many times the baseline's cost when it
    is "cost"."""

    name: str
    value: float
    unit: str
    baseline: str | None = None
    ratio: float | None = None
    ratio_kind: str = "speedup"


@dataclass
class BenchReport:
    figures: list[Figure] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def add(self, name: str, value: float, unit: str, baseline: str | None = None,
            ratio: float | None = None, ratio_kind: str = "speedup") -> None:
        self.figures.append(Figure(name, value, unit, baseline, ratio, ratio_kind))

    def to_dict(self) -> dict[str, Any]:
        return {"meta": self.meta, "figures": [asdict(f) for f in self.figures]}

    def lines(self) -> list[str]:
        out = []
        for f in self.figures:
            ratio = ""
            if f.ratio is not None:
                how = "faster than" if f.ratio_kind == "speedup" else "the cost of"
                ratio = f"  {f.ratio:8.1f}x {how} {f.baseline}"
            out.append(f"{f.name:<40} {f.value:14.1f} {f.unit:<10}{ratio}")
        return out


def _booted_mm(quick: bool) -> Any:
    from mmsvc.machine import default_machine
    from mmsvc.simulation import Simulation

    sim = Simulation(default_machine())
    sim.boot()
    return sim.mm


def _per_call_ns(alloc, free, n: int, repeats: int = 5) -> float:
    """ns per call of ``alloc(0)`` / ``free(pfn, 0)`` in a plain Python loop,
    64 allocations then their 64 frees, as a caller would write it. The
    fastest of ``repeats`` runs, as ``timeit`` advises: slower runs measure
    the other tenants of the machine, not the code (every per-call workload,
    the baseline included, is measured the same way)."""
    rounds = max(1, n // 64)
    runs = []
    for _ in range(repeats):
        start = time.perf_counter_ns()
        for _ in range(rounds):
            pfns = [alloc(0) for _ in range(64)]
            for p in pfns:
                free(p, 0)
        runs.append((time.perf_counter_ns() - start) / (rounds * 64 * 2))
    return min(runs)


def run_scale(report: BenchReport, quick: bool) -> None:
    """Boot of a 32 TiB / 16-node machine against a 1 GiB one (fresh processes)."""
    from mmsvc.bench.scale import measure

    m = measure(total_gib=64 if quick else 32 * 1024, nodes=2 if quick else 16)
    report.add("boot of a 1 GiB machine", m["small_s"] * 1e3, "ms")
    report.add(f"boot of {m['total_gib']} GiB over {m['nodes']} nodes", m["big_s"] * 1e3,
               "ms", "boot of a 1 GiB machine", m["time_ratio"], "cost")
    report.add("  peak RSS of that boot", m["big_rss_kib"] / 1024, "MiB")


def run_service(report: BenchReport, quick: bool) -> None:
    """The gRPC service against the in-process API (a server on loopback)."""
    from mmsvc.bench.service import measure

    m = measure(quick)
    report.add("in-process Simulation.step, p50", m["inproc_step_p50_us"], "us")
    report.add("gRPC unary Step round trip, p50", m["step_p50_us"], "us",
               "in-process Simulation.step, p50", m["step_p50_us"] / m["inproc_step_p50_us"],
               "cost")
    report.add("gRPC unary Step round trip, p99", m["step_p99_us"], "us")
    report.add("in-process batch API", m["inproc_batch_ops_s"] / 1e6, "M ops/s")
    report.add("gRPC Batch stream", m["service_batch_ops_s"] / 1e6, "M ops/s",
               "in-process batch API", m["inproc_batch_ops_s"] / m["service_batch_ops_s"], "cost")


def run(quick: bool = False, scale: bool = True, service: bool = True) -> BenchReport:
    """Run every workload; ``quick`` shrinks the counts (for tests)."""
    shrink = 20 if quick else 1
    report = BenchReport(meta={"python": platform.python_version(),
                               "machine": platform.machine(), "quick": quick})
    mm = _booted_mm(quick)

    # native loops
    n0 = mm.bench_alloc_free_pairs(order=0, count=2_000_000 // shrink)
    n9 = mm.bench_alloc_free_pairs(order=9, count=200_000 // shrink)
    report.add("native order-0 alloc+free pair", n0, "ns")
    report.add("native order-9 alloc+free pair", n9, "ns")

    # plain-Python baseline, per call
    py = PyBuddy(1 << 20)
    py_ns = _per_call_ns(py.alloc, py.free, 200_000 // shrink)
    report.add("plain-Python buddy, per call", py_ns, "ns/op")

    # per-call API through the extension
    ours_ns = _per_call_ns(mm.alloc_pages, mm.free_pages, 400_000 // shrink)
    report.add("mmsvc per-call API", ours_ns, "ns/op", "plain-Python buddy, per call",
               py_ns / ours_ns)

    # the same loop calling two C builtins with CPython's fast calling
    # convention that do next to nothing (``abs(0)``, ``pow(pfn, 0)``): what
    # any per-call API costs from Python at the least (the loop, the call, an int)
    floor_ns = _per_call_ns(abs, pow, 400_000 // shrink)
    report.add("  Python call floor (builtins)", floor_ns, "ns/op", "plain-Python buddy, per call",
               py_ns / floor_ns)

    # the batch workload (65536 pages out, then back) on the plain-Python buddy
    batch = 65536
    py_reps = 1 if quick else 3
    start = time.perf_counter_ns()
    for _ in range(py_reps):
        got = [py.alloc(0) for _ in range(batch)]
        for p in got:
            py.free(p, 0)
    py_batch_ns = (time.perf_counter_ns() - start) / (py_reps * batch * 2)
    report.add("plain-Python buddy, batch workload", py_batch_ns, "ns/op")

    # batch API
    buf = array.array("Q", bytes(8 * batch))
    reps = max(1, 64 // shrink)
    start = time.perf_counter_ns()
    ops = 0
    for _ in range(reps):
        n = mm.alloc_pages_bulk(buf, 0)
        mm.free_pages_bulk(buf[:n] if n < batch else buf, 0)
        ops += 2 * n
    elapsed = time.perf_counter_ns() - start
    per_op = elapsed / max(ops, 1)
    report.add("mmsvc batch API", ops / (elapsed / 1e9) / 1e6, "M ops/s",
               "plain-Python buddy, batch workload", py_batch_ns / per_op)
    report.add("mmsvc batch API per op", per_op, "ns/op", "mmsvc per-call API", ours_ns / per_op)
    report.add("native order-0 pair vs per-call", n0 / 2, "ns/op", "mmsvc per-call API",
               ours_ns / (n0 / 2))
    run_core(report, mm, quick)
    if scale:
        run_scale(report, quick)
    if service:
        run_service(report, quick)
    return report
