//! Binding of `mmsvc_core::page_alloc`: nodes, zones and the buddy
//! allocator, as methods of `Mm`.
//!
//! Python passes plain data in (lists, dicts, GFP names or bits) and gets
//! plain data back; the batch calls take and fill buffers (numpy arrays,
//! `array.array("Q")`) so Python pays the boundary once per batch, and they
//! release the GIL while the core works.

use mmsvc_core::page_alloc::{
    FreeAreaInitInput, Gfp, MigrateType, MovableZoneConfig, PageAllocConfig, ZoneInfo, ZoneLayout, ZoneType,
};
use mmsvc_core::page_alloc::{KernelVersion, MemPolicy};
use mmsvc_core::MmError;
use pyo3::buffer::PyBuffer;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::errors::guarded;
use crate::mm::PyMm;

const GFP_NAMES: &[(&str, Gfp)] = &[
    ("GFP_KERNEL", Gfp::GFP_KERNEL),
    ("GFP_KERNEL_ACCOUNT", Gfp::GFP_KERNEL_ACCOUNT),
    ("GFP_ATOMIC", Gfp::GFP_ATOMIC),
    ("GFP_NOWAIT", Gfp::GFP_NOWAIT),
    ("GFP_NOIO", Gfp::GFP_NOIO),
    ("GFP_NOFS", Gfp::GFP_NOFS),
    ("GFP_USER", Gfp::GFP_USER),
    ("GFP_HIGHUSER", Gfp::GFP_HIGHUSER),
    ("GFP_HIGHUSER_MOVABLE", Gfp::GFP_HIGHUSER_MOVABLE),
    ("GFP_DMA", Gfp::GFP_DMA),
    ("GFP_DMA32", Gfp::GFP_DMA32),
    ("__GFP_DMA", Gfp::__GFP_DMA),
    ("__GFP_HIGHMEM", Gfp::__GFP_HIGHMEM),
    ("__GFP_DMA32", Gfp::__GFP_DMA32),
    ("__GFP_MOVABLE", Gfp::__GFP_MOVABLE),
    ("__GFP_RECLAIMABLE", Gfp::__GFP_RECLAIMABLE),
    ("__GFP_HIGH", Gfp::__GFP_HIGH),
    ("__GFP_IO", Gfp::__GFP_IO),
    ("__GFP_FS", Gfp::__GFP_FS),
    ("__GFP_ZERO", Gfp::__GFP_ZERO),
    ("__GFP_ATOMIC", Gfp::__GFP_ATOMIC),
    ("__GFP_DIRECT_RECLAIM", Gfp::__GFP_DIRECT_RECLAIM),
    ("__GFP_KSWAPD_RECLAIM", Gfp::__GFP_KSWAPD_RECLAIM),
    ("__GFP_NOWARN", Gfp::__GFP_NOWARN),
    ("__GFP_RETRY_MAYFAIL", Gfp::__GFP_RETRY_MAYFAIL),
    ("__GFP_NOFAIL", Gfp::__GFP_NOFAIL),
    ("__GFP_NORETRY", Gfp::__GFP_NORETRY),
    ("__GFP_COMP", Gfp::__GFP_COMP),
    ("__GFP_HARDWALL", Gfp::__GFP_HARDWALL),
    ("__GFP_THISNODE", Gfp::__GFP_THISNODE),
    ("__GFP_ACCOUNT", Gfp::__GFP_ACCOUNT),
];

/// GFP flags from Python: an int, or names joined with `|`.
#[derive(FromPyObject)]
pub enum GfpArg {
    Bits(u32),
    Names(String),
}

impl GfpArg {
    fn resolve(&self) -> Result<Gfp, MmError> {
        match self {
            GfpArg::Bits(b) => {
                if b & !Gfp::KNOWN_MASK != 0 {
                    return Err(MmError::invalid("gfp", format!("unknown GFP bits {:#x}", b & !Gfp::KNOWN_MASK)));
                }
                Ok(Gfp(*b))
            }
            GfpArg::Names(s) => {
                let mut g = Gfp(0);
                for part in s.split('|').map(str::trim).filter(|p| !p.is_empty()) {
                    let Some((_, v)) = GFP_NAMES.iter().find(|(n, _)| *n == part) else {
                        return Err(MmError::invalid("gfp", format!("unknown GFP flag {part:?}")));
                    };
                    g = Gfp(g.0 | v.0);
                }
                Ok(g)
            }
        }
    }
}

