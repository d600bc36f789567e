"""Allocator events, as the debug-feature hooks receive them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PageEvent:
    """A buddy allocation or free: ``kind`` is ``"alloc"`` or ``"free"``."""

    kind: str
    pfn: int
    order: int
    gfp: int
    nid: int
    zone: str


@dataclass(frozen=True)
class SlabEvent:
    """A slab object allocation or free."""

    kind: str
    cache: str
    addr: int
    size: int


@dataclass(frozen=True)
class VmallocEvent:
    """A vmalloc area allocation or free."""

    kind: str
    addr: int
    size: int
    caller: str
