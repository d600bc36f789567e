//! Binding of the vmalloc space (`mmsvc_core::vmalloc`) as methods of `Mm`.

use mmsvc_core::vmalloc::{VmFlags, VmallocRequest, VmallocSpace};
use mmsvc_core::{KernelVersion, MmError};
use pyo3::prelude::*;

use crate::errors::guarded;
use crate::mm::PyMm;

/// One busy area as Python sees it: `(addr, size, caller, nr_pages, flags)`.
type AreaRow = (u64, u64, String, u64, u32);

#[pymethods]
impl PyMm {
    /// `vmalloc_init`: the vmalloc space of an x86_64 paging mode
    /// ("x86_64_4level", "x86_64_5level") or explicit `[start, end)` bounds.
    #[pyo3(signature = (layout = None, start = None, end = None))]
    fn vmalloc_init(&self, layout: Option<&str>, start: Option<u64>, end: Option<u64>) -> PyResult<()> {
        let version = if self.profile() == "6.1" { KernelVersion::V6_1 } else { KernelVersion::V5_14 };
        guarded(|| {
            let space = match (layout, start, end) {
                (Some("x86_64_4level"), None, None) => VmallocSpace::x86_64_4level(),
                (Some("x86_64_5level"), None, None) => VmallocSpace::x86_64_5level(),
                (None, Some(s), Some(e)) => VmallocSpace::new(s, e)?,
                (Some(other), None, None) => {
                    return Err(MmError::invalid("layout", format!("unknown vmalloc layout {other:?}")))
                }
                _ => return Err(MmError::invalid("layout", "give a layout name or both start and end")),
            };
            self.shared.lock().vmalloc_init(space.with_version(version))
        })
    }

    /// `vmalloc(size)` (or `vmalloc_huge` with `huge=True`, or on node
    /// `nid`): returns the area's address. `range=(start, end)` places the
    /// area there (`__vmalloc_node_range`; x86's `module_alloc` names the
    /// module space, added with `vmalloc_add_range`). Without `nid` the
    /// pages follow the memory policy (see `set_mempolicy`).
    #[pyo3(signature = (size, caller = "vmalloc", huge = false, nid = None, align = 4096, range = None))]
    fn vmalloc(&self, size: u64, caller: &str, huge: bool, nid: Option<i32>, align: u64, range: Option<(u64, u64)>) -> PyResult<u64> {
        guarded(|| {
            self.shared.lock().with_vmalloc(|v, pt, src| match (huge, nid, range) {
                (_, _, Some(r)) => {
                    let mut req = VmallocRequest::new(size, caller);
                    req.align = align;
                    req.nid = nid;
                    req.range = Some(r);
                    if huge {
                        req.vm_flags = VmFlags::VM_ALLOW_HUGE_VMAP;
                    }
                    v.vmalloc_node_range(pt, src, &req)
                }
                (true, _, None) => v.vmalloc_huge(pt, src, size, caller),
                (false, Some(n), None) => v.vmalloc_node(pt, src, size, Some(n), caller),
                (false, None, None) => v.vmalloc(pt, src, size, align, caller),
            })
        })
    }

    /// `vm_area_register_early`: a `VM_ALLOC` area of `size` bytes with no
    /// guard page and no pages of its own (the caller mapped them), placed
    /// lowest-first at `align`. The kernel registers these before
    /// `vmalloc_init`, which imports them first: call this right after
    /// `vmalloc_init`, before any other vmalloc. Returns its start.
    #[pyo3(signature = (size, align = 4096))]
    fn vm_area_register_early(&self, size: u64, align: u64) -> PyResult<u64> {
        guarded(|| {
            let mut mm = self.shared.lock();
            let v = mm.vmalloc.as_mut().ok_or_else(|| MmError::InvalidState("the vmalloc space is not up yet: vmalloc_init has not run".into()))?;
            v.get_vm_area_range(size, align, VmFlags::VM_ALLOC | VmFlags::VM_NO_GUARD, None, "")
        })
    }

    /// Add a range outside the vmalloc space that `vmalloc(range=...)` may
    /// place areas in (x86's module space `[MODULES_VADDR, MODULES_END)`).
    fn vmalloc_add_range(&self, start: u64, end: u64) -> PyResult<()> {
        guarded(|| {
            let mut mm = self.shared.lock();
            let v = mm.vmalloc.as_mut().ok_or_else(|| MmError::InvalidState("the vmalloc space is not up yet: vmalloc_init has not run".into()))?;
            v.add_range(start, end)
        })
    }

