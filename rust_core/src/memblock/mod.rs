//! memblock: the boot-time memory allocator (mm/memblock.c).
//!
//! A [`Memblock`] holds two [`MemblockType`]s: `memory` (the physical memory
//! the firmware reported) and `reserved` (everything handed out or set
//! aside). Both keep their [`MemblockRegion`]s sorted by base, disjoint and
//! minimal: neighbours that touch and have the same node and flags are always
//! merged, exactly as `memblock_add_range()` + `memblock_merge_regions()` do.
//! Free memory is never stored; it is *computed* as `memory` minus `reserved`
//! ([`Memblock::free_mem_ranges`]).
//!
//! Semantics follow Linux 5.14 by default and 6.1 with
//! [`KernelVersion::V6_1`]; the differences modelled are listed on
//! [`KernelVersion`].
//!
//! # Fidelity notes
//! * An empty type is shown the kernel's way: `cnt` is 1 and the dump shows a
//!   single zero-sized region ([`MemblockType::cnt`], [`Memblock::dump_lines`]);
//!   [`MemblockType::regions`] itself only holds real regions.
//! * The region arrays start with `INIT_MEMBLOCK_REGIONS` (128) slots and are
//!   doubled on demand. How a doubling behaves is chosen by [`ArrayGrowth`];
//!   by default it is simulated like the kernel after
//!   `memblock_allow_resize()`: the new array is carved out of free memory and
//!   reserved. On top of that a hard cap ([`Memblock::max_regions`]) bounds
//!   the number of regions; going past it is [`MmError::CapacityExceeded`].
//! * Every public operation is atomic: when it returns `Err`, the region
//!   tables are exactly as before (messages already logged stay logged, as
//!   the kernel would have printed them).
//! * The kernel's `memblock_alloc*()` return virtual addresses; ours return
//!   the physical address of the block.
//! * Arguments the kernel would silently misuse are rejected with
//!   [`MmError::InvalidArgument`]: an alignment that is not a power of two,
//!   a zero-sized allocation, unknown flag bits, node ids outside
//!   `NUMA_NO_NODE..=MAX_NUMNODES` ([`MmError::NoSuchNode`]). A zero-sized
//!   add/reserve/remove/free is a no-op, as in the kernel, and sizes running
//!   past `PHYS_ADDR_MAX` are capped the kernel's way.
//! * Alignment 0 in an allocation means `SMP_CACHE_BYTES`; the kernel also
//!   dumps the stack there, which is not simulated.
//!
//! # Tracing
//! Operations the kernel traces with `memblock_dbg()` take a `caller` string
//! standing for the kernel's `%pS` of the return address; with
//! [`Memblock::set_debug`] on they append the kernel's line to
//! [`Memblock::log`]. Warnings and errors the kernel prints unconditionally
//! (mirror fallback, failed array doubling) are always logged.
//! [`Memblock::memblock_dump_all`] appends the `__memblock_dump_all()` table.

mod alloc;
mod debug;
mod iter;
mod region;

#[cfg(test)]
mod tests;

pub use iter::{FreeRange, PfnRange};
pub use region::{MemblockFlags, MemblockRegion, MemblockType};

use crate::error::{MmError, Result};
use crate::units::{PhysAddr, PAGE_SIZE};

/// `PHYS_ADDR_MAX`: the largest physical address (`~(phys_addr_t)0`).
pub const PHYS_ADDR_MAX: PhysAddr = u64::MAX;
/// `NUMA_NO_NODE`: "any node" in node selectors.
pub const NUMA_NO_NODE: i32 = -1;
/// `MEMBLOCK_ALLOC_ANYWHERE`: an allocation upper bound meaning "no limit";
/// also the initial `current_limit`.
pub const MEMBLOCK_ALLOC_ANYWHERE: PhysAddr = PHYS_ADDR_MAX;
/// `MEMBLOCK_ALLOC_ACCESSIBLE`: an allocation upper bound meaning "up to
/// `current_limit`".
pub const MEMBLOCK_ALLOC_ACCESSIBLE: PhysAddr = 0;
/// `MEMBLOCK_ALLOC_NOLEAKTRACE` (6.1; `MEMBLOCK_ALLOC_KASAN` in 5.14): like
/// [`MEMBLOCK_ALLOC_ACCESSIBLE`] for the search.
pub const MEMBLOCK_ALLOC_NOLEAKTRACE: PhysAddr = 1;
/// `MEMBLOCK_LOW_LIMIT`: the default lower bound of allocations.
pub const MEMBLOCK_LOW_LIMIT: PhysAddr = 0;
/// `INIT_MEMBLOCK_REGIONS`: initial number of slots of each region array.
pub const INIT_MEMBLOCK_REGIONS: usize = 128;
/// `sizeof(struct memblock_region)` on a 64-bit NUMA kernel (base, size,
/// flags, nid): what a doubled array costs in memory.
pub const MEMBLOCK_REGION_STRUCT_SIZE: u64 = 24;
/// Default `MAX_NUMNODES` (x86-64, `CONFIG_NODES_SHIFT=6`).
pub const DEFAULT_MAX_NUMNODES: i32 = 64;
/// Default `ARCH_LOW_ADDRESS_LIMIT` (the generic `0xffffffff`).
pub const DEFAULT_ARCH_LOW_ADDRESS_LIMIT: PhysAddr = 0xffff_ffff;
/// Default `SMP_CACHE_BYTES` (x86-64 `L1_CACHE_BYTES`).
pub const DEFAULT_SMP_CACHE_BYTES: u64 = 64;
/// Default hard cap on the number of regions in one type.
pub const DEFAULT_MAX_REGIONS: usize = 1 << 16;

