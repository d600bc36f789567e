//! Allocation: `memblock_find_in_range_node()`, `memblock_alloc_range_nid()`,
//! `memblock_alloc_internal()` and the public wrappers built on them.
//!
//! Every allocator returns the *physical* address of the block it reserved.
//! Failures are [`MmError::OutOfMemory`] (the kernel returns 0 / NULL).
//! Alignment 0 means `SMP_CACHE_BYTES`, as in the kernel (which also dumps
//! the stack there; we do not print anything for it). A zero size, or an
//! alignment that is not a power of two, is [`MmError::InvalidArgument`].

use super::{
    validate_align, Memblock, MemblockFlags, MEMBLOCK_ALLOC_ACCESSIBLE, MEMBLOCK_ALLOC_NOLEAKTRACE, MEMBLOCK_LOW_LIMIT,
    NUMA_NO_NODE,
};
use crate::error::{MmError, Result};
use crate::units::{PhysAddr, PAGE_SIZE};

fn round_down(x: u64, align: u64) -> u64 {
    x & !(align - 1)
}

impl Memblock {
    /// `choose_memblock_flags()`.
    fn choose_memblock_flags(&self) -> MemblockFlags {
        if self.system_has_some_mirror {
            MemblockFlags::MIRROR
        } else {
            MemblockFlags::NONE
        }
    }

    /// The search of `memblock_find_in_range_node()`; `align` must be a
    /// power of two.
    pub(crate) fn find_node(
        &self,
        size: u64,
        align: u64,
        start: PhysAddr,
        end: PhysAddr,
        nid: i32,
        flags: MemblockFlags,
    ) -> Option<PhysAddr> {
        let end = if end == MEMBLOCK_ALLOC_ACCESSIBLE || end == MEMBLOCK_ALLOC_NOLEAKTRACE {
            self.current_limit
        } else {
            end
        };
        // Never hand out the first page.
        let start = start.max(PAGE_SIZE);
        let end = end.max(start);
        if self.bottom_up {
            for r in self.free_mem_ranges(nid, flags) {
                let this_start = r.start.clamp(start, end);
                let this_end = r.end.clamp(start, end);
                let Some(cand) = this_start.checked_next_multiple_of(align) else {
                    continue;
                };
                if cand < this_end && this_end - cand >= size {
                    return Some(cand);
                }
            }
        } else {
            for r in self.free_mem_ranges_reverse(nid, flags) {
                let this_start = r.start.clamp(start, end);
                let this_end = r.end.clamp(start, end);
                if this_end < size {
                    continue;
                }
                let cand = round_down(this_end - size, align);
                if cand >= this_start {
                    return Some(cand);
                }
            }
        }
        None
    }

    /// `memblock_find_in_range_node()`: find (without reserving) `size`
    /// free bytes aligned to `align` in `[start, end)` on node `nid`
    /// (`NUMA_NO_NODE`: any), from memory matching `flags`. `end` may be
    /// `MEMBLOCK_ALLOC_ANYWHERE` or `MEMBLOCK_ALLOC_ACCESSIBLE`; `start` is
    /// raised to `PAGE_SIZE`. Searches top-down unless
    /// [`Memblock::bottom_up`].
    pub fn find_in_range_node(
        &self,
        size: u64,
        align: u64,
        start: PhysAddr,
        end: PhysAddr,
        nid: i32,
        flags: MemblockFlags,
    ) -> Result<PhysAddr> {
        if size == 0 {
            return Err(MmError::invalid("size", "must not be 0"));
        }
        if !align.is_power_of_two() {
            return Err(MmError::invalid("align", format!("{align:#x} is not a power of two")));
        }
        self.find_node(size, align, start, end, nid, flags).ok_or_else(|| MmError::OutOfMemory {
            request: format!("{size} bytes align={align:#x} nid={nid} in [{start:#x}, {end:#x})"),
        })
    }

    /// `memblock_find_in_range()`: any node, mirrored memory first if the
    /// system has some. Finds without reserving (and without a
    /// `memblock=debug` line); 5.14's x86 boot code uses it directly.
    pub fn find_in_range(&mut self, start: PhysAddr, end: PhysAddr, size: u64, align: u64) -> Option<PhysAddr> {
        let mut flags = self.choose_memblock_flags();
        loop {
            let found = self.find_node(size, align, start, end, NUMA_NO_NODE, flags);
            if found.is_none() && flags.contains(MemblockFlags::MIRROR) {
                self.warn_mirror(size);
                flags = flags.without(MemblockFlags::MIRROR);
                continue;
            }
            return found;
        }
    }

    fn warn_mirror(&mut self, size: u64) {
        self.pr_warn(format!("Could not allocate {} bytes of mirrored memory", super::debug::pa(size)));
    }

