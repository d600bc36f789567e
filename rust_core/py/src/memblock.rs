//! Binding of `mmsvc_core::memblock`: the `Mm.memblock` view.

use mmsvc_core::memblock::{Memblock, MemblockFlags, MemblockRegion, MEMBLOCK_ALLOC_ACCESSIBLE, NUMA_NO_NODE};
use pyo3::prelude::*;

use crate::errors::guarded;
use crate::mm::Shared;

fn flags_from(bits: u32) -> mmsvc_core::Result<MemblockFlags> {
    if bits & !MemblockFlags::ALL.bits() != 0 {
        return Err(mmsvc_core::MmError::invalid("flags", format!("unknown memblock flag bits {bits:#x}")));
    }
    Ok(MemblockFlags(bits))
}

/// One region of `memblock.memory` or `memblock.reserved`.
#[pyclass(name = "MemblockRegion", module = "mmsvc._core", frozen, eq, hash)]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PyMemblockRegion {
    #[pyo3(get)]
    base: u64,
    #[pyo3(get)]
    size: u64,
    #[pyo3(get)]
    nid: i32,
    #[pyo3(get)]
    flags: u32,
}

#[pymethods]
impl PyMemblockRegion {
    /// One past the last byte.
    #[getter]
    fn end(&self) -> u64 {
        self.base.saturating_add(self.size)
    }

    fn __repr__(&self) -> String {
        format!(
            "MemblockRegion(base={:#x}, size={:#x}, nid={}, flags={:#x})",
            self.base, self.size, self.nid, self.flags
        )
    }
}

impl From<&MemblockRegion> for PyMemblockRegion {
    fn from(r: &MemblockRegion) -> Self {
        PyMemblockRegion { base: r.base, size: r.size, nid: r.nid, flags: r.flags.bits() }
    }
}

/// The boot-time memory allocator of a simulated machine (mm/memblock.c).
///
/// Every mutating method takes `caller`: the kernel function to name in the
/// `memblock=debug` trace.
#[pyclass(name = "Memblock", module = "mmsvc._core")]
pub struct PyMemblock {
    pub shared: Shared,
}

impl PyMemblock {
    fn with<T>(&self, f: impl FnOnce(&mut Memblock) -> mmsvc_core::Result<T>) -> PyResult<T> {
        let mut mm = self.shared.lock();
        guarded(|| f(&mut mm.memblock))
    }
}

#[pymethods]
impl PyMemblock {
    #[pyo3(signature = (base, size, nid = NUMA_NO_NODE, flags = 0, caller = "memblock_add"))]
    fn add(&self, base: u64, size: u64, nid: i32, flags: u32, caller: &str) -> PyResult<()> {
        self.with(|m| {
            if nid == NUMA_NO_NODE && flags == 0 {
                m.add(base, size, caller)
            } else {
                m.add_node(base, size, nid, flags_from(flags)?, caller)
            }
        })
    }

    #[pyo3(signature = (base, size, caller = "memblock_remove"))]
    fn remove(&self, base: u64, size: u64, caller: &str) -> PyResult<()> {
        self.with(|m| m.remove(base, size, caller))
    }

    #[pyo3(signature = (base, size, nid = NUMA_NO_NODE, flags = 0, caller = "memblock_reserve"))]
    fn reserve(&self, base: u64, size: u64, nid: i32, flags: u32, caller: &str) -> PyResult<()> {
        self.with(|m| {
            if nid == NUMA_NO_NODE && flags == 0 {
                m.reserve(base, size, caller)
            } else {
                m.reserve_node(base, size, nid, flags_from(flags)?, caller)
            }
        })
    }

    /// Give a reserved range back (6.1 `memblock_phys_free`, 5.14 `memblock_free`).
    #[pyo3(signature = (base, size, caller = "memblock_free"))]
    fn free(&self, base: u64, size: u64, caller: &str) -> PyResult<()> {
        self.with(|m| m.free(base, size, caller))
    }

    fn mark_hotplug(&self, base: u64, size: u64) -> PyResult<()> {
        self.with(|m| m.mark_hotplug(base, size))
    }

    fn clear_hotplug(&self, base: u64, size: u64) -> PyResult<()> {
        self.with(|m| m.clear_hotplug(base, size))
    }

    fn mark_mirror(&self, base: u64, size: u64) -> PyResult<()> {
        self.with(|m| m.mark_mirror(base, size))
    }

    fn mark_nomap(&self, base: u64, size: u64) -> PyResult<()> {
        self.with(|m| m.mark_nomap(base, size))
    }

    fn clear_nomap(&self, base: u64, size: u64) -> PyResult<()> {
        self.with(|m| m.clear_nomap(base, size))
    }

    fn set_node(&self, base: u64, size: u64, nid: i32) -> PyResult<()> {
        self.with(|m| m.set_node(base, size, nid))
    }

    fn trim_memory(&self, align: u64) -> PyResult<()> {
        self.with(|m| m.trim_memory(align))
    }