fn zone_type(name: &str) -> Result<ZoneType, MmError> {
    Ok(match name {
        "DMA" => ZoneType::Dma,
        "DMA32" => ZoneType::Dma32,
        "Normal" => ZoneType::Normal,
        "Movable" => ZoneType::Movable,
        "Device" => ZoneType::Device,
        other => return Err(MmError::invalid("zones", format!("unknown zone {other:?}"))),
    })
}

fn nid_arg(nid: i32) -> u32 {
    if nid < 0 { 0 } else { nid as u32 }
}

/// Build the allocator configuration from a Python dict of plain values.
fn config_from(cfg: &Bound<'_, PyDict>, profile: &str) -> PyResult<PageAllocConfig> {
    let mut c = PageAllocConfig { kernel: if profile == "6.1" { KernelVersion::V6_1 } else { KernelVersion::V5_14 }, ..Default::default() };
    for (k, v) in cfg.iter() {
        let key: String = k.extract()?;
        match key.as_str() {
            "max_order" => c.max_order = v.extract()?,
            "pageblock_order" => c.pageblock_order = v.extract()?,
            "nr_cpus" => c.nr_cpus = v.extract()?,
            "cpu_to_node" => c.cpu_to_node = v.extract()?,
            "min_free_kbytes" => c.min_free_kbytes = v.extract()?,
            "watermark_scale_factor" => c.watermark_scale_factor = v.extract()?,
            "sparsemem" => c.sparsemem = v.extract()?,
            "section_size_bits" => c.section_size_bits = v.extract()?,
            "deferred_struct_page_init" => c.deferred_struct_page_init = v.extract()?,
            "early_page_ext" => c.early_page_ext = v.extract()?,
            "cma" => c.cma = v.extract()?,
            "profile" => {}
            other => {
                return Err(MmError::invalid("config", format!("unknown page allocator option {other:?}")))
                    .map_err(|e| crate::errors::CoreError(e).into())
            }
        }
    }
    Ok(c)
}

/// `kernelcore=`/`movablecore=`/`movable_node` as the keys `kernelcore_pages`,
/// `movablecore_pages`, `kernelcore_percent`, `movablecore_percent` and
/// `movable_node` (with `hotplug_regions`, `[(first pfn, nid)]` of the
/// hotpluggable memory regions), and `mirror` for `kernelcore=mirror`.
fn movable_from(d: &Bound<'_, PyDict>) -> PyResult<MovableZoneConfig> {
    let mut m = MovableZoneConfig::default();
    for (k, v) in d.iter() {
        let key: String = k.extract()?;
        match key.as_str() {
            "kernelcore_pages" => m.kernelcore_pages = v.extract()?,
            "movablecore_pages" => m.movablecore_pages = v.extract()?,
            "kernelcore_percent" => m.kernelcore_percent = v.extract()?,
            "movablecore_percent" => m.movablecore_percent = v.extract()?,
            "movable_node" => m.movable_node = v.extract()?,
            "mirror" => m.mirror = v.extract()?,
            "hotplug_regions" => m.hotplug_regions = v.extract()?,
            other => {
                return Err(crate::errors::CoreError(MmError::invalid(
                    "movable",
                    format!("unknown ZONE_MOVABLE option {other:?}"),
                ))
                .into())
            }
        }
    }
    Ok(m)
}