    fn check_alloc_args(&self, size: u64, align: u64, nid: i32) -> Result<()> {
        if size == 0 {
            return Err(MmError::invalid("size", "a memblock allocation needs a non-zero size"));
        }
        validate_align(align)?;
        if nid < NUMA_NO_NODE || nid > self.max_numnodes {
            return Err(MmError::NoSuchNode { nid });
        }
        Ok(())
    }

    /// Try to reserve a found block (a failed reservation changes nothing).
    fn try_reserve_found(&mut self, found: Option<PhysAddr>, size: u64) -> Option<PhysAddr> {
        let found = found?;
        self.reserve_inner(found, size, "memblock_alloc_range_nid").ok()?;
        Some(found)
    }

    /// The body of `memblock_alloc_range_nid()` (arguments already checked).
    fn alloc_range_nid_inner(
        &mut self,
        size: u64,
        align: u64,
        start: PhysAddr,
        end: PhysAddr,
        nid: i32,
        exact_nid: bool,
    ) -> Option<PhysAddr> {
        let mut flags = self.choose_memblock_flags();
        // MAX_NUMNODES is a deprecated spelling of NUMA_NO_NODE here.
        let nid = if nid == self.max_numnodes { NUMA_NO_NODE } else { nid };
        let align = if align == 0 { self.smp_cache_bytes } else { align };
        loop {
            let found = self.find_node(size, align, start, end, nid, flags);
            if let Some(addr) = self.try_reserve_found(found, size) {
                return Some(addr);
            }
            if nid != NUMA_NO_NODE && !exact_nid {
                let found = self.find_node(size, align, start, end, NUMA_NO_NODE, flags);
                if let Some(addr) = self.try_reserve_found(found, size) {
                    return Some(addr);
                }
            }
            if flags.contains(MemblockFlags::MIRROR) {
                flags = flags.without(MemblockFlags::MIRROR);
                self.warn_mirror(size);
                continue;
            }
            return None;
        }
    }

    /// `memblock_alloc_range_nid()`: find and reserve `size` bytes aligned to
    /// `align` in `[start, end)` on node `nid`; unless `exact_nid`, fall back
    /// to any node; with mirrored memory present, fall back from mirrored to
    /// any memory. Returns the physical address.
    pub fn alloc_range_nid(
        &mut self,
        size: u64,
        align: u64,
        start: PhysAddr,
        end: PhysAddr,
        nid: i32,
        exact_nid: bool,
    ) -> Result<PhysAddr> {
        self.check_alloc_args(size, align, nid)?;
        self.alloc_range_nid_inner(size, align, start, end, nid, exact_nid)
            .ok_or_else(|| oom("memblock_alloc_range_nid", size, align, nid, start, end))
    }

    /// `memblock_phys_alloc_range()`: allocate in `[start, end)` from any node.
    pub fn phys_alloc_range(
        &mut self,
        size: u64,
        align: u64,
        start: PhysAddr,
        end: PhysAddr,
        caller: &str,
    ) -> Result<PhysAddr> {
        self.check_alloc_args(size, align, NUMA_NO_NODE)?;
        self.dbg(format!(
            "memblock_phys_alloc_range: {size} bytes align={align:#x} from={} max_addr={} {caller}",
            super::debug::pa(start),
            super::debug::pa(end)
        ));
        self.alloc_range_nid_inner(size, align, start, end, NUMA_NO_NODE, false)
            .ok_or_else(|| oom("memblock_phys_alloc_range", size, align, NUMA_NO_NODE, start, end))
    }

    /// `memblock_phys_alloc()`: anywhere below `current_limit`.
    pub fn phys_alloc(&mut self, size: u64, align: u64, caller: &str) -> Result<PhysAddr> {
        self.phys_alloc_range(size, align, 0, MEMBLOCK_ALLOC_ACCESSIBLE, caller)
    }

    /// `memblock_phys_alloc_try_nid()`: below `current_limit`, node `nid`
    /// first, then any node.
    pub fn phys_alloc_try_nid(&mut self, size: u64, align: u64, nid: i32) -> Result<PhysAddr> {
        self.alloc_range_nid(size, align, 0, MEMBLOCK_ALLOC_ACCESSIBLE, nid, false)
    }