    fn enforce_memory_limit(&self, limit: u64) -> PyResult<()> {
        self.with(|m| m.enforce_memory_limit(limit))
    }

    fn cap_memory_range(&self, base: u64, size: u64) -> PyResult<()> {
        self.with(|m| m.cap_memory_range(base, size))
    }

    fn mem_limit_remove_map(&self, limit: u64) -> PyResult<()> {
        self.with(|m| m.mem_limit_remove_map(limit))
    }

    #[getter]
    fn bottom_up(&self) -> bool {
        self.shared.lock().memblock.bottom_up()
    }

    #[setter]
    fn set_bottom_up(&self, on: bool) {
        self.shared.lock().memblock.set_bottom_up(on)
    }

    /// `movable_node_is_enabled()`: allocations skip hotpluggable memory.
    #[getter]
    fn movable_node(&self) -> bool {
        self.shared.lock().memblock.movable_node()
    }

    #[setter]
    fn set_movable_node(&self, on: bool) {
        self.shared.lock().memblock.set_movable_node(on)
    }

    #[getter]
    fn current_limit(&self) -> u64 {
        self.shared.lock().memblock.current_limit()
    }

    #[setter]
    fn set_current_limit(&self, limit: u64) {
        self.shared.lock().memblock.set_current_limit(limit)
    }

    /// `memblock=debug`: trace every operation into the log (`take_log`).
    #[getter]
    fn debug(&self) -> bool {
        self.shared.lock().memblock.debug()
    }

    #[setter]
    fn set_debug(&self, on: bool) {
        self.shared.lock().memblock.set_debug(on)
    }

    #[getter]
    fn arch_low_address_limit(&self) -> u64 {
        self.shared.lock().memblock.arch_low_address_limit()
    }

    #[setter]
    fn set_arch_low_address_limit(&self, limit: u64) {
        self.shared.lock().memblock.set_arch_low_address_limit(limit)
    }

    // -- allocation (each returns the physical address) -----------------

    #[pyo3(signature = (size, align, caller = "memblock_alloc"))]
    fn alloc(&self, size: u64, align: u64, caller: &str) -> PyResult<u64> {
        self.with(|m| m.alloc(size, align, caller))
    }

    #[pyo3(signature = (size, align, caller = "memblock_alloc_raw"))]
    fn alloc_raw(&self, size: u64, align: u64, caller: &str) -> PyResult<u64> {
        self.with(|m| m.alloc_raw(size, align, caller))
    }

    #[pyo3(signature = (size, align, min_addr, caller = "memblock_alloc_from"))]
    fn alloc_from(&self, size: u64, align: u64, min_addr: u64, caller: &str) -> PyResult<u64> {
        self.with(|m| m.alloc_from(size, align, min_addr, caller))
    }

    #[pyo3(signature = (size, align, caller = "memblock_alloc_low"))]
    fn alloc_low(&self, size: u64, align: u64, caller: &str) -> PyResult<u64> {
        self.with(|m| m.alloc_low(size, align, caller))
    }

    #[pyo3(signature = (size, align, nid, caller = "memblock_alloc_node"))]
    fn alloc_node(&self, size: u64, align: u64, nid: i32, caller: &str) -> PyResult<u64> {
        self.with(|m| m.alloc_node(size, align, nid, caller))
    }

    #[pyo3(signature = (size, align, min_addr = 0, max_addr = MEMBLOCK_ALLOC_ACCESSIBLE, nid = NUMA_NO_NODE, caller = "memblock_alloc_try_nid"))]
    fn alloc_try_nid(&self, size: u64, align: u64, min_addr: u64, max_addr: u64, nid: i32, caller: &str) -> PyResult<u64> {
        self.with(|m| m.alloc_try_nid(size, align, min_addr, max_addr, nid, caller))
    }

    #[pyo3(signature = (size, align, min_addr = 0, max_addr = MEMBLOCK_ALLOC_ACCESSIBLE, nid = NUMA_NO_NODE, caller = "memblock_alloc_try_nid_raw"))]
    fn alloc_try_nid_raw(&self, size: u64, align: u64, min_addr: u64, max_addr: u64, nid: i32, caller: &str) -> PyResult<u64> {
        self.with(|m| m.alloc_try_nid_raw(size, align, min_addr, max_addr, nid, caller))
    }

    #[pyo3(signature = (size, align, min_addr = 0, max_addr = MEMBLOCK_ALLOC_ACCESSIBLE, nid = NUMA_NO_NODE, caller = "memblock_alloc_exact_nid_raw"))]
    fn alloc_exact_nid_raw(&self, size: u64, align: u64, min_addr: u64, max_addr: u64, nid: i32, caller: &str) -> PyResult<u64> {
        self.with(|m| m.alloc_exact_nid_raw(size, align, min_addr, max_addr, nid, caller))
    }

    #[pyo3(signature = (size, align, start, end, caller = "memblock_phys_alloc_range"))]
    fn phys_alloc_range(&self, size: u64, align: u64, start: u64, end: u64, caller: &str) -> PyResult<u64> {
        self.with(|m| m.phys_alloc_range(size, align, start, end, caller))
    }

