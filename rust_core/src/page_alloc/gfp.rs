//! GFP ("get free pages") flags as a `u32` newtype with the kernel's names.
//!
//! Bit values follow include/linux/gfp.h of 5.14 (the low bits are the same
//! in 6.1). Only the flags the allocator model looks at change behaviour;
//! the others are carried along so that names print correctly.

use std::fmt;

use super::free_area_init::ZoneType;
use super::migratetype::MigrateType;

/// A set of GFP flags.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Gfp(pub u32);

crate::flags::flag_set_ops!(Gfp, not);

impl Gfp {
    pub const __GFP_DMA: Gfp = Gfp(0x01);
    pub const __GFP_HIGHMEM: Gfp = Gfp(0x02);
    pub const __GFP_DMA32: Gfp = Gfp(0x04);
    pub const __GFP_MOVABLE: Gfp = Gfp(0x08);
    pub const __GFP_RECLAIMABLE: Gfp = Gfp(0x10);
    pub const __GFP_HIGH: Gfp = Gfp(0x20);
    pub const __GFP_IO: Gfp = Gfp(0x40);
    pub const __GFP_FS: Gfp = Gfp(0x80);
    pub const __GFP_ZERO: Gfp = Gfp(0x100);
    pub const __GFP_ATOMIC: Gfp = Gfp(0x200);
    pub const __GFP_DIRECT_RECLAIM: Gfp = Gfp(0x400);
    pub const __GFP_KSWAPD_RECLAIM: Gfp = Gfp(0x800);
    pub const __GFP_WRITE: Gfp = Gfp(0x1000);
    pub const __GFP_NOWARN: Gfp = Gfp(0x2000);
    pub const __GFP_RETRY_MAYFAIL: Gfp = Gfp(0x4000);
    pub const __GFP_NOFAIL: Gfp = Gfp(0x8000);
    pub const __GFP_NORETRY: Gfp = Gfp(0x10000);
    pub const __GFP_MEMALLOC: Gfp = Gfp(0x20000);
    pub const __GFP_COMP: Gfp = Gfp(0x40000);
    pub const __GFP_NOMEMALLOC: Gfp = Gfp(0x80000);
    pub const __GFP_HARDWALL: Gfp = Gfp(0x100000);
    pub const __GFP_THISNODE: Gfp = Gfp(0x200000);
    pub const __GFP_ACCOUNT: Gfp = Gfp(0x400000);

    pub const __GFP_RECLAIM: Gfp = Gfp(0x400 | 0x800);
    pub const GFP_ATOMIC: Gfp = Gfp(0x20 | 0x200 | 0x800);
    pub const GFP_KERNEL: Gfp = Gfp(0x400 | 0x800 | 0x40 | 0x80);
    pub const GFP_KERNEL_ACCOUNT: Gfp = Gfp(Self::GFP_KERNEL.0 | 0x400000);
    pub const GFP_NOWAIT: Gfp = Gfp(0x800);
    pub const GFP_NOIO: Gfp = Gfp(0x400 | 0x800);
    pub const GFP_NOFS: Gfp = Gfp(0x400 | 0x800 | 0x40);
    pub const GFP_USER: Gfp = Gfp(Self::GFP_KERNEL.0 | 0x100000);
    pub const GFP_HIGHUSER: Gfp = Gfp(Self::GFP_USER.0 | 0x02);
    pub const GFP_HIGHUSER_MOVABLE: Gfp = Gfp(Self::GFP_HIGHUSER.0 | 0x08);
    pub const GFP_DMA: Gfp = Gfp(0x01);
    pub const GFP_DMA32: Gfp = Gfp(0x04);

    /// Every bit this model knows a name for.
    pub const KNOWN_MASK: u32 = 0x7f_ffff;

