"""The uniprocessor first per-cpu chunk (mm/percpu.c, !CONFIG_SMP)."""

from __future__ import annotations

from mmsvc.api import (
    PCPU_MIN_UNIT_SIZE,
    PERCPU_DYNAMIC_RESERVE,
    BootContext,
    FirstChunk,
    pcpu_setup_first_chunk,
)

PAGE_SIZE = 4096


def setup_per_cpu_areas(ctx: BootContext) -> None:
    unit = max(PCPU_MIN_UNIT_SIZE, PERCPU_DYNAMIC_RESERVE)
    unit = 1 << (unit - 1).bit_length()
    mb = ctx.mm.memblock
    ai = mb.alloc(PAGE_SIZE, PAGE_SIZE, caller="pcpu_alloc_alloc_info")
    fc_addr = mb.alloc_from(unit, PAGE_SIZE, 0, caller="setup_per_cpu_areas")
    fc = FirstChunk(0, 0, unit, unit, unit)
    pcpu_setup_first_chunk(ctx, fc, 1, 1)
    mb.free(ai, PAGE_SIZE, caller="pcpu_free_alloc_info")
    ctx.results["percpu"] = {"unit": unit, "base": fc_addr}
