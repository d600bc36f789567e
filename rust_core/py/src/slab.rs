//! Binding of SLUB (`mmsvc_core::slab`) as methods of `Mm`: kmem_cache_init,
//! kmalloc and friends, caches, /proc/slabinfo.

use mmsvc_core::slab::{CacheId, Gfp, SlabConfig, SlabFlags, PAGE_OFFSET_L4};
use mmsvc_core::{KernelVersion, MmError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::{guarded, CoreError};
use crate::mm::PyMm;

const SLAB_FLAG_NAMES: &[(&str, SlabFlags)] = &[
    ("SLAB_CONSISTENCY_CHECKS", SlabFlags::CONSISTENCY_CHECKS),
    ("SLAB_RED_ZONE", SlabFlags::RED_ZONE),
    ("SLAB_POISON", SlabFlags::POISON),
    ("SLAB_HWCACHE_ALIGN", SlabFlags::HWCACHE_ALIGN),
    ("SLAB_CACHE_DMA", SlabFlags::CACHE_DMA),
    ("SLAB_STORE_USER", SlabFlags::STORE_USER),
    ("SLAB_RECLAIM_ACCOUNT", SlabFlags::RECLAIM_ACCOUNT),
    ("SLAB_PANIC", SlabFlags::PANIC),
    ("SLAB_TYPESAFE_BY_RCU", SlabFlags::TYPESAFE_BY_RCU),
    ("SLAB_MEM_SPREAD", SlabFlags::MEM_SPREAD),
    ("SLAB_NOLEAKTRACE", SlabFlags::NOLEAKTRACE),
    ("SLAB_ACCOUNT", SlabFlags::ACCOUNT),
];

fn slab_flags(names: &[String]) -> Result<SlabFlags, MmError> {
    let mut bits = 0u32;
    for n in names {
        let (_, f) = SLAB_FLAG_NAMES
            .iter()
            .find(|(name, _)| name == n)
            .ok_or_else(|| MmError::invalid("flags", format!("unknown slab flag {n:?}")))?;
        bits |= f.0;
    }
    Ok(SlabFlags(bits))
}

/// kmalloc's GFP: the names that choose a kmalloc cache type.
fn kmalloc_gfp(gfp: Option<&str>) -> Result<Gfp, MmError> {
    let mut bits = 0u32;
    for part in gfp.unwrap_or("GFP_KERNEL").split('|').map(str::trim).filter(|p| !p.is_empty()) {
        bits |= match part {
            "GFP_KERNEL" | "GFP_ATOMIC" | "GFP_NOWAIT" | "__GFP_ZERO" | "__GFP_NOWARN" => 0,
            "GFP_KERNEL_ACCOUNT" | "__GFP_ACCOUNT" => Gfp::ACCOUNT.0,
            "GFP_DMA" | "__GFP_DMA" => Gfp::DMA.0,
            "__GFP_RECLAIMABLE" => Gfp::RECLAIMABLE.0,
            other => return Err(MmError::invalid("gfp", format!("unsupported kmalloc GFP flag {other:?}"))),
        };
    }
    Ok(Gfp(bits))
}

/// One /proc/slabinfo row as Python sees it.
type SlabRow = (String, u64, u64, u32, u32, u32, u64, u64);

fn cache_arg(id: u32) -> CacheId {
    CacheId(id)
}

#[pymethods]
impl PyMm {
    /// `kmem_cache_init`: SLUB's boot caches and the kmalloc caches.
    /// Options: nr_cpu_ids, nr_node_ids, page_offset, zone_dma, memcg_kmem,
    /// slab_nomerge, slub_min_order, slub_max_order, slub_min_objects.
    /// Returns the "SLUB: ..." boot line.
    #[pyo3(signature = (**options))]
    fn kmem_cache_init(&self, options: Option<&Bound<'_, PyDict>>) -> PyResult<String> {
        let version = if self.profile() == "6.1" { KernelVersion::V6_1 } else { KernelVersion::V5_14 };
        let mut cfg = SlabConfig::new(version);
        cfg.page_offset = PAGE_OFFSET_L4;
        if let Some(opts) = options {
            for (k, v) in opts.iter() {
                let key: String = k.extract()?;
                match key.as_str() {
                    "nr_cpu_ids" => cfg.nr_cpu_ids = v.extract()?,
                    "nr_node_ids" => cfg.nr_node_ids = v.extract()?,
                    "page_offset" => cfg.page_offset = v.extract()?,
                    "zone_dma" => cfg.zone_dma = v.extract()?,
                    "memcg_kmem" => cfg.memcg_kmem = v.extract()?,
                    "slab_nomerge" => cfg.slab_nomerge = v.extract()?,
                    "slub_min_order" => cfg.slub_min_order = v.extract()?,
                    "slub_max_order" => cfg.slub_max_order = v.extract()?,
                    "slub_min_objects" => cfg.slub_min_objects = v.extract()?,
                    other => {
                        return Err(CoreError(MmError::invalid("options", format!("unknown SLUB option {other:?}"))).into())
                    }
                }
            }
        }
        guarded(|| {
            let mut mm = self.shared.lock();
            mm.kmem_cache_init(cfg)?;
            Ok(mm.slab.as_ref().map(|s| s.boot_message()).unwrap_or_default())
        })
    }

    /// `kmalloc(size, gfp)`: returns the object's (direct-map) address.
    #[pyo3(signature = (size, gfp = None, cpu = 0))]
    fn kmalloc(&self, size: u64, gfp: Option<&str>, cpu: u32) -> PyResult<u64> {
        guarded(|| {
            let gfp = kmalloc_gfp(gfp)?;
            self.shared.lock().with_slab(cpu, |s, src| s.kmalloc(src, size, gfp))
        })
    }

    /// `kfree(addr)`.
    #[pyo3(signature = (addr, cpu = 0))]
    fn kfree(&self, addr: u64, cpu: u32) -> PyResult<()> {
        guarded(|| self.shared.lock().with_slab(cpu, |s, src| s.kfree(src, addr)))
    }

    /// Time `count` kmalloc(size)+kfree pairs in a native loop (no Python
    /// per operation, GIL released); returns nanoseconds per pair.
    #[pyo3(signature = (size = 64, count = 1_000_000, cpu = 0))]
    fn bench_kmalloc_kfree_pairs(&self, py: Python<'_>, size: u64, count: u64, cpu: u32) -> PyResult<f64> {
        py.detach(|| {
            guarded(|| {
                self.shared.lock().with_slab(cpu, |s, src| {
                    let start = std::time::Instant::now();
                    for _ in 0..count {
                        let obj = s.kmalloc(src, size, Gfp(0))?;
                        s.kfree(src, obj)?;
                    }
                    Ok(start.elapsed().as_nanos() as f64 / count.max(1) as f64)
                })
            })
        })
    }

    /// `ksize(addr)`: the usable size of a live kmalloc object.
    fn ksize(&self, addr: u64) -> PyResult<u64> {
        guarded(|| self.shared.lock().with_slab(0, |s, _| s.ksize(addr)))
    }

    /// `krealloc(addr, new_size, gfp)`.
    #[pyo3(signature = (addr, new_size, gfp = None, cpu = 0))]
    fn krealloc(&self, addr: u64, new_size: u64, gfp: Option<&str>, cpu: u32) -> PyResult<u64> {
        guarded(|| {
            let gfp = kmalloc_gfp(gfp)?;
            self.shared.lock().with_slab(cpu, |s, src| s.krealloc(src, addr, new_size, gfp))
        })
    }

    /// The slab order SLUB gives objects of `size` bytes (`s->size`) on this
    /// machine (`calculate_order`: slub_min/max_order, slub_min_objects and
    /// the CPUs), without creating a cache.
    fn slab_order(&self, size: u32) -> PyResult<u32> {
        guarded(|| {
            self.shared.lock().with_slab(0, |s, _| {
                let params = mmsvc_core::slab::cache::order_params(s.config());
                mmsvc_core::slab::order::calculate_order(size, &params)
                    .ok_or_else(|| MmError::invalid("size", format!("no slab order holds an object of {size} bytes")))
            })
        })
    }

    /// `kmem_cache_create`: returns the cache id (an existing id when merged).
    #[pyo3(signature = (name, size, align = 0, flags = Vec::new(), ctor = false))]
    fn kmem_cache_create(&self, name: &str, size: u32, align: u32, flags: Vec<String>, ctor: bool) -> PyResult<u32> {
        guarded(|| {
            let f = slab_flags(&flags)?;
            self.shared.lock().with_slab(0, |s, src| s.kmem_cache_create(src, name, size, align, f, ctor)).map(|c| c.0)
        })
    }

    /// `kmem_cache_alloc(cache)`.
    #[pyo3(signature = (cache, cpu = 0))]
    fn kmem_cache_alloc(&self, cache: u32, cpu: u32) -> PyResult<u64> {
        guarded(|| self.shared.lock().with_slab(cpu, |s, src| s.kmem_cache_alloc(src, cache_arg(cache))))
    }

    /// `kmem_cache_free(cache, addr)`.
    #[pyo3(signature = (cache, addr, cpu = 0))]
    fn kmem_cache_free(&self, cache: u32, addr: u64, cpu: u32) -> PyResult<()> {
        guarded(|| self.shared.lock().with_slab(cpu, |s, src| s.kmem_cache_free(src, cache_arg(cache), addr)))
    }

    /// `kmem_cache_shrink(cache)`: pages given back.
    fn kmem_cache_shrink(&self, cache: u32) -> PyResult<u64> {
        guarded(|| self.shared.lock().with_slab(0, |s, src| s.kmem_cache_shrink(src, cache_arg(cache))))
    }

    /// `kmem_cache_destroy(cache)`.
    fn kmem_cache_destroy(&self, cache: u32) -> PyResult<()> {
        guarded(|| self.shared.lock().with_slab(0, |s, src| s.kmem_cache_destroy(src, cache_arg(cache))))
    }

    /// The id of the cache called `name`, or None.
    fn find_cache(&self, name: &str) -> PyResult<Option<u32>> {
        guarded(|| self.shared.lock().with_slab(0, |s, _| Ok(s.find_cache(name).map(|c| c.0))))
    }

    /// `/proc/slabinfo`.
    fn slabinfo(&self) -> PyResult<String> {
        guarded(|| self.shared.lock().with_slab(0, |s, _| Ok(s.slabinfo())))
    }

    /// Record slab allocations and frees (for debug plugins).
    fn set_slab_event_recording(&self, on: bool) -> PyResult<()> {
        guarded(|| {
            self.shared.lock().with_slab(0, |s, _| {
                s.set_recording(on);
                Ok(())
            })
        })
    }

    /// Take the recorded slab events: `(kind, cache name, addr, size)`.
    fn drain_slab_events(&self) -> PyResult<Vec<(&'static str, String, u64, u64)>> {
        guarded(|| {
            self.shared.lock().with_slab(0, |s, _| {
                let events = s.drain_events();
                Ok(events
                    .into_iter()
                    .map(|e| {
                        let kind = match e.kind {
                            mmsvc_core::slab::SlabEventKind::Alloc => "alloc",
                            mmsvc_core::slab::SlabEventKind::Free => "free",
                        };
                        let cache = e
                            .cache
                            .and_then(|c| s.cache(c).map(|k| k.name.clone()))
                            .unwrap_or_else(|| "kmalloc_large".to_string());
                        (kind, cache, e.addr, e.size)
                    })
                    .collect())
            })
        })
    }

    /// Every cache's /proc/slabinfo columns, as tuples `(name, active_objs,
    /// num_objs, objsize, objperslab, pagesperslab, active_slabs, num_slabs)`.
    fn slab_caches(&self) -> PyResult<Vec<SlabRow>> {
        guarded(|| {
            self.shared.lock().with_slab(0, |s, _| {
                Ok(s.all_stats()
                    .into_iter()
                    .map(|c| {
                        (c.name, c.active_objs, c.num_objs, c.objsize, c.objperslab, c.pagesperslab, c.active_slabs, c.num_slabs)
                    })
                    .collect())
            })
        })
    }

    /// SReclaimable and SUnreclaim pages (meminfo's Slab lines).
    fn slab_meminfo(&self) -> PyResult<(u64, u64)> {
        guarded(|| {
            self.shared.lock().with_slab(0, |s, _| {
                let m = s.meminfo();
                Ok((m.sreclaimable, m.sunreclaim))
            })
        })
    }
}