    #[inline]
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// `gfp_zone`: the highest zone type the request may use. Zone types
    /// the architecture lacks are mapped by the caller (see
    /// [`crate::page_alloc::PageAlloc`]) the way the kernel's
    /// `OPT_ZONE_*` fall back to ZONE_NORMAL.
    pub fn gfp_zone(self) -> Result<ZoneType, &'static str> {
        let dma = self.intersects(Self::__GFP_DMA);
        let dma32 = self.intersects(Self::__GFP_DMA32);
        let highmem = self.intersects(Self::__GFP_HIGHMEM);
        let movable = self.intersects(Self::__GFP_MOVABLE);
        match (dma, dma32, highmem) {
            (true, true, _) | (true, _, true) | (_, true, true) => {
                Err("more than one zone modifier (__GFP_DMA/__GFP_DMA32/__GFP_HIGHMEM)")
            }
            (true, false, false) => Ok(ZoneType::Dma),
            (false, true, false) => Ok(ZoneType::Dma32),
            // __GFP_HIGHMEM alone is ZONE_HIGHMEM, which 64-bit kernels map
            // to ZONE_NORMAL; with __GFP_MOVABLE it is ZONE_MOVABLE.
            (false, false, true) => Ok(if movable { ZoneType::Movable } else { ZoneType::Normal }),
            (false, false, false) => Ok(ZoneType::Normal),
        }
    }

    /// `gfp_migratetype` (with grouping by mobility on).
    pub fn gfp_migratetype(self) -> Result<MigrateType, &'static str> {
        match (self.intersects(Self::__GFP_MOVABLE), self.intersects(Self::__GFP_RECLAIMABLE)) {
            (false, false) => Ok(MigrateType::Unmovable),
            (true, false) => Ok(MigrateType::Movable),
            (false, true) => Ok(MigrateType::Reclaimable),
            (true, true) => Err("both __GFP_MOVABLE and __GFP_RECLAIMABLE"),
        }
    }
}

/// Names tried in order when printing, composites first (like the kernel's
/// `%pGg` table): each match removes its bits.
const NAMES: &[(Gfp, &str)] = &[
    (Gfp::GFP_HIGHUSER_MOVABLE, "GFP_HIGHUSER_MOVABLE"),
    (Gfp::GFP_HIGHUSER, "GFP_HIGHUSER"),
    (Gfp::GFP_USER, "GFP_USER"),
    (Gfp::GFP_KERNEL_ACCOUNT, "GFP_KERNEL_ACCOUNT"),
    (Gfp::GFP_KERNEL, "GFP_KERNEL"),
    (Gfp::GFP_NOFS, "GFP_NOFS"),
    (Gfp::GFP_ATOMIC, "GFP_ATOMIC"),
    (Gfp::GFP_NOIO, "GFP_NOIO"),
    (Gfp::GFP_NOWAIT, "GFP_NOWAIT"),
    (Gfp::GFP_DMA, "GFP_DMA"),
    (Gfp::__GFP_HIGHMEM, "__GFP_HIGHMEM"),
    (Gfp::GFP_DMA32, "GFP_DMA32"),
    (Gfp::__GFP_HIGH, "__GFP_HIGH"),
    (Gfp::__GFP_ATOMIC, "__GFP_ATOMIC"),
    (Gfp::__GFP_IO, "__GFP_IO"),
    (Gfp::__GFP_FS, "__GFP_FS"),
    (Gfp::__GFP_NOWARN, "__GFP_NOWARN"),
    (Gfp::__GFP_RETRY_MAYFAIL, "__GFP_RETRY_MAYFAIL"),
    (Gfp::__GFP_NOFAIL, "__GFP_NOFAIL"),
    (Gfp::__GFP_NORETRY, "__GFP_NORETRY"),
    (Gfp::__GFP_COMP, "__GFP_COMP"),
    (Gfp::__GFP_ZERO, "__GFP_ZERO"),
    (Gfp::__GFP_NOMEMALLOC, "__GFP_NOMEMALLOC"),
    (Gfp::__GFP_MEMALLOC, "__GFP_MEMALLOC"),
    (Gfp::__GFP_HARDWALL, "__GFP_HARDWALL"),
    (Gfp::__GFP_THISNODE, "__GFP_THISNODE"),
    (Gfp::__GFP_RECLAIMABLE, "__GFP_RECLAIMABLE"),
    (Gfp::__GFP_MOVABLE, "__GFP_MOVABLE"),
    (Gfp::__GFP_ACCOUNT, "__GFP_ACCOUNT"),
    (Gfp::__GFP_WRITE, "__GFP_WRITE"),
    (Gfp::__GFP_RECLAIM, "__GFP_RECLAIM"),
    (Gfp::__GFP_DIRECT_RECLAIM, "__GFP_DIRECT_RECLAIM"),
    (Gfp::__GFP_KSWAPD_RECLAIM, "__GFP_KSWAPD_RECLAIM"),
];

impl fmt::Display for Gfp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        let mut first = true;
        for (g, name) in NAMES {
            if g.0 != 0 && rest & g.0 == g.0 {
                if !first {
                    f.write_str("|")?;
                }
                f.write_str(name)?;
                first = false;
                rest &= !g.0;
            }
        }
        if rest != 0 {
            if !first {
                f.write_str("|")?;
            }
            write!(f, "{rest:#x}")?;
            first = false;
        }
        if first {
            f.write_str("0")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Gfp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Gfp({self})")
    }
}