/// The kernel whose memblock is simulated.
///
/// Differences modelled between the two:
/// * the function that drops a reservation is `memblock_free` in 5.14 and
///   `memblock_phys_free` in 6.1 (it shows in the debug trace);
/// * `memblock_add_node` takes flags only from 5.16 on (6.1 logs them,
///   5.14 rejects anything but [`MemblockFlags::NONE`]);
/// * `MEMBLOCK_DRIVER_MANAGED` exists only from 5.16 on;
/// * from 6.0 on `memblock_mark_mirror` does nothing unless
///   `kernelcore=mirror` ([`Memblock::mirrored_kernelcore`]);
/// * `for_each_mem_range` also walks driver-managed memory in 6.1.
pub use crate::version::KernelVersion;

/// What happens when a region array is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ArrayGrowth {
    /// The kernel before `memblock_allow_resize()`: a full array is an error.
    Fixed,
    /// The kernel after `memblock_allow_resize()`: the array doubles, the new
    /// array is found with `memblock_find_in_range()` and reserved, the old
    /// one (unless it was the static initial one) is freed.
    #[default]
    Simulated,
    /// The array doubles without taking memory from the simulated machine.
    Unaccounted,
}

/// Selects one of the two region tables of a [`Memblock`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MemblockTypeKind {
    /// `memblock.memory`.
    Memory,
    /// `memblock.reserved`.
    Reserved,
}

/// `struct memblock` plus the globals of mm/memblock.c that steer it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Memblock {
    /// `memblock.memory`.
    pub(crate) memory: MemblockType,
    /// `memblock.reserved`.
    pub(crate) reserved: MemblockType,
    /// `memblock.bottom_up`: allocate from low addresses up.
    pub(crate) bottom_up: bool,
    /// `memblock.current_limit`: upper bound of `MEMBLOCK_ALLOC_ACCESSIBLE`.
    pub(crate) current_limit: PhysAddr,
    /// `memblock_debug` (`memblock=debug`).
    pub(crate) debug: bool,
    pub(crate) version: KernelVersion,
    /// `system_has_some_mirror`.
    pub(crate) system_has_some_mirror: bool,
    /// `mirrored_kernelcore` (`kernelcore=mirror`), consulted by 6.1.
    pub(crate) mirrored_kernelcore: bool,
    /// `movable_node_is_enabled()`.
    pub(crate) movable_node: bool,
    pub(crate) growth: ArrayGrowth,
    pub(crate) max_regions: usize,
    pub(crate) max_numnodes: i32,
    pub(crate) arch_low_address_limit: PhysAddr,
    pub(crate) smp_cache_bytes: u64,
    pub(crate) log: Vec<String>,
}

impl Default for Memblock {
    fn default() -> Self {
        Self::new()
    }
}

/// `memblock_cap_size`: shrink `size` so that `base + size` does not
/// overflow; returns the exclusive end.
#[inline]
pub(crate) fn cap_end(base: PhysAddr, size: u64) -> PhysAddr {
    base + size.min(PHYS_ADDR_MAX - base)
}

pub(crate) fn validate_align(align: u64) -> Result<()> {
    if align != 0 && !align.is_power_of_two() {
        return Err(MmError::invalid("align", format!("{align:#x} is not a power of two")));
    }
    Ok(())
}

impl Memblock {
    /// A memblock as the kernel starts with it (Linux 5.14 rules): both types
    /// empty, top-down, `current_limit == MEMBLOCK_ALLOC_ANYWHERE`.
    pub fn new() -> Self {
        Self::with_version(KernelVersion::default())
    }

