"""Allocator events, as the debug-feature hooks receive them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PageEvent:
    """A buddy allocator operation: ``kind`` is ``"alloc"``, ``"free"`` or
    ``"fail"`` (an allocation that could not be satisfied; ``pfn`` is 2**64-1,
    ``nid``/``zone`` the preferred node and highest zone asked for)."""

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
