//! The range walks of memblock: `for_each_free_mem_range[_reverse]`,
//! `for_each_mem_range`, `for_each_reserved_mem_range`,
//! `for_each_mem_pfn_range`.

use super::{KernelVersion, Memblock, MemblockFlags, MemblockRegion, NUMA_NO_NODE, PHYS_ADDR_MAX};
use crate::units::{pfn_down, pfn_up, Pfn, PhysAddr};

/// A free (or plain memory) range `[start, end)` and the node it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FreeRange {
    /// First byte.
    pub start: PhysAddr,
    /// One past the last byte.
    pub end: PhysAddr,
    /// Node of the memory region the range comes from.
    pub nid: i32,
}

/// A pfn range `[start_pfn, end_pfn)` of one memory region.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PfnRange {
    /// `PFN_UP(base)`.
    pub start_pfn: Pfn,
    /// `PFN_DOWN(base + size)`.
    pub end_pfn: Pfn,
    /// The region's node.
    pub nid: i32,
}

impl Memblock {
    /// `should_skip_region()` for a region of `memory`.
    pub(crate) fn should_skip_region(&self, m: &MemblockRegion, nid: i32, flags: MemblockFlags) -> bool {
        if nid != NUMA_NO_NODE && nid != m.nid {
            return true;
        }
        if self.movable_node && m.flags.contains(MemblockFlags::HOTPLUG) && !flags.contains(MemblockFlags::HOTPLUG) {
            return true;
        }
        if flags.contains(MemblockFlags::MIRROR) && !m.flags.contains(MemblockFlags::MIRROR) {
            return true;
        }
        if !flags.contains(MemblockFlags::NOMAP) && m.flags.contains(MemblockFlags::NOMAP) {
            return true;
        }
        if self.version == KernelVersion::V6_1
            && !flags.contains(MemblockFlags::DRIVER_MANAGED)
            && m.flags.contains(MemblockFlags::DRIVER_MANAGED)
        {
            return true;
        }
        false
    }

    /// The kernel accepts `MAX_NUMNODES` as a (deprecated) synonym of
    /// `NUMA_NO_NODE` in the range walks.
    fn walk_nid(&self, nid: i32) -> i32 {
        if nid == self.max_numnodes {
            NUMA_NO_NODE
        } else {
            nid
        }
    }

    /// `for_each_free_mem_range(nid, flags)`: memory (regions of node `nid`,
    /// or all with `NUMA_NO_NODE`, filtered by `flags` like the kernel's
    /// `should_skip_region()`) minus reserved memory, ascending.
    pub fn free_mem_ranges(&self, nid: i32, flags: MemblockFlags) -> Vec<FreeRange> {
        let nid = self.walk_nid(nid);
        let reserved = &self.reserved.regions;
        let mut out = Vec::new();
        // Gap `b` of `reserved` is the hole before reserved region `b`
        // (gap `len` runs to the top of the address space).
        let gap = |b: usize| -> (PhysAddr, PhysAddr) {
            let start = if b == 0 { 0 } else { reserved[b - 1].end() };
            let end = reserved.get(b).map_or(PHYS_ADDR_MAX, |r| r.base);
            (start, end)
        };
        let mut b = 0;
        for m in &self.memory.regions {
            if self.should_skip_region(m, nid, flags) {
                continue;
            }
            // Gaps that end before `m` can never meet it or a later region.
            while b < reserved.len() && gap(b).1 <= m.base {
                b += 1;
            }
            let mut k = b;
            while k <= reserved.len() {
                let (r_start, r_end) = gap(k);
                if r_start >= m.end() {
                    break;
                }
                if m.base < r_end {
                    out.push(FreeRange { start: m.base.max(r_start), end: m.end().min(r_end), nid: m.nid });
                }
                k += 1;
            }
        }
        out
    }

    /// One step of `for_each_free_mem_range` that may be resumed after
    /// memblock changed (`__next_mem_range` with its `(idx_a, idx_b)`
    /// cursor): the next free range at or after `cursor` and the cursor
    /// to resume from, or `None` at the end. Code that reserves memory
    /// inside the loop, as memtest does, sees what the kernel's loop
    /// sees: a reservation in the middle of the range just returned shifts
    /// the reserved indices, so the rest of that range comes again.
    pub fn next_free_range(&self, cursor: (usize, usize), nid: i32, flags: MemblockFlags) -> Option<(FreeRange, (usize, usize))> {
        let nid = self.walk_nid(nid);
        let reserved = &self.reserved.regions;
        let (mut a, mut b) = cursor;
        while a < self.memory.regions.len() {
            let m = &self.memory.regions[a];
            if self.should_skip_region(m, nid, flags) {
                a += 1;
                continue;
            }
            while b <= reserved.len() {
                let r_start = if b == 0 { 0 } else { reserved[b - 1].end() };
                let r_end = reserved.get(b).map_or(PHYS_ADDR_MAX, |r| r.base);
                if r_start >= m.end() {
                    break;
                }
                if m.base < r_end {
                    let range = FreeRange { start: m.base.max(r_start), end: m.end().min(r_end), nid: m.nid };
                    // the region that ends first moves on
                    let next = if m.end() <= r_end { (a + 1, b) } else { (a, b + 1) };
                    return Some((range, next));
                }
                b += 1;
            }
            a += 1;
        }
        None
    }

    /// `for_each_free_mem_range_reverse(nid, flags)`: the same ranges as
    /// [`Memblock::free_mem_ranges`], descending.
    pub fn free_mem_ranges_reverse(&self, nid: i32, flags: MemblockFlags) -> Vec<FreeRange> {
        let mut v = self.free_mem_ranges(nid, flags);
        v.reverse();
        v
    }

    /// `for_each_mem_range()`: the memory regions the kernel walks there:
    /// hotpluggable memory included, NOMAP memory skipped; driver-managed
    /// memory (6.1) included.
    pub fn mem_ranges(&self) -> Vec<FreeRange> {
        let flags = match self.version {
            KernelVersion::V5_14 => MemblockFlags::HOTPLUG,
            KernelVersion::V6_1 => MemblockFlags::HOTPLUG | MemblockFlags::DRIVER_MANAGED,
        };
        self.memory
            .regions
            .iter()
            .filter(|m| !self.should_skip_region(m, NUMA_NO_NODE, flags))
            .map(|m| FreeRange { start: m.base, end: m.end(), nid: m.nid })
            .collect()
    }

    /// `for_each_reserved_mem_range()`: every reserved region.
    pub fn reserved_ranges(&self) -> Vec<FreeRange> {
        self.reserved.regions.iter().map(|r| FreeRange { start: r.base, end: r.end(), nid: r.nid }).collect()
    }

    /// `for_each_mem_pfn_range(nid)`: the whole pages of each memory region of
    /// node `nid` (`MAX_NUMNODES` for every node), skipping regions holding
    /// no whole page. As in the kernel, `NUMA_NO_NODE` is *not* a wildcard
    /// here: it matches regions whose nid is -1.
    pub fn mem_pfn_ranges(&self, nid: i32) -> Vec<PfnRange> {
        self.memory
            .regions
            .iter()
            .filter(|r| pfn_up(r.base) < pfn_down(r.end()))
            .filter(|r| nid == self.max_numnodes || nid == r.nid)
            .map(|r| PfnRange { start_pfn: pfn_up(r.base), end_pfn: pfn_down(r.end()), nid: r.nid })
            .collect()
    }
}