    /// Like [`Memblock::new`] with the rules of `version`.
    pub fn with_version(version: KernelVersion) -> Self {
        Memblock {
            memory: MemblockType::new("memory"),
            reserved: MemblockType::new("reserved"),
            bottom_up: false,
            current_limit: MEMBLOCK_ALLOC_ANYWHERE,
            debug: false,
            version,
            system_has_some_mirror: false,
            mirrored_kernelcore: false,
            movable_node: false,
            growth: ArrayGrowth::default(),
            max_regions: DEFAULT_MAX_REGIONS,
            max_numnodes: DEFAULT_MAX_NUMNODES,
            arch_low_address_limit: DEFAULT_ARCH_LOW_ADDRESS_LIMIT,
            smp_cache_bytes: DEFAULT_SMP_CACHE_BYTES,
            log: Vec::new(),
        }
    }

    // ----------------------------------------------------------------
    // Configuration and accessors
    // ----------------------------------------------------------------

    /// The simulated kernel version.
    pub fn version(&self) -> KernelVersion {
        self.version
    }
    /// `memblock.memory`.
    pub fn memory(&self) -> &MemblockType {
        &self.memory
    }
    /// `memblock.reserved`.
    pub fn reserved(&self) -> &MemblockType {
        &self.reserved
    }
    /// One of the two types.
    pub fn region_type(&self, kind: MemblockTypeKind) -> &MemblockType {
        match kind {
            MemblockTypeKind::Memory => &self.memory,
            MemblockTypeKind::Reserved => &self.reserved,
        }
    }
    pub(crate) fn type_mut(&mut self, kind: MemblockTypeKind) -> &mut MemblockType {
        match kind {
            MemblockTypeKind::Memory => &mut self.memory,
            MemblockTypeKind::Reserved => &mut self.reserved,
        }
    }
    /// `memblock_bottom_up()`.
    pub fn bottom_up(&self) -> bool {
        self.bottom_up
    }
    /// `memblock_set_bottom_up()`.
    pub fn set_bottom_up(&mut self, enable: bool) {
        self.bottom_up = enable;
    }
    /// `memblock_get_current_limit()`.
    pub fn current_limit(&self) -> PhysAddr {
        self.current_limit
    }
    /// `memblock_set_current_limit()`.
    pub fn set_current_limit(&mut self, limit: PhysAddr) {
        self.current_limit = limit;
    }
    /// Whether `memblock=debug` is on.
    pub fn debug(&self) -> bool {
        self.debug
    }
    /// Turn the debug trace (`memblock=debug`) on or off.
    pub fn set_debug(&mut self, on: bool) {
        self.debug = on;
    }
    /// `memblock_allow_resize()`: let full arrays double (simulated).
    pub fn allow_resize(&mut self) {
        self.growth = ArrayGrowth::Simulated;
    }
    /// How full region arrays grow.
    pub fn array_growth(&self) -> ArrayGrowth {
        self.growth
    }
    /// Choose how full region arrays grow.
    pub fn set_array_growth(&mut self, growth: ArrayGrowth) {
        self.growth = growth;
    }
    /// Hard cap on the number of regions of one type.
    pub fn max_regions(&self) -> usize {
        self.max_regions
    }
    /// Set the hard cap on the number of regions of one type (at least 1).
    pub fn set_max_regions(&mut self, cap: usize) -> Result<()> {
        if cap == 0 {
            return Err(MmError::invalid("max_regions", "must be at least 1"));
        }
        self.max_regions = cap;
        Ok(())
    }
    /// `MAX_NUMNODES`: the nid of regions added without a node.
    pub fn max_numnodes(&self) -> i32 {
        self.max_numnodes
    }
    /// Set `MAX_NUMNODES` (1..=1024, a power of two as in the kernel).
    pub fn set_max_numnodes(&mut self, n: i32) -> Result<()> {
        if !(1..=1024).contains(&n) || !(n as u32).is_power_of_two() {
            return Err(MmError::invalid("max_numnodes", format!("{n} is not a power of two in 1..=1024")));
        }
        self.max_numnodes = n;
        Ok(())
    }
    /// `ARCH_LOW_ADDRESS_LIMIT`, the upper bound of [`Memblock::alloc_low`].
    pub fn arch_low_address_limit(&self) -> PhysAddr {
        self.arch_low_address_limit
    }
    /// Set `ARCH_LOW_ADDRESS_LIMIT`.
    pub fn set_arch_low_address_limit(&mut self, limit: PhysAddr) {
        self.arch_low_address_limit = limit;
    }
    /// `SMP_CACHE_BYTES`, used when an allocation asks for alignment 0.
    pub fn smp_cache_bytes(&self) -> u64 {
        self.smp_cache_bytes
    }
    /// Set `SMP_CACHE_BYTES` (a power of two).
    pub fn set_smp_cache_bytes(&mut self, bytes: u64) -> Result<()> {
        if !bytes.is_power_of_two() {
            return Err(MmError::invalid("smp_cache_bytes", format!("{bytes:#x} is not a power of two")));
        }
        self.smp_cache_bytes = bytes;
        Ok(())
    }
    /// `movable_node_is_enabled()`: hotpluggable memory is skipped by
    /// allocations.
    pub fn movable_node(&self) -> bool {
        self.movable_node
    }
    /// Set the `movable_node` command-line switch.
    pub fn set_movable_node(&mut self, on: bool) {
        self.movable_node = on;
    }
    /// `mirrored_kernelcore` (`kernelcore=mirror`).
    pub fn mirrored_kernelcore(&self) -> bool {
        self.mirrored_kernelcore
    }
    /// Set `mirrored_kernelcore` (`kernelcore=mirror`).
    pub fn set_mirrored_kernelcore(&mut self, on: bool) {
        self.mirrored_kernelcore = on;
    }
    /// `system_has_some_mirror`: some memory was marked mirrored, so
    /// allocations prefer mirrored memory first.
    pub fn system_has_some_mirror(&self) -> bool {
        self.system_has_some_mirror
    }