fn layout_dict<'py>(py: Python<'py>, l: &ZoneLayout) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    let ranges = PyList::empty(py);
    for z in &l.zone_ranges {
        let r = PyDict::new(py);
        r.set_item("zone", z.zone_type.name())?;
        r.set_item("start_pfn", z.start_pfn)?;
        r.set_item("end_pfn", z.end_pfn)?;
        ranges.append(r)?;
    }
    d.set_item("zone_ranges", ranges)?;
    d.set_item("movable_zone_start", l.movable_zone_start.clone())?;
    d.set_item("early_node_ranges", l.early_node_ranges.clone())?;
    let nodes = PyList::empty(py);
    for n in &l.nodes {
        let nd = PyDict::new(py);
        nd.set_item("nid", n.nid)?;
        nd.set_item("start_pfn", n.start_pfn)?;
        nd.set_item("end_pfn", n.end_pfn)?;
        nd.set_item("spanned", n.spanned)?;
        nd.set_item("present", n.present)?;
        nd.set_item("first_deferred_pfn", n.first_deferred_pfn)?;
        let zones = PyList::empty(py);
        for z in &n.zones {
            let zd = PyDict::new(py);
            zd.set_item("zone", z.zone_type.name())?;
            zd.set_item("start_pfn", z.start_pfn)?;
            zd.set_item("spanned", z.spanned)?;
            zd.set_item("absent", z.absent)?;
            zd.set_item("present", z.present)?;
            zd.set_item("managed_estimate", z.managed_estimate)?;
            zd.set_item("memmap_pages", z.memmap_pages)?;
            zones.append(zd)?;
        }
        nd.set_item("zones", zones)?;
        nodes.append(nd)?;
    }
    d.set_item("nodes", nodes)?;
    let unavailable = PyList::empty(py);
    for u in &l.unavailable {
        let ud = PyDict::new(py);
        ud.set_item("nid", u.nid)?;
        ud.set_item("zone", u.zone_type.name())?;
        ud.set_item("start_pfn", u.start_pfn)?;
        ud.set_item("end_pfn", u.end_pfn)?;
        ud.set_item("pages", u.pages)?;
        unavailable.append(ud)?;
    }
    d.set_item("unavailable", unavailable)?;
    d.set_item("nr_kernel_pages", l.nr_kernel_pages)?;
    d.set_item("nr_all_pages", l.nr_all_pages)?;
    d.set_item("total_pages", l.total_pages)?;
    d.set_item("mobility_grouping", l.mobility_grouping)?;
    Ok(d)
}

fn zone_dict<'py>(py: Python<'py>, z: &ZoneInfo) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("nid", z.nid)?;
    d.set_item("zone", z.zone_type.name())?;
    d.set_item("start_pfn", z.start_pfn)?;
    d.set_item("spanned", z.spanned)?;
    d.set_item("present", z.present)?;
    d.set_item("managed", z.managed)?;
    d.set_item("nr_free_pages", z.nr_free_pages)?;
    d.set_item("pcp_pages", z.pcp_pages)?;
    d.set_item("min", z.min)?;
    d.set_item("low", z.low)?;
    d.set_item("high", z.high)?;
    d.set_item("protection", z.protection.clone())?;
    d.set_item("nr_free", z.nr_free.clone())?;
    // pagetypeinfo: free blocks per order for each migratetype that exists
    let by_type = PyDict::new(py);
    for mt in MigrateType::types(false) {
        let counts: Vec<u64> = z.free_by_type.iter().map(|row| row[mt as usize]).collect();
        by_type.set_item(mt.name(), counts)?;
    }
    d.set_item("free_by_type", by_type)?;
    Ok(d)
}

thread_local! {
    /// A pfn buffer reused by the batch calls of this thread, so that a
    /// large batch does not map (and fault in) a fresh buffer every call.
    static SCRATCH: std::cell::Cell<Vec<u64>> = const { std::cell::Cell::new(Vec::new()) };
}

fn take_scratch() -> Vec<u64> {
    let mut v = SCRATCH.with(|s| s.take());
    v.clear();
    v
}

fn put_scratch(v: Vec<u64>) {
    // keep at most 8 MiB between calls
    if v.capacity() <= 1 << 20 {
        SCRATCH.with(|s| s.set(v));
    }
}

/// One recorded event as Python sees it: `(kind, pfn, order, gfp, nid, zone)`.
type EventTuple = (&'static str, u64, u32, u32, u32, &'static str);

