//! Regions, their flags, and the sorted region tables (`struct memblock_type`).

use std::fmt;

use super::{cap_end, INIT_MEMBLOCK_REGIONS};
use crate::units::PhysAddr;

/// `enum memblock_flags`: attributes of a memory region.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct MemblockFlags(pub u32);

crate::flags::flag_set_ops!(MemblockFlags);

impl MemblockFlags {
    /// `MEMBLOCK_NONE`: no special request.
    pub const NONE: Self = Self(0x0);
    /// `MEMBLOCK_HOTPLUG`: hotpluggable memory.
    pub const HOTPLUG: Self = Self(0x1);
    /// `MEMBLOCK_MIRROR`: mirrored (reliable) memory.
    pub const MIRROR: Self = Self(0x2);
    /// `MEMBLOCK_NOMAP`: not in the kernel's direct mapping.
    pub const NOMAP: Self = Self(0x4);
    /// `MEMBLOCK_DRIVER_MANAGED`: added by a driver (5.16+).
    pub const DRIVER_MANAGED: Self = Self(0x8);
    /// Every flag known to 6.1.
    pub const ALL: Self = Self(0xf);

    /// The raw value.
    pub const fn bits(self) -> u32 {
        self.0
    }
    /// `self` with the bits of `other` cleared.
    pub const fn without(self, other: Self) -> Self {
        Self(self.0 & !other.0)
    }
}

impl fmt::Debug for MemblockFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("NONE");
        }
        let names = [
            (Self::HOTPLUG, "HOTPLUG"),
            (Self::MIRROR, "MIRROR"),
            (Self::NOMAP, "NOMAP"),
            (Self::DRIVER_MANAGED, "DRIVER_MANAGED"),
        ];
        let mut first = true;
        for (flag, name) in names {
            if self.contains(flag) {
                if !first {
                    f.write_str("|")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        let rest = self.0 & !Self::ALL.0;
        if rest != 0 {
            if !first {
                f.write_str("|")?;
            }
            write!(f, "{rest:#x}")?;
        }
        Ok(())
    }
}

/// `struct memblock_region`: `[base, base + size)` on node `nid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MemblockRegion {
    /// First byte.
    pub base: PhysAddr,
    /// Length in bytes (never 0 for a stored region).
    pub size: u64,
    /// Attributes.
    pub flags: MemblockFlags,
    /// Node id; `MAX_NUMNODES` when none was given.
    pub nid: i32,
}

impl MemblockRegion {
    /// One past the last byte (never overflows: sizes are capped on entry).
    pub fn end(&self) -> PhysAddr {
        self.base + self.size
    }
}

/// `struct memblock_type`: a sorted, disjoint, merged table of regions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemblockType {
    pub(crate) name: &'static str,
    pub(crate) regions: Vec<MemblockRegion>,
    pub(crate) total_size: u64,
    /// Kernel array size (`max`), doubled on demand.
    pub(crate) max: usize,
    /// Where the array lives once doubled (None: the static initial array).
    pub(crate) array_addr: Option<PhysAddr>,
    /// Node id of the kernel's dummy entry while the type is empty: 0 at
    /// boot (static initialisation), `MAX_NUMNODES` once emptied.
    pub(crate) empty_nid: i32,
}

impl MemblockType {
    pub(crate) fn new(name: &'static str) -> Self {
        MemblockType {
            name,
            regions: Vec::new(),
            total_size: 0,
            max: INIT_MEMBLOCK_REGIONS,
            array_addr: None,
            empty_nid: 0,
        }
    }