    /// `memblock_phys_mem_size()`.
    pub fn phys_mem_size(&self) -> u64 {
        self.memory.total_size
    }
    /// `memblock_reserved_size()`.
    pub fn reserved_size(&self) -> u64 {
        self.reserved.total_size
    }
    /// `memblock_start_of_DRAM()` (0 when there is no memory).
    pub fn start_of_dram(&self) -> PhysAddr {
        self.memory.regions.first().map_or(0, |r| r.base)
    }
    /// `memblock_end_of_DRAM()` (0 when there is no memory).
    pub fn end_of_dram(&self) -> PhysAddr {
        self.memory.regions.last().map_or(0, |r| r.end())
    }

    // ----------------------------------------------------------------
    // Argument checks
    // ----------------------------------------------------------------

    fn check_nid(&self, nid: i32) -> Result<()> {
        if nid < NUMA_NO_NODE || nid > self.max_numnodes {
            return Err(MmError::NoSuchNode { nid });
        }
        Ok(())
    }

    fn check_flags(&self, flags: MemblockFlags) -> Result<()> {
        let known = match self.version {
            KernelVersion::V5_14 => MemblockFlags::HOTPLUG | MemblockFlags::MIRROR | MemblockFlags::NOMAP,
            KernelVersion::V6_1 => MemblockFlags::ALL,
        };
        if flags.bits() & !known.bits() != 0 {
            return Err(MmError::invalid(
                "flags",
                format!("{:#x} has bits unknown to {:?}", flags.bits(), self.version),
            ));
        }
        Ok(())
    }