    /// `memblock_alloc_internal()`: cap `max_addr` at `current_limit`, and if
    /// nothing fits above `min_addr`, retry from 0.
    #[allow(clippy::too_many_arguments)]
    fn alloc_internal(
        &mut self,
        func: &'static str,
        size: u64,
        align: u64,
        min_addr: PhysAddr,
        max_addr: PhysAddr,
        nid: i32,
        exact_nid: bool,
        caller: &str,
    ) -> Result<PhysAddr> {
        self.check_alloc_args(size, align, nid)?;
        self.dbg(format!(
            "{func}: {size} bytes align={align:#x} nid={nid} from={} max_addr={} {caller}",
            super::debug::pa(min_addr),
            super::debug::pa(max_addr)
        ));
        let max = max_addr.min(self.current_limit);
        let mut found = self.alloc_range_nid_inner(size, align, min_addr, max, nid, exact_nid);
        if found.is_none() && min_addr != 0 {
            found = self.alloc_range_nid_inner(size, align, 0, max, nid, exact_nid);
        }
        found.ok_or_else(|| oom(func, size, align, nid, min_addr, max_addr))
    }

    /// `memblock_alloc_try_nid()`: `size` bytes in `[min_addr, max_addr)`
    /// (`max_addr` may be `MEMBLOCK_ALLOC_ACCESSIBLE`), preferring node
    /// `nid`; the lower bound is dropped if nothing fits above it. (The
    /// kernel also zeroes the block; there is no content to zero here.)
    pub fn alloc_try_nid(
        &mut self,
        size: u64,
        align: u64,
        min_addr: PhysAddr,
        max_addr: PhysAddr,
        nid: i32,
        caller: &str,
    ) -> Result<PhysAddr> {
        self.alloc_internal("memblock_alloc_try_nid", size, align, min_addr, max_addr, nid, false, caller)
    }

    /// `memblock_alloc_try_nid_raw()`: as [`Memblock::alloc_try_nid`] without
    /// zeroing.
    pub fn alloc_try_nid_raw(
        &mut self,
        size: u64,
        align: u64,
        min_addr: PhysAddr,
        max_addr: PhysAddr,
        nid: i32,
        caller: &str,
    ) -> Result<PhysAddr> {
        self.alloc_internal("memblock_alloc_try_nid_raw", size, align, min_addr, max_addr, nid, false, caller)
    }

    /// `memblock_alloc_exact_nid_raw()`: like
    /// [`Memblock::alloc_try_nid_raw`] but never from another node.
    pub fn alloc_exact_nid_raw(
        &mut self,
        size: u64,
        align: u64,
        min_addr: PhysAddr,
        max_addr: PhysAddr,
        nid: i32,
        caller: &str,
    ) -> Result<PhysAddr> {
        self.alloc_internal("memblock_alloc_exact_nid_raw", size, align, min_addr, max_addr, nid, true, caller)
    }

    /// `memblock_alloc()`: anywhere below `current_limit`, any node.
    pub fn alloc(&mut self, size: u64, align: u64, caller: &str) -> Result<PhysAddr> {
        self.alloc_try_nid(size, align, MEMBLOCK_LOW_LIMIT, MEMBLOCK_ALLOC_ACCESSIBLE, NUMA_NO_NODE, caller)
    }

    /// `memblock_alloc_raw()`.
    pub fn alloc_raw(&mut self, size: u64, align: u64, caller: &str) -> Result<PhysAddr> {
        self.alloc_try_nid_raw(size, align, MEMBLOCK_LOW_LIMIT, MEMBLOCK_ALLOC_ACCESSIBLE, NUMA_NO_NODE, caller)
    }

    /// `memblock_alloc_from()`: at or above `min_addr` if possible.
    pub fn alloc_from(&mut self, size: u64, align: u64, min_addr: PhysAddr, caller: &str) -> Result<PhysAddr> {
        self.alloc_try_nid(size, align, min_addr, MEMBLOCK_ALLOC_ACCESSIBLE, NUMA_NO_NODE, caller)
    }

    /// `memblock_alloc_low()`: below `ARCH_LOW_ADDRESS_LIMIT`.
    pub fn alloc_low(&mut self, size: u64, align: u64, caller: &str) -> Result<PhysAddr> {
        let limit = self.arch_low_address_limit;
        self.alloc_try_nid(size, align, MEMBLOCK_LOW_LIMIT, limit, NUMA_NO_NODE, caller)
    }

    /// `memblock_alloc_node()`: preferring node `nid`.
    pub fn alloc_node(&mut self, size: u64, align: u64, nid: i32, caller: &str) -> Result<PhysAddr> {
        self.alloc_try_nid(size, align, MEMBLOCK_LOW_LIMIT, MEMBLOCK_ALLOC_ACCESSIBLE, nid, caller)
    }
}

fn oom(func: &str, size: u64, align: u64, nid: i32, from: PhysAddr, max_addr: PhysAddr) -> MmError {
    MmError::OutOfMemory {
        request: format!("{func}: {size} bytes align={align:#x} nid={nid} from={from:#x} max_addr={max_addr:#x}"),
    }
}