    /// `"memory"` or `"reserved"`.
    pub fn name(&self) -> &'static str {
        self.name
    }
    pub(crate) fn table_name(&self) -> &'static str {
        if self.name == "memory" {
            "memblock.memory"
        } else {
            "memblock.reserved"
        }
    }
    /// The regions, sorted by base (empty when the type is empty).
    pub fn regions(&self) -> &[MemblockRegion] {
        &self.regions
    }
    /// Number of real regions.
    pub fn len(&self) -> usize {
        self.regions.len()
    }
    /// No region at all.
    pub fn is_empty(&self) -> bool {
        self.regions.is_empty()
    }
    /// The kernel's `cnt`: the number of regions, but 1 for an empty type
    /// (the kernel keeps one zero-sized dummy entry).
    pub fn cnt(&self) -> usize {
        self.regions.len().max(1)
    }
    /// The kernel's `max`: current size of the region array.
    pub fn max(&self) -> usize {
        self.max
    }
    /// `total_size` as the kernel keeps it: the sum of the region sizes,
    /// except that `memblock_trim_memory()` does not lower it for the
    /// regions it shrinks.
    pub fn total_size(&self) -> u64 {
        self.total_size
    }
    /// Physical address of the array once it has been doubled by a
    /// simulated `memblock_double_array()`.
    pub fn array_addr(&self) -> Option<PhysAddr> {
        self.array_addr
    }
    /// The region at `idx`, like `type->regions[idx]` (index 0 of an empty
    /// type is the kernel's zero-sized dummy).
    pub fn region(&self, idx: usize) -> Option<MemblockRegion> {
        match self.regions.get(idx) {
            Some(r) => Some(*r),
            None if idx == 0 => Some(self.dummy()),
            None => None,
        }
    }
    pub(crate) fn dummy(&self) -> MemblockRegion {
        MemblockRegion { base: 0, size: 0, flags: MemblockFlags::NONE, nid: self.empty_nid }
    }

    /// `memblock_search()`: index of the region containing `addr`.
    pub fn search(&self, addr: PhysAddr) -> Option<usize> {
        let i = self.regions.partition_point(|r| r.end() <= addr);
        let r = self.regions.get(i)?;
        (r.base <= addr).then_some(i)
    }

    /// `memblock_overlaps_region()`, with the kernel's comparison (a zero-sized
    /// probe strictly inside a region counts as overlapping).
    pub fn overlaps(&self, base: PhysAddr, size: u64) -> bool {
        let end = cap_end(base, size);
        // Regions ending at or before `base` cannot match.
        let i = self.regions.partition_point(|r| r.end() <= base);
        self.regions.get(i).is_some_and(|r| r.base < end)
    }

    /// The parts of `[base, end)` no region covers, in ascending order (the
    /// pieces `memblock_add_range()` inserts).
    pub(crate) fn holes(&self, mut base: PhysAddr, end: PhysAddr) -> Vec<(PhysAddr, PhysAddr)> {
        let mut out = Vec::new();
        let first = self.regions.partition_point(|r| r.end() <= base);
        for r in &self.regions[first..] {
            if r.base >= end {
                break;
            }
            if r.base > base {
                out.push((base, r.base));
            }
            base = r.end().min(end);
        }
        if base < end {
            out.push((base, end));
        }
        out
    }

    /// The number of regions the table would have after inserting `holes`
    /// with `nid`/`flags` and merging (computed on a copy).
    pub(crate) fn len_after_adding(&self, holes: &[(PhysAddr, PhysAddr)], nid: i32, flags: MemblockFlags) -> usize {
        let mut copy = self.clone();
        for &(start, end) in holes {
            copy.insert_sorted(MemblockRegion { base: start, size: end - start, flags, nid });
        }
        copy.merge_regions();
        copy.regions.len()
    }

    pub(crate) fn insert_sorted(&mut self, r: MemblockRegion) {
        let i = self.regions.partition_point(|x| x.base < r.base);
        self.regions.insert(i, r);
        // Wrapping like the kernel's phys_addr_t: after memblock_trim_memory()
        // total_size can exceed the real sum (see Memblock::trim_memory).
        self.total_size = self.total_size.wrapping_add(r.size);
    }

    /// `memblock_merge_regions()`: fuse touching neighbours with the same
    /// node and flags.
    pub(crate) fn merge_regions(&mut self) {
        let regions = &mut self.regions;
        if regions.is_empty() {
            return;
        }
        let mut w = 0;
        for i in 1..regions.len() {
            let r = regions[i];
            let last = &mut regions[w];
            if last.end() == r.base && last.nid == r.nid && last.flags == r.flags {
                last.size += r.size;
            } else {
                w += 1;
                regions[w] = r;
            }
        }
        regions.truncate(w + 1);
    }

    /// `memblock_remove_region()`.
    pub(crate) fn remove_region(&mut self, idx: usize, empty_nid: i32) {
        let r = self.regions.remove(idx);
        self.total_size = self.total_size.wrapping_sub(r.size);
        if self.regions.is_empty() {
            self.empty_nid = empty_nid;
        }
    }

    /// How many regions `split_at_bounds(base, end)` would add.
    pub(crate) fn splits_needed(&self, base: PhysAddr, end: PhysAddr) -> usize {
        let crosses = |x: PhysAddr| self.search(x).is_some_and(|i| self.regions[i].base < x);
        usize::from(crosses(base)) + usize::from(crosses(end))
    }

    fn split_at(&mut self, x: PhysAddr) {
        if let Some(i) = self.search(x) {
            let r = self.regions[i];
            if r.base < x {
                self.regions[i].size = x - r.base;
                self.regions.insert(i + 1, MemblockRegion { base: x, size: r.end() - x, ..r });
            }
        }
    }

    /// The splitting part of `memblock_isolate_range()`: afterwards no region
    /// crosses `base` or `end`; returns the index range of the regions inside
    /// `[base, end)`, or `(0, 0)` if there are none.
    pub(crate) fn split_at_bounds(&mut self, base: PhysAddr, end: PhysAddr) -> (usize, usize) {
        self.split_at(base);
        self.split_at(end);
        let start = self.regions.partition_point(|r| r.base < base);
        let stop = self.regions.partition_point(|r| r.end() <= end);
        if start < stop {
            (start, stop)
        } else {
            (0, 0)
        }
    }
}
