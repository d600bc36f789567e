//! Page-size arithmetic shared by every part of the core.

/// log2 of the base page size (4 KiB on every architecture we simulate).
pub const PAGE_SHIFT: u32 = 12;
/// Base page size in bytes.
pub const PAGE_SIZE: u64 = 1 << PAGE_SHIFT;

/// A physical page frame number.
pub type Pfn = u64;
/// A physical address.
pub type PhysAddr = u64;

/// `PFN_UP`: the first pfn whose page starts at or after `addr`.
#[inline]
pub const fn pfn_up(addr: PhysAddr) -> Pfn {
    addr.div_ceil(PAGE_SIZE)
}

/// `PFN_DOWN`: the pfn of the page holding `addr`.
#[inline]
pub const fn pfn_down(addr: PhysAddr) -> Pfn {
    addr >> PAGE_SHIFT
}

/// `PFN_PHYS`: the physical address of a pfn.
#[inline]
pub const fn pfn_phys(pfn: Pfn) -> PhysAddr {
    pfn << PAGE_SHIFT
}

/// Round `x` up to a multiple of `align` (a power of two).
#[inline]
pub const fn round_up(x: u64, align: u64) -> u64 {
    (x + align - 1) & !(align - 1)
}

/// Round `x` down to a multiple of `align` (a power of two).
#[inline]
pub const fn round_down(x: u64, align: u64) -> u64 {
    x & !(align - 1)
}
