"""Page arithmetic shared by the Python side (the Rust core has its own in
``rust_core/src/units.rs``)."""

from __future__ import annotations

#: log2 of the base page size, and the page size
PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT
#: L1 cache line: memblock's default alignment for small allocations
SMP_CACHE_BYTES = 64


def div_round_up(n: int, d: int) -> int:
    """``DIV_ROUND_UP``: ``n / d`` rounded up (``PFN_UP`` with ``d = PAGE_SIZE``)."""
    return -(-n // d)


def round_up(value: int, align: int) -> int:
    """``value`` rounded up to a multiple of ``align``."""
    return div_round_up(value, align) * align


def round_down(value: int, align: int) -> int:
    """``value`` rounded down to a multiple of ``align``."""
    return value // align * align


def page_align(value: int) -> int:
    """``PAGE_ALIGN``: rounded up to a whole page."""
    return round_up(value, PAGE_SIZE)


def roundup_pow_of_two(n: int) -> int:
    """The smallest power of two at or above ``n`` (1 for n <= 1)."""
    return 1 << (n - 1).bit_length() if n > 1 else 1