    /// `vfree(addr)`.
    fn vfree(&self, addr: u64) -> PyResult<()> {
        guarded(|| self.shared.lock().with_vmalloc(|v, pt, src| v.vfree(pt, src, addr)))
    }

    /// `vmap(pfns)`: map the caller's pages contiguously; returns the address.
    #[pyo3(signature = (pfns, caller = "vmap"))]
    fn vmap(&self, pfns: Vec<u64>, caller: &str) -> PyResult<u64> {
        guarded(|| self.shared.lock().with_vmalloc(|v, pt, src| v.vmap(pt, src, &pfns, VmFlags::VM_MAP, caller)))
    }

    /// `ioremap(phys, size)`: map device memory (no pages of its own) in
    /// the vmalloc space, aligned as the kernel aligns an ioremap, with the
    /// largest leaves that alignment allows; returns the address of `phys`.
    #[pyo3(signature = (phys, size, caller = "ioremap"))]
    fn ioremap(&self, phys: u64, size: u64, caller: &str) -> PyResult<u64> {
        guarded(|| self.shared.lock().with_vmalloc(|v, pt, src| v.ioremap(pt, src, phys, size, caller)))
    }

    /// `iounmap(addr)`.
    fn iounmap(&self, addr: u64) -> PyResult<()> {
        guarded(|| self.shared.lock().with_vmalloc(|v, pt, src| v.iounmap(pt, src, addr)))
    }

    /// `vunmap(addr)`.
    fn vunmap(&self, addr: u64) -> PyResult<()> {
        guarded(|| self.shared.lock().with_vmalloc(|v, pt, src| v.vunmap(pt, src, addr)))
    }

    /// `vmalloc_to_pfn(addr)`.
    fn vmalloc_to_pfn(&self, addr: u64) -> PyResult<u64> {
        guarded(|| self.shared.lock().with_vmalloc(|v, pt, _| v.vmalloc_to_pfn(pt, addr)))
    }

    /// The pfn of every page of the vmalloc area starting at `addr`, in
    /// address order (one call instead of a `vmalloc_to_pfn` per page).
    fn vmalloc_area_pfns(&self, addr: u64) -> PyResult<Vec<u64>> {
        guarded(|| self.shared.lock().with_vmalloc(|v, _, _| v.area_pfns(addr)))
    }

    /// Every busy area: `(addr, size, caller, nr_pages, flags)`.
    fn vmalloc_areas(&self) -> PyResult<Vec<AreaRow>> {
        guarded(|| {
            self.shared.lock().with_vmalloc(|v, _, _| {
                Ok(v.areas().map(|a| (a.vm.addr, a.vm.size, a.vm.caller.to_string(), a.vm.nr_pages, a.vm.flags.0)).collect())
            })
        })
    }

    /// `/proc/vmallocinfo`.
    fn vmallocinfo(&self) -> PyResult<String> {
        guarded(|| self.shared.lock().with_vmalloc(|v, _, _| Ok(v.vmallocinfo())))
    }

    /// Record vmalloc area set-ups and tear-downs (for debug plugins).
    fn set_vmalloc_event_recording(&self, on: bool) -> PyResult<()> {
        guarded(|| {
            self.shared.lock().with_vmalloc(|v, _, _| {
                v.set_event_recording(on);
                Ok(())
            })
        })
    }

    /// Take the recorded vmalloc events: `(kind, addr, size, caller)`.
    fn drain_vmalloc_events(&self) -> PyResult<Vec<(&'static str, u64, u64, String)>> {
        guarded(|| {
            self.shared.lock().with_vmalloc(|v, _, _| {
                Ok(v.take_events()
                    .into_iter()
                    .map(|e| {
                        let kind = match e.kind {
                            mmsvc_core::vmalloc::VmallocEventKind::Alloc => "alloc",
                            mmsvc_core::vmalloc::VmallocEventKind::Free => "free",
                        };
                        (kind, e.addr, e.size, e.caller.to_string())
                    })
                    .collect())
            })
        })
    }

    /// (VmallocTotal, VmallocUsed, VmallocChunk) in kB.
    fn vmalloc_meminfo(&self) -> PyResult<(u64, u64, u64)> {
        guarded(|| {
            self.shared.lock().with_vmalloc(|v, _, _| {
                let m = v.meminfo();
                Ok((m.vmalloc_total_kb, m.vmalloc_used_kb, m.vmalloc_chunk_kb))
            })
        })
    }
}
