"""Page tables, slab and vmalloc through the extension, each beside a
baseline measured in the same run.

* translate, random over a range mapped with 4 KiB pages: the batch call
  and the per-call one, against a plain-Python page table (``PyPageTable``);
* 4 KiB map, amortised: one batch call over 64 MiB, against the same
  plain-Python table;
* the direct map of 1 TiB with 1 GiB and with 2 MiB pages
  (``init_memory_mapping`` on a fresh machine), against the plain-Python
  table mapping the same pages;
* kmalloc+kfree pairs in a native loop, against the per-call API;
* vmalloc+vfree of 64 KiB from Python, against an order-4 (64 KiB)
  alloc_pages+free_pages pair: what mapping and the vmap area add.
"""

from __future__ import annotations

import array
import random
import time
from collections.abc import Callable
from typing import Any

from mmsvc import _core
from mmsvc.bench.pypagetable import PyPageTable

K4 = 1 << 12
M2 = 1 << 21
G1 = 1 << 30
PAGE_OFFSET = 0xFFFF_8880_0000_0000
# a stretch of the lower half the booted kernel leaves empty
SCRATCH_VA = 0x0000_7F00_0000_0000
PG_LEVEL_2M_MASK = 1 << 2
PG_LEVEL_1G_MASK = 1 << 3


def _best_ns(fn: Callable[[], Any], per: int, repeats: int = 5) -> float:
    """Fastest of ``repeats`` runs of ``fn``, in ns per ``per`` operations."""
    runs = []
    for _ in range(repeats):
        start = time.perf_counter_ns()
        fn()
        runs.append((time.perf_counter_ns() - start) / per)
    return min(runs)