    /// `memblock_find_in_range(start, end, size, align)`: free space found
    /// without reserving it (5.14's x86 boot code); `OutOfMemoryError` when
    /// there is none.
    fn find_in_range(&self, start: u64, end: u64, size: u64, align: u64) -> PyResult<u64> {
        self.with(|m| {
            if size == 0 || !align.is_power_of_two() {
                return Err(mmsvc_core::MmError::invalid("size/align", format!("size {size:#x}, align {align:#x}")));
            }
            m.find_in_range(start, end, size, align).ok_or_else(|| mmsvc_core::MmError::OutOfMemory {
                request: format!("{size} bytes align={align:#x} in [{start:#x}, {end:#x})"),
            })
        })
    }

    #[pyo3(signature = (size, align, nid))]
    fn phys_alloc_try_nid(&self, size: u64, align: u64, nid: i32) -> PyResult<u64> {
        self.with(|m| m.phys_alloc_try_nid(size, align, nid))
    }

    // -- queries ----------------------------------------------------------

    /// The regions of `memblock.memory`.
    fn memory(&self) -> Vec<PyMemblockRegion> {
        self.shared.lock().memblock.memory().regions().iter().map(Into::into).collect()
    }

    /// The regions of `memblock.reserved`.
    fn reserved(&self) -> Vec<PyMemblockRegion> {
        self.shared.lock().memblock.reserved().regions().iter().map(Into::into).collect()
    }

    /// `for_each_free_mem_range`: `(start, end, nid)` of memory not reserved.
    #[pyo3(signature = (nid = NUMA_NO_NODE, flags = 0, reverse = false))]
    fn free_ranges(&self, nid: i32, flags: u32, reverse: bool) -> PyResult<Vec<(u64, u64, i32)>> {
        let f = guarded(|| flags_from(flags))?;
        let mm = self.shared.lock();
        let ranges = if reverse {
            mm.memblock.free_mem_ranges_reverse(nid, f)
        } else {
            mm.memblock.free_mem_ranges(nid, f)
        };
        Ok(ranges.into_iter().map(|r| (r.start, r.end, r.nid)).collect())
    }

    /// One resumable step of `for_each_free_mem_range`: `((start, end,
    /// nid), cursor)` of the next free range from `cursor` (start with
    /// `(0, 0)`), or None at the end; memblock may change between steps.
    #[pyo3(signature = (cursor = (0, 0), nid = NUMA_NO_NODE, flags = 0))]
    #[allow(clippy::type_complexity)]
    fn next_free_range(&self, cursor: (usize, usize), nid: i32, flags: u32)
        -> PyResult<Option<((u64, u64, i32), (usize, usize))>> {
        let f = guarded(|| flags_from(flags))?;
        let mm = self.shared.lock();
        Ok(mm.memblock.next_free_range(cursor, nid, f).map(|(r, next)| ((r.start, r.end, r.nid), next)))
    }

    /// `for_each_mem_pfn_range`: `(start_pfn, end_pfn, nid)` per memory
    /// region, of node `nid` or (None) of every node.
    #[pyo3(signature = (nid = None))]
    fn mem_pfn_ranges(&self, nid: Option<i32>) -> Vec<(u64, u64, i32)> {
        let mm = self.shared.lock();
        let nid = nid.unwrap_or_else(|| mm.memblock.max_numnodes());
        mm.memblock.mem_pfn_ranges(nid).into_iter().map(|r| (r.start_pfn, r.end_pfn, r.nid)).collect()
    }

    fn phys_mem_size(&self) -> u64 {
        self.shared.lock().memblock.phys_mem_size()
    }

    fn reserved_size(&self) -> u64 {
        self.shared.lock().memblock.reserved_size()
    }

    fn start_of_dram(&self) -> u64 {
        self.shared.lock().memblock.start_of_dram()
    }

    fn end_of_dram(&self) -> u64 {
        self.shared.lock().memblock.end_of_dram()
    }

    fn is_memory(&self, addr: u64) -> bool {
        self.shared.lock().memblock.is_memory(addr)
    }

    fn is_reserved(&self, addr: u64) -> bool {
        self.shared.lock().memblock.is_reserved(addr)
    }

    fn is_region_memory(&self, base: u64, size: u64) -> bool {
        self.shared.lock().memblock.is_region_memory(base, size)
    }

    fn is_region_reserved(&self, base: u64, size: u64) -> bool {
        self.shared.lock().memblock.is_region_reserved(base, size)
    }

    /// The `memblock_dump_all` text.
    fn dump(&self) -> String {
        self.shared.lock().memblock.dump_text()
    }

    /// `memblock_dump_all`: append the dump to the trace (only with `debug`).
    fn dump_all(&self) {
        self.shared.lock().memblock.memblock_dump_all()
    }

    /// Take (and clear) the `memblock=debug` trace lines.
    fn take_log(&self) -> Vec<String> {
        self.shared.lock().memblock.take_log()
    }
}