#[pymethods]
impl PyMm {
    /// `free_area_init`: build nodes and zones from memblock memory regions.
    ///
    /// `regions`: `(start_pfn, end_pfn, nid)`; `zones`: `(name, max_pfn)` for
    /// each zone the architecture has, lowest first; `movable`: the
    /// kernelcore=/movablecore= request (see `movable_from`). Returns the layout.
    #[pyo3(signature = (regions, zones, nr_nodes, dma_reserve = 0, config = None, movable = None))]
    #[allow(clippy::too_many_arguments)]
    fn free_area_init<'py>(
        &self,
        py: Python<'py>,
        regions: Vec<(u64, u64, i32)>,
        zones: Vec<(String, u64)>,
        nr_nodes: u32,
        dma_reserve: u64,
        config: Option<&Bound<'py, PyDict>>,
        movable: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let cfg = match config {
            Some(c) => config_from(c, self.profile())?,
            None => config_from(&PyDict::new(py), self.profile())?,
        };
        let movable = match movable {
            Some(m) => movable_from(m)?,
            None => MovableZoneConfig::default(),
        };
        let layout = {
            let mut mm = self.shared.lock();
            // memblock tags regions of no particular node with MAX_NUMNODES
            let no_node = mm.memblock.max_numnodes();
            guarded(|| {
                let zones = zones.iter().map(|(n, p)| Ok((zone_type(n)?, *p))).collect::<Result<Vec<_>, MmError>>()?;
                let regions =
                    regions.iter().map(|&(s, e, n)| (s, e, if n == no_node { 0 } else { nid_arg(n) })).collect();
                let input = FreeAreaInitInput { regions, zones, nr_nodes, movable, dma_reserve };
                mm.free_area_init(&input, &cfg).cloned()
            })?
        };
        layout_dict(py, &layout)
    }

    /// `memblock_free_all`: free memblock's free pages into the buddy allocator.
    #[pyo3(signature = (max_low_pfn = None))]
    fn memblock_free_all(&self, py: Python<'_>, max_low_pfn: Option<u64>) -> PyResult<u64> {
        py.detach(|| guarded(|| self.shared.lock().memblock_free_all(max_low_pfn)))
    }

    /// `page_alloc_init_late`: free the deferred struct pages.
    fn page_alloc_init_late(&self, py: Python<'_>) -> PyResult<u64> {
        py.detach(|| guarded(|| self.shared.lock().page_alloc_init_late()))
    }

    /// Each CPU's node (`nodes[cpu]`): where "local" requests of that CPU
    /// go and over how many CPUs a zone's per-cpu `high` is split.
    fn set_cpu_to_node(&self, nodes: Vec<u32>) -> PyResult<()> {
        guarded(|| self.shared.lock().buddy_mut()?.set_cpu_to_node(&nodes))
    }

    /// The CPUs now up: `count` (`num_online_cpus`) and, for each node, how
    /// many online CPUs its cpumask holds. Resizes the per-cpu lists' `high`.
    fn set_online_cpus(&self, count: u32, per_node: Vec<u64>) -> PyResult<()> {
        guarded(|| self.shared.lock().buddy_mut()?.set_online_cpus(count, &per_node))
    }

    /// `setup_per_cpu_pageset`: the real per-cpu pagesets replace the boot ones.
    fn setup_per_cpu_pageset(&self) -> PyResult<()> {
        guarded(|| {
            self.shared.lock().buddy_mut()?.setup_per_cpu_pageset();
            Ok(())
        })
    }

    /// `init_per_zone_wmark_min`: min_free_kbytes, watermarks, lowmem_reserve.
    /// Returns min_free_kbytes.
    fn init_per_zone_wmark_min(&self) -> PyResult<u64> {
        guarded(|| Ok(self.shared.lock().buddy_mut()?.init_per_zone_wmark_min()))
    }

    /// khugepaged's `set_recommended_min_free_kbytes`: with THP enabled,
    /// raise min_free_kbytes for fragmentation avoidance (up to 5 % of
    /// lowmem); disabled, recompute the default (`calculate_min_free_kbytes`).
    /// Then the watermarks. Returns min_free_kbytes.
    fn set_recommended_min_free_kbytes(&self, enabled: bool) -> PyResult<u64> {
        guarded(|| {
            let mut mm = self.shared.lock();
            let pa = mm.buddy_mut()?;
            Ok(if enabled { pa.set_recommended_min_free_kbytes() } else { pa.recalculate_min_free_kbytes() })
        })
    }

    /// `free_reserved_area`: give the reserved pages `[start_pfn, end_pfn)`
    /// back to the buddy allocator (they count into managed and totalram).
    fn free_reserved_area(&self, start_pfn: u64, end_pfn: u64) -> PyResult<u64> {
        guarded(|| self.shared.lock().buddy_mut()?.free_boot_pages(start_pfn, end_pfn))
    }

    /// `adjust_managed_page_count`: put `delta` pages into (or take them out
    /// of) the managed count of `pfn`'s zone and totalram, without freeing
    /// them (hugetlb's boot-time gigantic pages count as managed).
    fn adjust_managed_page_count(&self, pfn: u64, delta: i64) -> PyResult<()> {
        guarded(|| self.shared.lock().buddy_mut()?.adjust_managed_page_count(pfn, delta))
    }

    /// `totalram_pages()`.
    fn totalram_pages(&self) -> PyResult<u64> {
        guarded(|| Ok(self.shared.lock().buddy()?.totalram_pages()))
    }

    /// `nr_free_pages()` (the NR_FREE_PAGES counter: pcp pages excluded).
    fn nr_free_pages(&self) -> PyResult<u64> {
        guarded(|| Ok(self.shared.lock().buddy()?.nr_free_pages()))
    }

    /// `get_num_physpages()`: present pages of every node.
    fn present_pages(&self) -> PyResult<u64> {
        guarded(|| {
            let mm = self.shared.lock();
            let b = mm.buddy()?;
            Ok(b.zone_infos().iter().map(|z| z.present).sum())
        })
    }

    /// The global counters /proc/meminfo derives from.
    fn counters<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let (total, free, pcp, present, managed, usage) = guarded(|| {
            let mm = self.shared.lock();
            let b = mm.buddy()?;
            let zs = b.zone_infos();
            Ok((
                b.totalram_pages(),
                b.nr_free_pages(),
                b.nr_pcp_pages(),
                zs.iter().map(|z| z.present).sum::<u64>(),
                zs.iter().map(|z| z.managed).sum::<u64>(),
                mm.usage,
            ))
        })?;
        let d = PyDict::new(py);
        d.set_item("totalram_pages", total)?;
        d.set_item("nr_free_pages", free)?;
        d.set_item("pcp_pages", pcp)?;
        d.set_item("present_pages", present)?;
        d.set_item("managed_pages", managed)?;
        d.set_item("page_table_pages", usage.page_tables)?;
        d.set_item("slab_reclaimable_pages", usage.slab_reclaimable)?;
        d.set_item("slab_unreclaimable_pages", usage.slab_unreclaimable)?;
        d.set_item("vmalloc_pages", usage.vmalloc)?;
        Ok(d)
    }

    /// Every zone's counters, node by node.
    fn zones<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyDict>>> {
        let infos = guarded(|| Ok(self.shared.lock().buddy()?.zone_infos()))?;
        infos.iter().map(|z| zone_dict(py, z)).collect()
    }

    /// Allocate `2^order` pages (GFP_KERNEL unless `gfp` says otherwise);
    /// returns the first pfn. `nid=-1` (NUMA_NO_NODE) lets the memory policy
    /// pick the node: `cpu`'s node, or the next one under interleave.
    #[pyo3(signature = (order = 0, gfp = None, nid = -1, cpu = 0))]
    fn alloc_pages(&self, order: u32, gfp: Option<GfpArg>, nid: i32, cpu: u32) -> PyResult<u64> {
        guarded(|| {
            let gfp = match gfp {
                None => Gfp::GFP_KERNEL,
                Some(g) => g.resolve()?,
            };
            let mut mm = self.shared.lock();
            let b = mm.buddy_mut()?;
            if nid < 0 {
                b.alloc_pages_policy(gfp, order, cpu)
            } else {
                b.alloc_pages(gfp, order, nid as u32, cpu)
            }
        })
    }

    /// Set the memory policy of requests with `nid=-1` (the kernel's
    /// NUMA_NO_NODE): `"local"` (the cpu's node; the default) or
    /// `"interleave"` over `nodes` (the boot task's policy from
    /// `numa_policy_init` to `numa_default_policy`).
    #[pyo3(signature = (mode, nodes = None))]
    fn set_mempolicy(&self, mode: &str, nodes: Option<Vec<u32>>) -> PyResult<()> {
        guarded(|| {
            let policy = match (mode, nodes) {
                ("local", None) => MemPolicy::Local,
                ("local", Some(_)) => return Err(MmError::invalid("nodes", "the local policy takes no nodes")),
                ("interleave", Some(n)) => MemPolicy::interleave(&n)?,
                ("interleave", None) => return Err(MmError::invalid("nodes", "interleave needs nodes")),
                (other, _) => {
                    return Err(MmError::invalid("mode", format!("unknown memory policy {other:?} (local, interleave)")))
                }
            };
            self.shared.lock().buddy_mut()?.set_mempolicy(policy)
        })
    }

    /// The memory policy: `("local", [])` or `("interleave", nodes)`.
    fn mempolicy(&self) -> PyResult<(&'static str, Vec<u32>)> {
        guarded(|| {
            Ok(match self.shared.lock().buddy()?.mempolicy() {
                MemPolicy::Local => ("local", Vec::new()),
                MemPolicy::Interleave { nodes, .. } => ("interleave", nodes.clone()),
            })
        })
    }

    /// `mempolicy_slab_node`: the node the memory policy gives a slab
    /// request that names none (the cpu's node under the local policy);
    /// under interleave this moves the task's interleave on, as SLUB's
    /// search of the other nodes' partial slabs does before a new slab.
    #[pyo3(signature = (cpu = 0))]
    fn mempolicy_slab_node(&self, cpu: u32) -> PyResult<u32> {
        guarded(|| Ok(self.shared.lock().buddy_mut()?.policy_node(cpu)))
    }

    /// Free a block allocated with `order`.
    #[pyo3(signature = (pfn, order = 0, cpu = 0))]
    fn free_pages(&self, pfn: u64, order: u32, cpu: u32) -> PyResult<()> {
        guarded(|| self.shared.lock().buddy_mut()?.free_pages(pfn, order, cpu))
    }

    /// Fill the writable buffer `out` (u64 items) with pfns of new blocks;
    /// returns how many were allocated (fewer than `len(out)` when memory
    /// runs out; the entries past that count are set to 2**64-1, which is
    /// no pfn). The GIL is released while the core allocates.
    #[pyo3(signature = (out, order = 0, gfp = None, nid = -1, cpu = 0))]
    fn alloc_pages_bulk(
        &self,
        py: Python<'_>,
        out: PyBuffer<u64>,
        order: u32,
        gfp: Option<GfpArg>,
        nid: i32,
        cpu: u32,
    ) -> PyResult<usize> {
        if out.readonly() || !out.is_c_contiguous() {
            return Err(crate::errors::InvalidArgumentError::new_err("out: needs a writable C-contiguous buffer of uint64"));
        }
        let count = out.item_count();
        let gfp = match gfp {
            None => Gfp::GFP_KERNEL,
            Some(g) => guarded(|| g.resolve())?,
        };
        let mut pfns = take_scratch();
        let n = py.detach(|| {
            guarded(|| {
                let mut mm = self.shared.lock();
                let b = mm.buddy_mut()?;
                if nid < 0 {
                    b.alloc_pages_bulk_policy(gfp, order, count, cpu, &mut pfns)
                } else {
                    b.alloc_pages_bulk(gfp, order, count, nid as u32, cpu, &mut pfns)
                }
            })
        });
        let n = n.and_then(|n| {
            pfns.resize(count, u64::MAX);
            out.copy_from_slice(py, &pfns)?;
            Ok(n)
        });
        put_scratch(pfns);
        n
    }

    /// Free every pfn of the buffer `pfns` (u64 items), all allocated with
    /// `order`. The whole batch is checked first: on error nothing is freed.
    #[pyo3(signature = (pfns, order = 0, cpu = 0))]
    fn free_pages_bulk(&self, py: Python<'_>, pfns: PyBuffer<u64>, order: u32, cpu: u32) -> PyResult<()> {
        let mut v = take_scratch();
        v.resize(pfns.item_count(), 0);
        let r = pfns
            .copy_to_slice(py, &mut v)
            .and_then(|()| py.detach(|| guarded(|| self.shared.lock().buddy_mut()?.free_pages_bulk(&v, order, cpu))));
        put_scratch(v);
        r
    }

    /// Return every CPU's (or one CPU's) pcp pages to the buddy lists.
    #[pyo3(signature = (cpu = None))]
    fn drain_pcp(&self, cpu: Option<u32>) -> PyResult<()> {
        guarded(|| self.shared.lock().buddy_mut()?.drain_pcp(cpu))
    }

    /// Is `pfn` free (in the buddy lists or on a pcp list)?
    fn is_free(&self, pfn: u64) -> PyResult<bool> {
        guarded(|| self.shared.lock().buddy()?.is_free(pfn))
    }

    /// The order `pfn` was allocated with, or None if it is not an allocated head.
    fn allocated_order(&self, pfn: u64) -> PyResult<Option<u32>> {
        guarded(|| self.shared.lock().buddy()?.allocated_order(pfn))
    }

    /// The migratetype of the pageblock holding `pfn` ("Unmovable",
    /// "Movable", ... as /proc/pagetypeinfo names them).
    fn pageblock_migratetype(&self, pfn: u64) -> PyResult<&'static str> {
        guarded(|| Ok(self.shared.lock().buddy()?.pageblock_migratetype(pfn)?.name()))
    }

    /// `(nid, zone name)` of the zone holding `pfn`.
    fn page_zone(&self, pfn: u64) -> PyResult<(u32, &'static str)> {
        guarded(|| {
            let z = self.shared.lock().buddy()?.page_zone(pfn)?;
            Ok((z.nid, z.zone_type.name()))
        })
    }

    /// Benchmark helper: `count` alloc+free pairs of `order` run natively
    /// (no Python per operation, GIL released); returns nanoseconds per pair.
    #[pyo3(signature = (order = 0, count = 1_000_000, cpu = 0))]
    fn bench_alloc_free_pairs(&self, py: Python<'_>, order: u32, count: u64, cpu: u32) -> PyResult<f64> {
        py.detach(|| {
            guarded(|| {
                let mut mm = self.shared.lock();
                let b = mm.buddy_mut()?;
                let start = std::time::Instant::now();
                for _ in 0..count {
                    let pfn = b.alloc_pages(Gfp::GFP_KERNEL, order, 0, cpu)?;
                    b.free_pages(pfn, order, cpu)?;
                }
                Ok(start.elapsed().as_nanos() as f64 / count.max(1) as f64)
            })
        })
    }

    /// `/proc/buddyinfo`.
    fn buddyinfo(&self) -> PyResult<String> {
        guarded(|| Ok(self.shared.lock().buddy()?.buddyinfo()))
    }

    /// `/proc/pagetypeinfo`.
    fn pagetypeinfo(&self) -> PyResult<String> {
        guarded(|| Ok(self.shared.lock().buddy()?.pagetypeinfo()))
    }

    /// `/proc/zoneinfo` (the allocator's fields).
    fn zoneinfo(&self) -> PyResult<String> {
        guarded(|| Ok(self.shared.lock().buddy()?.zoneinfo()))
    }

    /// Record page allocation and free events (for debug plugins).
    fn set_event_recording(&self, on: bool) -> PyResult<()> {
        guarded(|| {
            self.shared.lock().buddy_mut()?.set_recording(on);
            Ok(())
        })
    }

    /// Take the recorded events: `(kind, pfn, order, gfp, nid, zone)`.
    fn drain_events(&self) -> PyResult<Vec<EventTuple>> {
        guarded(|| {
            let events = self.shared.lock().buddy_mut()?.drain_events();
            Ok(events
                .into_iter()
                .map(|e| {
                    let kind = match e.kind {
                        mmsvc_core::page_alloc::AllocEventKind::Alloc => "alloc",
                        mmsvc_core::page_alloc::AllocEventKind::Free => "free",
                        mmsvc_core::page_alloc::AllocEventKind::Fail => "fail",
                    };
                    (kind, e.pfn, e.order, e.gfp.0, e.nid, e.zone.name())
                })
                .collect())
        })
    }
}