def translate_figures(mm: Any, length: int, lookups: int) -> dict[str, float]:
    """Random translations over ``length`` bytes mapped with 4 KiB pages."""
    mm.kernel_map_range(SCRATCH_VA, 0, length, page_size=K4)
    py = PyPageTable()
    for off in range(0, length, K4):
        py.map(SCRATCH_VA + off, off, K4)
    rng = random.Random(1)
    virts = array.array("Q", (SCRATCH_VA + rng.randrange(length) for _ in range(lookups)))
    out = array.array("Q", bytes(8 * lookups))
    sample = virts[: max(1, lookups // 8)]
    translate, py_translate = mm.slow_virt_to_phys, py.translate

    def per_call() -> None:
        for v in sample:
            translate(v)

    def plain() -> None:
        for v in sample:
            py_translate(v)

    batch_ns = _best_ns(lambda: mm.translate_batch(virts, out), lookups)
    assert out[0] == py.translate(virts[0]), "the engines disagree"
    figures = {
        "batch": batch_ns,
        "per_call": _best_ns(per_call, len(sample)),
        "plain_python": _best_ns(plain, len(sample)),
    }
    mm.kernel_unmap_range(SCRATCH_VA, length)
    return figures


def map_figures(mm: Any, length: int) -> dict[str, float]:
    """4 KiB pages mapped in one batch call, amortised per page."""
    pages = length // K4
    virts = array.array("Q", range(SCRATCH_VA, SCRATCH_VA + length, K4))
    physs = array.array("Q", range(0, length, K4))
    runs = []
    for _ in range(5):
        start = time.perf_counter_ns()
        mm.kernel_map_batch(virts, physs, K4)
        runs.append((time.perf_counter_ns() - start) / pages)
        mm.kernel_unmap_range(SCRATCH_VA, length)

    def plain() -> None:
        py = PyPageTable()
        for v, p in zip(virts, physs, strict=True):
            py.map(v, p, K4)

    return {"batch": min(runs), "plain_python": _best_ns(plain, pages, repeats=2)}


def direct_map_figures(length: int) -> dict[str, dict[str, float]]:
    """``init_memory_mapping`` of ``length`` bytes on a fresh machine, in µs."""
    out = {}
    for name, mask, size in (("1G", PG_LEVEL_2M_MASK | PG_LEVEL_1G_MASK, G1),
                             ("2M", PG_LEVEL_2M_MASK, M2)):
        runs = []
        for _ in range(3):
            mm = _core.Mm("5.14")
            mm.memblock.add(1 << 20, 255 << 20)  # room for the table pages
            mm.init_kernel_pagetable("x86_64_4level")
            start = time.perf_counter_ns()
            mm.init_memory_mapping(0, length, mask, PAGE_OFFSET)
            runs.append((time.perf_counter_ns() - start) / 1e3)

        def plain(size: int = size) -> None:
            py = PyPageTable()
            for off in range(0, length, size):
                py.map(PAGE_OFFSET + off, off, size)

        out[name] = {"ours_us": min(runs), "plain_python_us": _best_ns(plain, 1000, repeats=1)}
    return out


def slab_figures(mm: Any, count: int) -> dict[str, float]:
    """kmalloc(64)+kfree pairs: native loop and per-call API."""
    native = min(mm.bench_kmalloc_kfree_pairs(64, count) for _ in range(3))
    kmalloc, kfree = mm.kmalloc, mm.kfree
    calls = max(1, count // 10)

    def per_call() -> None:
        for _ in range(calls):
            kfree(kmalloc(64))

    return {"native_pair": native, "per_call_pair": _best_ns(per_call, calls)}


def vmalloc_figures(mm: Any, count: int) -> dict[str, float]:
    """vmalloc(64 KiB)+vfree against an order-4 page pair, from Python."""
    vmalloc, vfree = mm.vmalloc, mm.vfree
    alloc_pages, free_pages = mm.alloc_pages, mm.free_pages

    def areas() -> None:
        for _ in range(count):
            vfree(vmalloc(64 << 10))

    def pages() -> None:
        for _ in range(count):
            free_pages(alloc_pages(4), 4)

    return {"vmalloc_pair": _best_ns(areas, count), "pages_pair": _best_ns(pages, count)}


def run_core(report: Any, mm: Any, quick: bool) -> None:
    """Add the page-table, slab and vmalloc figures to ``report``."""
    t = translate_figures(mm, (64 << 20) if quick else G1, 1 << 14 if quick else 1 << 18)
    report.add("plain-Python page table, translate", t["plain_python"], "ns")
    report.add("translate_batch, random 4K, per address", t["batch"], "ns",
               "plain-Python page table, translate", t["plain_python"] / t["batch"])
    report.add("translate per call, random 4K", t["per_call"], "ns",
               "plain-Python page table, translate", t["plain_python"] / t["per_call"])
    m = map_figures(mm, (16 << 20) if quick else (64 << 20))
    report.add("plain-Python page table, 4K map", m["plain_python"], "ns/page")
    report.add("kernel_map_batch, 4K, amortised", m["batch"], "ns/page",
               "plain-Python page table, 4K map", m["plain_python"] / m["batch"])
    d = direct_map_figures((64 * G1) if quick else (1 << 40))
    span = "64 GiB" if quick else "1 TiB"
    for name in ("1G", "2M"):
        base = f"plain-Python direct map, {span} of {name}"
        report.add(base, d[name]["plain_python_us"], "us")
        report.add(f"direct map of {span}, {name} pages", d[name]["ours_us"], "us", base,
                   d[name]["plain_python_us"] / d[name]["ours_us"])
    s = slab_figures(mm, 20_000 if quick else 1_000_000)
    report.add("kmalloc+kfree pair, per call", s["per_call_pair"], "ns")
    report.add("kmalloc+kfree pair, native", s["native_pair"], "ns", "kmalloc+kfree pair, per call",
               s["per_call_pair"] / s["native_pair"])
    v = vmalloc_figures(mm, 500 if quick else 20_000)
    report.add("order-4 alloc_pages+free_pages pair", v["pages_pair"], "ns")
    report.add("vmalloc+vfree 64 KiB pair", v["vmalloc_pair"], "ns",
               "order-4 alloc_pages+free_pages pair", v["vmalloc_pair"] / v["pages_pair"], "cost")