    /// Run `f`; if it fails, put both region tables back as they were. Only
    /// needed by operations made of several fallible steps: the primitives
    /// (`add_range`, `isolate_inner` and what is built on them alone) leave
    /// everything untouched when they fail.
    fn atomically<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        let memory = self.memory.clone();
        let reserved = self.reserved.clone();
        let mirror = self.system_has_some_mirror;
        let res = f(self);
        if res.is_err() {
            self.memory = memory;
            self.reserved = reserved;
            self.system_has_some_mirror = mirror;
        }
        res
    }

    // ----------------------------------------------------------------
    // Region table primitives
    // ----------------------------------------------------------------

    /// Make sure the array of `kind` has `extra` free slots, doubling it (the
    /// kernel's `memblock_double_array()`) as often as needed. `new_area_*`
    /// is the range about to be added, which a new reserved array must not
    /// overlap.
    fn ensure_room(
        &mut self,
        kind: MemblockTypeKind,
        extra: usize,
        new_area_start: PhysAddr,
        new_area_size: u64,
    ) -> Result<()> {
        if self.region_type(kind).cnt() + extra <= self.region_type(kind).max {
            return Ok(());
        }
        // Doubling touches both tables; undo all of it if any step fails.
        self.atomically(|mb| {
            while mb.region_type(kind).cnt() + extra > mb.region_type(kind).max {
                mb.double_array(kind, new_area_start, new_area_size)?;
            }
            Ok(())
        })
    }

    /// `memblock_double_array()`.
    fn double_array(
        &mut self,
        kind: MemblockTypeKind,
        mut new_area_start: PhysAddr,
        mut new_area_size: u64,
    ) -> Result<()> {
        let t = self.region_type(kind);
        let (name, old_max) = (t.name, t.max);
        let table = t.table_name();
        match self.growth {
            ArrayGrowth::Fixed => {
                return Err(MmError::CapacityExceeded { table, capacity: old_max });
            }
            ArrayGrowth::Unaccounted => {
                let t = self.type_mut(kind);
                t.max = old_max.saturating_mul(2);
                return Ok(());
            }
            ArrayGrowth::Simulated => {}
        }
        let old_size = old_max as u64 * MEMBLOCK_REGION_STRUCT_SIZE;
        let new_size = old_size * 2;
        let old_alloc_size = page_align(old_size);
        let new_alloc_size = page_align(new_size);
        if kind != MemblockTypeKind::Reserved {
            new_area_start = 0;
            new_area_size = 0;
        }
        let limit = self.current_limit;
        let mut addr =
            self.find_in_range(new_area_start.saturating_add(new_area_size), limit, new_alloc_size, PAGE_SIZE);
        if addr.is_none() && new_area_size != 0 {
            addr = self.find_in_range(0, new_area_start.min(limit), new_alloc_size, PAGE_SIZE);
        }
        let Some(addr) = addr else {
            self.pr_err(format!("memblock: Failed to double {name} array from {old_max} to {} entries !", old_max * 2));
            return Err(MmError::OutOfMemory {
                request: format!("{new_alloc_size} bytes to double memblock.{name} to {} entries", old_max * 2),
            });
        };
        let new_end = addr.wrapping_add(new_size).wrapping_sub(1);
        self.dbg(format!(
            "memblock: {name} is doubled to {} at [{}-{}]",
            old_max * 2,
            debug::pa(addr),
            debug::pa(new_end)
        ));
        let old_array = {
            let t = self.type_mut(kind);
            t.max = old_max * 2;
            t.array_addr.replace(addr)
        };
        if let Some(old) = old_array {
            let caller = match self.version {
                KernelVersion::V5_14 => "memblock_double_array",
                KernelVersion::V6_1 => "memblock_free",
            };
            self.free_inner(old, old_alloc_size, caller)?;
        }
        self.reserve_inner(addr, new_alloc_size, "memblock_double_array")
    }

    /// `memblock_add_range()`: add `[base, base + size)` to `kind`; parts
    /// already covered keep their node and flags, only the holes are filled.
    pub(crate) fn add_range(
        &mut self,
        kind: MemblockTypeKind,
        base: PhysAddr,
        size: u64,
        nid: i32,
        flags: MemblockFlags,
    ) -> Result<()> {
        let end = cap_end(base, size);
        let size = end - base;
        if size == 0 {
            return Ok(());
        }
        if self.region_type(kind).regions.is_empty() {
            // The kernel fills the dummy entry in place.
            let t = self.type_mut(kind);
            t.regions.push(MemblockRegion { base, size, flags, nid });
            t.total_size = size;
            return Ok(());
        }
        loop {
            let t = self.region_type(kind);
            let holes = t.holes(base, end);
            if holes.is_empty() {
                return Ok(());
            }
            // The hard cap applies to the merged result; work it out on a
            // copy when the pieces alone could go past it.
            if t.regions.len() + holes.len() > self.max_regions
                && t.len_after_adding(&holes, nid, flags) > self.max_regions
            {
                return Err(MmError::CapacityExceeded { table: t.table_name(), capacity: self.max_regions });
            }
            if t.cnt() + holes.len() <= t.max {
                let t = self.type_mut(kind);
                for (hbase, hend) in holes {
                    t.insert_sorted(MemblockRegion { base: hbase, size: hend - hbase, flags, nid });
                }
                t.merge_regions();
                return Ok(());
            }
            // Like the kernel, make room for the unmerged pieces first.
            self.ensure_room(kind, holes.len(), base, size)?;
        }
    }

    /// `memblock_isolate_range()`: split the regions of `kind` that cross
    /// the boundaries of `[base, base + size)`. Returns the index range of
    /// the regions now lying inside it (`start_rgn..end_rgn`, `0..0` if none).
    /// The pieces are not merged back (the next merging operation does it).
    pub fn isolate_range(&mut self, kind: MemblockTypeKind, base: PhysAddr, size: u64) -> Result<(usize, usize)> {
        self.isolate_inner(kind, base, size)
    }

    pub(crate) fn isolate_inner(
        &mut self,
        kind: MemblockTypeKind,
        base: PhysAddr,
        size: u64,
    ) -> Result<(usize, usize)> {
        let end = cap_end(base, size);
        let size = end - base;
        if size == 0 {
            return Ok((0, 0));
        }
        // The kernel always makes room for two more regions first.
        let splits = self.region_type(kind).splits_needed(base, end);
        let t = self.region_type(kind);
        if t.regions.len() + splits > self.max_regions {
            return Err(MmError::CapacityExceeded { table: t.table_name(), capacity: self.max_regions });
        }
        while self.region_type(kind).cnt() + 2 > self.region_type(kind).max {
            self.double_array(kind, base, size)?;
        }
        Ok(self.type_mut(kind).split_at_bounds(base, end))
    }

    /// `memblock_remove_range()`.
    pub(crate) fn remove_range(&mut self, kind: MemblockTypeKind, base: PhysAddr, size: u64) -> Result<()> {
        let (start, end) = self.isolate_inner(kind, base, size)?;
        let empty_nid = self.max_numnodes;
        let t = self.type_mut(kind);
        for i in (start..end).rev() {
            t.remove_region(i, empty_nid);
        }
        Ok(())
    }

    // ----------------------------------------------------------------
    // Registration API
    // ----------------------------------------------------------------

    /// `memblock_add()`: register `[base, base + size)` as memory with no
    /// node (`nid = MAX_NUMNODES`). Sizes running past `PHYS_ADDR_MAX` are
    /// capped; a zero size does nothing.
    pub fn add(&mut self, base: PhysAddr, size: u64, caller: &str) -> Result<()> {
        self.dbg_range("memblock_add", base, size, None, caller);
        let nid = self.max_numnodes;
        self.add_range(MemblockTypeKind::Memory, base, size, nid, MemblockFlags::NONE)
    }

    /// `memblock_add_node()`: register memory on node `nid` with `flags`
    /// (flags need 6.1; with 5.14 only [`MemblockFlags::NONE`] is accepted).
    pub fn add_node(&mut self, base: PhysAddr, size: u64, nid: i32, flags: MemblockFlags, caller: &str) -> Result<()> {
        self.check_nid(nid)?;
        self.check_flags(flags)?;
        if self.version == KernelVersion::V5_14 && !flags.is_empty() {
            return Err(MmError::invalid("flags", "memblock_add_node() of Linux 5.14 takes no flags"));
        }
        self.dbg_range("memblock_add_node", base, size, Some((nid, flags)), caller);
        self.add_range(MemblockTypeKind::Memory, base, size, nid, flags)
    }

    /// `memblock_remove()`: forget `[base, base + size)` as memory.
    pub fn remove(&mut self, base: PhysAddr, size: u64, caller: &str) -> Result<()> {
        self.dbg_range("memblock_remove", base, size, None, caller);
        self.remove_range(MemblockTypeKind::Memory, base, size)
    }

    /// `memblock_reserve()`: mark `[base, base + size)` reserved
    /// (`nid = MAX_NUMNODES`, no flags).
    pub fn reserve(&mut self, base: PhysAddr, size: u64, caller: &str) -> Result<()> {
        self.dbg_range("memblock_reserve", base, size, None, caller);
        self.reserve_add(base, size)
    }

    /// Reserve with a node and flags (the later kernels' `__memblock_reserve()`,
    /// traced under that name with `nid=` and `flags=`).
    pub fn reserve_node(
        &mut self,
        base: PhysAddr,
        size: u64,
        nid: i32,
        flags: MemblockFlags,
        caller: &str,
    ) -> Result<()> {
        self.check_nid(nid)?;
        self.check_flags(flags)?;
        self.dbg_range("__memblock_reserve", base, size, Some((nid, flags)), caller);
        self.add_range(MemblockTypeKind::Reserved, base, size, nid, flags)
    }

    fn reserve_add(&mut self, base: PhysAddr, size: u64) -> Result<()> {
        let nid = self.max_numnodes;
        self.add_range(MemblockTypeKind::Reserved, base, size, nid, MemblockFlags::NONE)
    }

    /// Reserve on behalf of memblock itself (allocations, array doubling).
    pub(crate) fn reserve_inner(&mut self, base: PhysAddr, size: u64, caller: &str) -> Result<()> {
        self.dbg_range("memblock_reserve", base, size, None, caller);
        self.reserve_add(base, size)
    }

    /// Free on behalf of memblock itself.
    pub(crate) fn free_inner(&mut self, base: PhysAddr, size: u64, caller: &str) -> Result<()> {
        let name = self.free_fn_name();
        self.dbg_range(name, base, size, None, caller);
        self.remove_range(MemblockTypeKind::Reserved, base, size)
    }

    fn free_fn_name(&self) -> &'static str {
        match self.version {
            KernelVersion::V5_14 => "memblock_free",
            KernelVersion::V6_1 => "memblock_phys_free",
        }
    }

    /// `memblock_free()` (5.14) / `memblock_phys_free()` (6.1): drop
    /// `[base, base + size)` from the reserved regions. The memory does not
    /// go to the buddy allocator.
    pub fn free(&mut self, base: PhysAddr, size: u64, caller: &str) -> Result<()> {
        self.free_inner(base, size, caller)
    }

    /// `memblock_setclr_flag()` on `memory`.
    fn setclr_flag(&mut self, base: PhysAddr, size: u64, set: bool, flag: MemblockFlags) -> Result<()> {
        let (start, end) = self.isolate_inner(MemblockTypeKind::Memory, base, size)?;
        let t = &mut self.memory;
        for r in &mut t.regions[start..end] {
            if set {
                r.flags |= flag;
            } else {
                r.flags = r.flags.without(flag);
            }
        }
        t.merge_regions();
        Ok(())
    }

    /// `memblock_mark_hotplug()`.
    pub fn mark_hotplug(&mut self, base: PhysAddr, size: u64) -> Result<()> {
        self.setclr_flag(base, size, true, MemblockFlags::HOTPLUG)
    }
    /// `memblock_clear_hotplug()`.
    pub fn clear_hotplug(&mut self, base: PhysAddr, size: u64) -> Result<()> {
        self.setclr_flag(base, size, false, MemblockFlags::HOTPLUG)
    }
    /// `memblock_mark_mirror()`: also turns on `system_has_some_mirror`.
    /// With 6.1 this does nothing unless [`Memblock::mirrored_kernelcore`].
    pub fn mark_mirror(&mut self, base: PhysAddr, size: u64) -> Result<()> {
        if self.version == KernelVersion::V6_1 && !self.mirrored_kernelcore {
            return Ok(());
        }
        let had_mirror = self.system_has_some_mirror;
        self.system_has_some_mirror = true;
        let res = self.setclr_flag(base, size, true, MemblockFlags::MIRROR);
        if res.is_err() {
            self.system_has_some_mirror = had_mirror;
        }
        res
    }
    /// `memblock_mark_nomap()`.
    pub fn mark_nomap(&mut self, base: PhysAddr, size: u64) -> Result<()> {
        self.setclr_flag(base, size, true, MemblockFlags::NOMAP)
    }
    /// `memblock_clear_nomap()`.
    pub fn clear_nomap(&mut self, base: PhysAddr, size: u64) -> Result<()> {
        self.setclr_flag(base, size, false, MemblockFlags::NOMAP)
    }

    /// `memblock_set_node(base, size, &memblock.memory, nid)`.
    pub fn set_node(&mut self, base: PhysAddr, size: u64, nid: i32) -> Result<()> {
        self.set_node_in(MemblockTypeKind::Memory, base, size, nid)
    }

    /// `memblock_set_node()` on either type (x86 also tags `reserved`).
    pub fn set_node_in(&mut self, kind: MemblockTypeKind, base: PhysAddr, size: u64, nid: i32) -> Result<()> {
        self.check_nid(nid)?;
        let (start, end) = self.isolate_inner(kind, base, size)?;
        let t = self.type_mut(kind);
        for r in &mut t.regions[start..end] {
            r.nid = nid;
        }
        t.merge_regions();
        Ok(())
    }

    /// `memblock_trim_memory()`: shrink every memory region to `align`
    /// boundaries, dropping those that vanish. Like the kernel, the memory
    /// `total_size` is only lowered for dropped regions, not for trimmed ones.
    pub fn trim_memory(&mut self, align: u64) -> Result<()> {
        if !align.is_power_of_two() {
            return Err(MmError::invalid("align", format!("{align:#x} is not a power of two")));
        }
        let empty_nid = self.max_numnodes;
        let t = &mut self.memory;
        let mut i = 0;
        while i < t.regions.len() {
            let r = t.regions[i];
            let start = r.base.checked_next_multiple_of(align).unwrap_or(PHYS_ADDR_MAX);
            let end = r.end() & !(align - 1);
            if start == r.base && end == r.end() {
                i += 1;
                continue;
            }
            if start < end {
                t.regions[i].base = start;
                t.regions[i].size = end - start;
                i += 1;
            } else {
                t.remove_region(i, empty_nid);
            }
        }
        Ok(())
    }

    /// `__find_max_addr()`: the address below which `limit` bytes of memory
    /// lie, or `PHYS_ADDR_MAX` if there is less memory than that.
    fn find_max_addr(&self, mut limit: u64) -> PhysAddr {
        for r in &self.memory.regions {
            if limit <= r.size {
                return r.base + limit;
            }
            limit -= r.size;
        }
        PHYS_ADDR_MAX
    }

    /// `memblock_enforce_memory_limit()` (`mem=`): keep only the first
    /// `limit` bytes of memory; memory and reservations above are dropped.
    /// `limit == 0` does nothing.
    pub fn enforce_memory_limit(&mut self, limit: u64) -> Result<()> {
        if limit == 0 {
            return Ok(());
        }
        let max_addr = self.find_max_addr(limit);
        if max_addr == PHYS_ADDR_MAX {
            return Ok(());
        }
        self.atomically(|mb| {
            mb.remove_range(MemblockTypeKind::Memory, max_addr, PHYS_ADDR_MAX)?;
            mb.remove_range(MemblockTypeKind::Reserved, max_addr, PHYS_ADDR_MAX)
        })
    }

    /// `memblock_cap_memory_range()`: keep only `[base, base + size)` of the
    /// memory (NOMAP regions outside survive) and of the reservations. Like
    /// the kernel, this does not merge: a NOMAP region split at the window's
    /// edge stays in two pieces until the next merging operation.
    pub fn cap_memory_range(&mut self, base: PhysAddr, size: u64) -> Result<()> {
        if size == 0 {
            return Ok(());
        }
        self.atomically(|mb| mb.cap_inner(base, size))
    }

    fn cap_inner(&mut self, base: PhysAddr, size: u64) -> Result<()> {
        let (start, end) = self.isolate_inner(MemblockTypeKind::Memory, base, size)?;
        let empty_nid = self.max_numnodes;
        let t = &mut self.memory;
        for i in (end..t.regions.len()).rev() {
            if !t.regions[i].flags.contains(MemblockFlags::NOMAP) {
                t.remove_region(i, empty_nid);
            }
        }
        for i in (0..start).rev() {
            if !t.regions[i].flags.contains(MemblockFlags::NOMAP) {
                t.remove_region(i, empty_nid);
            }
        }
        self.remove_range(MemblockTypeKind::Reserved, 0, base)?;
        let top = cap_end(base, size);
        self.remove_range(MemblockTypeKind::Reserved, top, PHYS_ADDR_MAX)
    }

    /// `memblock_mem_limit_remove_map()`: like
    /// [`Memblock::enforce_memory_limit`] but NOMAP memory above the limit
    /// stays.
    pub fn mem_limit_remove_map(&mut self, limit: u64) -> Result<()> {
        if limit == 0 {
            return Ok(());
        }
        let max_addr = self.find_max_addr(limit);
        if max_addr == PHYS_ADDR_MAX {
            return Ok(());
        }
        self.cap_memory_range(0, max_addr)
    }

    // ----------------------------------------------------------------
    // Queries
    // ----------------------------------------------------------------

    /// `memblock_is_memory()`.
    pub fn is_memory(&self, addr: PhysAddr) -> bool {
        self.memory.search(addr).is_some()
    }
    /// `memblock_is_reserved()`.
    pub fn is_reserved(&self, addr: PhysAddr) -> bool {
        self.reserved.search(addr).is_some()
    }
    /// `memblock_is_map_memory()`: memory that is not NOMAP.
    pub fn is_map_memory(&self, addr: PhysAddr) -> bool {
        self.memory.search(addr).is_some_and(|i| !self.memory.regions[i].flags.contains(MemblockFlags::NOMAP))
    }
    /// `memblock_is_region_memory()`: `[base, base + size)` lies within one
    /// memory region.
    pub fn is_region_memory(&self, base: PhysAddr, size: u64) -> bool {
        let end = cap_end(base, size);
        self.memory.search(base).is_some_and(|i| self.memory.regions[i].end() >= end)
    }
    /// `memblock_is_region_reserved()`: `[base, base + size)` intersects a
    /// reserved region.
    pub fn is_region_reserved(&self, base: PhysAddr, size: u64) -> bool {
        self.reserved.overlaps(base, size)
    }
    /// `memblock_overlaps_region()` on either type.
    pub fn overlaps_region(&self, kind: MemblockTypeKind, base: PhysAddr, size: u64) -> bool {
        self.region_type(kind).overlaps(base, size)
    }
    /// `memblock_search_pfn_nid()`: for the memory region holding `pfn`, its
    /// node and pfn span `(nid, start_pfn, end_pfn)` (both rounded down).
    pub fn search_pfn_nid(&self, pfn: u64) -> Option<(i32, u64, u64)> {
        let addr = pfn.checked_mul(PAGE_SIZE)?;
        let i = self.memory.search(addr)?;
        let r = &self.memory.regions[i];
        Some((r.nid, crate::units::pfn_down(r.base), crate::units::pfn_down(r.end())))
    }
}

/// `PAGE_ALIGN` without overflow (saturates at the last page).
pub(crate) fn page_align(x: u64) -> u64 {
    x.checked_next_multiple_of(PAGE_SIZE).unwrap_or(PHYS_ADDR_MAX & !(PAGE_SIZE - 1))
}
