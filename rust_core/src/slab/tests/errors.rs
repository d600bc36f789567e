//! Every error case leaves the allocator and the page source untouched.

use super::{assert_same, boot, check_pages, snapshot};
use crate::error::{MmError, MmErrorKind};
use crate::page_source::BumpPageSource;
use crate::slab::*;

#[test]
fn double_free_detected_and_harmless() {
    let (mut a, mut src) = boot(SlabConfig::v6_1());
    let p = a.kmalloc(&mut src, 64, Gfp::KERNEL).unwrap();
    let _q = a.kmalloc(&mut src, 64, Gfp::KERNEL).unwrap();
    a.kfree(&mut src, p).unwrap();
    let snap = snapshot(&a, &src);
    let e = a.kfree(&mut src, p).unwrap_err();
    assert_eq!(e, MmError::ObjectDoubleFree { addr: p, cache: "kmalloc-64".into() });
    assert_eq!(e.kind(), MmErrorKind::DoubleFree);
    assert_same(&snap, &snapshot(&a, &src));
    // Never allocated object of a live slab: also free already.
    let never = p + 64 * 10;
    assert!(matches!(a.kfree(&mut src, never), Err(MmError::ObjectDoubleFree { .. })));
    assert_same(&snap, &snapshot(&a, &src));
}

#[test]
fn not_an_object_cases() {
    let (mut a, mut src) = boot(SlabConfig::v6_1());
    let p = a.kmalloc(&mut src, 100, Gfp::KERNEL).unwrap();
    let snap = snapshot(&a, &src);
    for bad in [p + 1, p + 8, p + 127, PAGE_OFFSET_L4 - 4096, 12345, PAGE_OFFSET_L4 + 0x0FFF_F000_0000, u64::MAX] {
        let e = a.kfree(&mut src, bad).unwrap_err();
        assert!(matches!(e, MmError::NotAnObject { .. }), "{bad:#x}: {e:?}");
        assert_eq!(e.kind(), MmErrorKind::NotAllocated);
        assert!(a.ksize(bad).is_err());
        assert!(a.krealloc(&mut src, bad, 10, Gfp::KERNEL).is_err());
        assert_same(&snap, &snapshot(&a, &src));
    }
    assert_eq!(
        a.kfree(&mut src, p + 1).unwrap_err(),
        MmError::NotAnObject { addr: p + 1, cache: "kmalloc-128".into() }
    );
    // Past the last object of a slab (kmalloc-96: 42 objects, 32 bytes left).
    let q = a.kmalloc(&mut src, 96, Gfp::KERNEL).unwrap();
    let tail = q - (q - PAGE_OFFSET_L4) % 4096 + 42 * 96;
    let snap = snapshot(&a, &src);
    assert!(matches!(a.kfree(&mut src, tail), Err(MmError::NotAnObject { .. })));
    assert_same(&snap, &snapshot(&a, &src));
}

#[test]
fn wrong_cache_and_dead_cache() {
    let (mut a, mut src) = boot(SlabConfig::v6_1());
    let c1 = a.kmem_cache_create(&mut src, "one", 40, 0, SlabFlags::NONE, true).unwrap();
    let c2 = a.kmem_cache_create(&mut src, "two", 40, 0, SlabFlags::NONE, true).unwrap();
    assert_ne!(c1, c2);
    let o = a.kmem_cache_alloc(&mut src, c1).unwrap();
    let k = a.kmalloc(&mut src, 40, Gfp::KERNEL).unwrap();
    let big = a.kmalloc(&mut src, 50000, Gfp::KERNEL).unwrap();
    let snap = snapshot(&a, &src);
    let e = a.kmem_cache_free(&mut src, c2, o).unwrap_err();
    assert_eq!(e.kind(), MmErrorKind::InvalidState);
    assert_eq!(a.kmem_cache_free(&mut src, c2, k).unwrap_err().kind(), MmErrorKind::InvalidState);
    assert_eq!(a.kmem_cache_free(&mut src, c2, big).unwrap_err().kind(), MmErrorKind::InvalidState);
    assert!(matches!(a.kmem_cache_free(&mut src, c2, o + 1), Err(MmError::InvalidState(_))));
    assert!(matches!(a.kmem_cache_free(&mut src, c2, 4096), Err(MmError::NotAnObject { .. })));
    assert!(a.kmem_cache_free(&mut src, CacheId(9999), o).is_err());
    assert!(a.kmem_cache_alloc(&mut src, CacheId(9999)).is_err());
    assert_same(&snap, &snapshot(&a, &src));
    // kfree accepts any slab object.
    a.kfree(&mut src, o).unwrap();
    a.kmem_cache_destroy(&mut src, c1).unwrap();
    let snap = snapshot(&a, &src);
    assert!(a.kmem_cache_alloc(&mut src, c1).is_err());
    assert!(a.kmem_cache_free(&mut src, c1, o).is_err());
    assert!(a.kmem_cache_destroy(&mut src, c1).is_err());
    assert!(a.kmem_cache_shrink(&mut src, c1).is_err());
    assert_same(&snap, &snapshot(&a, &src));
}

#[test]
fn destroy_with_live_objects_or_boot_cache() {
    let (mut a, mut src) = boot(SlabConfig::v6_1());
    let c = a.kmem_cache_create(&mut src, "busy", 128, 0, SlabFlags::HWCACHE_ALIGN, false).unwrap();
    let o = a.kmem_cache_alloc(&mut src, c).unwrap();
    let snap = snapshot(&a, &src);
    let e = a.kmem_cache_destroy(&mut src, c).unwrap_err();
    assert_eq!(e.kind(), MmErrorKind::InvalidState);
    assert_same(&snap, &snapshot(&a, &src));
    for name in ["kmalloc-64", "kmem_cache", "kmem_cache_node", "kmalloc-rcl-8k"] {
        let id = a.find_cache(name).unwrap();
        assert_eq!(a.kmem_cache_destroy(&mut src, id).unwrap_err().kind(), MmErrorKind::InvalidState);
    }
    assert_same(&snap, &snapshot(&a, &src));
    a.kmem_cache_free(&mut src, c, o).unwrap();
    let in_use = src.in_use;
    let meta = a.cache_stats(a.kmem_cache_cache()).unwrap().inuse_objs;
    a.kmem_cache_destroy(&mut src, c).unwrap();
    assert!(src.in_use < in_use);
    assert_eq!(a.cache_stats(a.kmem_cache_cache()).unwrap().inuse_objs, meta - 1);
    assert!(a.find_cache("busy").is_none());
    check_pages(&a, &src);
}

#[test]
fn create_invalid_arguments() {
    let (mut a, mut src) = boot(SlabConfig::v6_1());
    let snap = snapshot(&a, &src);
    let f = SlabFlags::NONE;
    for r in [
        a.kmem_cache_create(&mut src, "", 8, 0, f, false),
        a.kmem_cache_create(&mut src, "z", 0, 0, f, false),
        a.kmem_cache_create(&mut src, "z", u32::MAX, 0, f, false),
        a.kmem_cache_create(&mut src, "z", (KMALLOC_MAX_SIZE + 1) as u32, 0, f, false),
        a.kmem_cache_create(&mut src, "z", 8, 3, f, false),
        a.kmem_cache_create(&mut src, "z", 8, 8192, f, false),
        a.kmem_cache_create(&mut src, "z", 8, 0, SlabFlags(0x8000_0000), false),
    ] {
        assert_eq!(r.unwrap_err().kind(), MmErrorKind::InvalidArgument);
    }
    assert_same(&snap, &snapshot(&a, &src));
    // A usercopy region outside the object is dropped (the cache may merge).
    let m = a.kmem_cache_create(&mut src, "m1", 8, 0, f, false).unwrap();
    assert_eq!(a.kmem_cache_create_usercopy(&mut src, "m2", 8, 0, f, 4, 8, false).unwrap(), m);
    assert_eq!(a.kmem_cache_create_usercopy(&mut src, "m3", 8, 0, f, u32::MAX, 2, false).unwrap(), m);
    // The largest cache: one 4 MiB object in an order-10 slab.
    let c = a.kmem_cache_create(&mut src, "huge", KMALLOC_MAX_SIZE as u32, 0, f, false).unwrap();
    assert_eq!(a.cache(c).unwrap().oo, OrderObjects { order: 10, objects: 1 });
}

#[test]
fn out_of_memory_changes_nothing() {
    let mut src = BumpPageSource::new(0x1000, 0x1000 + 400);
    let mut a = SlabAllocator::new(SlabConfig::v6_1(), &mut src).unwrap();
    // Fill the source.
    let mut held = Vec::new();
    while let Ok(p) = a.kmalloc(&mut src, 4096, Gfp::KERNEL) {
        held.push(p);
    }
    let snap = snapshot(&a, &src);
    for size in [8, 64, 512, 8192, 100_000] {
        assert_eq!(a.kmalloc(&mut src, size, Gfp::KERNEL).unwrap_err().kind(), MmErrorKind::OutOfMemory);
        assert_same(&snap, &snapshot(&a, &src));
    }
    // Cache creation needs a kmem_cache object: once its slab is full and
    // no page is left, creation fails cleanly.
    let mut made = 0;
    loop {
        let name = format!("c{made}");
        match a.kmem_cache_create(&mut src, &name, 40 + made, 0, SlabFlags::NONE, true) {
            Ok(_) => made += 1,
            Err(e) => {
                assert_eq!(e.kind(), MmErrorKind::OutOfMemory);
                break;
            }
        }
        assert!(made < 1000);
    }
    let snap = snapshot(&a, &src);
    assert!(a.kmem_cache_create(&mut src, "last", 40, 0, SlabFlags::NONE, true).is_err());
    assert_same(&snap, &snapshot(&a, &src));
    check_pages(&a, &src);
    for p in held {
        a.kfree(&mut src, p).unwrap();
    }
    check_pages(&a, &src);
}

/// A source that refuses allocations once `budget` is spent.
#[derive(Debug)]
struct Budget {
    inner: BumpPageSource,
    budget: usize,
}

impl crate::page_source::PageSource for Budget {
    fn alloc_pages(&mut self, order: u32, nid: Option<i32>, usage: crate::page_source::PageUse) -> crate::Result<u64> {
        if self.budget == 0 {
            return Err(MmError::OutOfMemory { request: "budget".into() });
        }
        self.budget -= 1;
        self.inner.alloc_pages(order, nid, usage)
    }
    fn free_pages(&mut self, pfn: u64, order: u32, usage: crate::page_source::PageUse) -> crate::Result<()> {
        self.inner.free_pages(pfn, order, usage)
    }
}

fn fill_cpu_slab(a: &mut SlabAllocator, src: &mut Budget, c: CacheId) -> Vec<u64> {
    let mut v = Vec::new();
    loop {
        let s = a.cache_stats(c).unwrap();
        if s.inuse_objs == s.num_objs {
            return v;
        }
        v.push(a.kmem_cache_alloc(src, c).unwrap());
    }
}

#[test]
fn cache_creation_undone_exactly() {
    // kmem_cache needs a new slab (granted), kmem_cache_node needs one too
    // (refused): the kmem_cache object and its new slab are undone.
    let mut src = Budget { inner: BumpPageSource::new(0x1000, 0x10_0000), budget: usize::MAX };
    let mut cfg = SlabConfig::v6_1();
    cfg.cpu_partial = false;
    let mut a = SlabAllocator::new(cfg, &mut src).unwrap();
    let (kc, kcn) = (a.kmem_cache_cache(), a.kmem_cache_node_cache());
    let held_kc = fill_cpu_slab(&mut a, &mut src, kc);
    let held_kcn = fill_cpu_slab(&mut a, &mut src, kcn);
    src.budget = 1;
    assert_eq!(a.cache_stats(kcn).unwrap().nr_partial, 0);
    let snap = format!("{}\n{}", super::fingerprint(&a), src.inner.in_use);
    let e = a.kmem_cache_create(&mut src, "undo_new", 40, 0, SlabFlags::NONE, true).unwrap_err();
    assert_eq!(e.kind(), MmErrorKind::OutOfMemory);
    assert_same(&snap, &format!("{}\n{}", super::fingerprint(&a), src.inner.in_use));

    // Same with kmem_cache refilled from its partial list.
    a.kmem_cache_free(&mut src, kc, held_kc[0]).unwrap();
    let _more = fill_cpu_slab(&mut a, &mut src, kc);
    src.budget = usize::MAX;
    let extra = a.kmem_cache_alloc(&mut src, kc).unwrap();
    let _ = extra;
    // Put one object of an older kmem_cache slab back so a partial slab exists
    // while the cpu slab is full.
    a.kmem_cache_free(&mut src, kc, held_kc[1]).unwrap();
    let _fill = fill_cpu_slab_until_cpu_full(&mut a, &mut src, kc);
    src.budget = 0;
    // kmem_cache: full cpu slab and one partial slab; kmem_cache_node: full.
    let s = a.cache_stats(kc).unwrap();
    assert_eq!((s.nr_partial, s.num_objs - s.inuse_objs), (1, 1));
    let s = a.cache_stats(kcn).unwrap();
    assert_eq!(s.num_objs, s.inuse_objs);
    let snap = format!("{}\n{}", super::fingerprint(&a), src.inner.in_use);
    let e = a.kmem_cache_create(&mut src, "undo_partial", 48, 0, SlabFlags::NONE, true).unwrap_err();
    assert_eq!(e.kind(), MmErrorKind::OutOfMemory);
    assert_same(&snap, &format!("{}\n{}", super::fingerprint(&a), src.inner.in_use));
    drop(held_kcn);
}

/// Allocate until the cpu slab has no free object, leaving partial slabs alone.
fn fill_cpu_slab_until_cpu_full(a: &mut SlabAllocator, src: &mut Budget, c: CacheId) -> Vec<u64> {
    let mut v = Vec::new();
    loop {
        let s = a.cache_stats(c).unwrap();
        // Free objects outside partial slabs are the cpu slab's.
        if s.num_objs - s.inuse_objs == s.num_objs - s.active_objs {
            return v;
        }
        v.push(a.kmem_cache_alloc(src, c).unwrap());
    }
}

#[test]
fn creation_is_all_or_nothing_under_any_budget() {
    for (rnd, nodes) in [(false, 1), (true, 1), (true, 3)] {
        let mut cfg = SlabConfig::v6_1();
        cfg.freelist_random = rnd;
        cfg.nr_node_ids = nodes;
        let mut src = Budget { inner: BumpPageSource::new(0x1000, 0x10_0000), budget: usize::MAX };
        let mut a = SlabAllocator::new(cfg, &mut src).unwrap();
        let mut made = 0;
        let mut failures = 0;
        for round in 0..300u32 {
            src.budget = (round % 3) as usize;
            let snap = format!("{}\n{}", super::fingerprint(&a), src.inner.in_use);
            let size = 8 + (round * 37) % 3000;
            match a.kmem_cache_create(&mut src, &format!("c{round}"), size, 0, SlabFlags::NONE, true) {
                Ok(_) => made += 1,
                Err(e) => {
                    assert_eq!(e.kind(), MmErrorKind::OutOfMemory);
                    assert_same(&snap, &format!("{}\n{}", super::fingerprint(&a), src.inner.in_use));
                    failures += 1;
                }
            }
        }
        assert!(made > 0 && failures > 0, "{made} {failures}");
        src.budget = usize::MAX;
        check_pages(&a, &src.inner);
    }
}

/// A source that hands out the same pages twice.
#[derive(Debug)]
struct Liar {
    inner: BumpPageSource,
    repeat: Option<u64>,
}

impl crate::page_source::PageSource for Liar {
    fn alloc_pages(&mut self, order: u32, nid: Option<i32>, usage: crate::page_source::PageUse) -> crate::Result<u64> {
        match self.repeat {
            Some(p) => Ok(p),
            None => self.inner.alloc_pages(order, nid, usage),
        }
    }
    fn free_pages(&mut self, pfn: u64, order: u32, usage: crate::page_source::PageUse) -> crate::Result<()> {
        self.inner.free_pages(pfn, order, usage)
    }
}

#[test]
fn misbehaving_source_is_refused() {
    let mut src = Liar { inner: BumpPageSource::new(0x1000, 0x10_0000), repeat: None };
    let mut a = SlabAllocator::new(SlabConfig::v6_1(), &mut src).unwrap();
    let p = a.kmalloc(&mut src, 64, Gfp::KERNEL).unwrap();
    src.repeat = Some((p - PAGE_OFFSET_L4) / 4096);
    let snap = super::fingerprint(&a);
    assert_eq!(a.kmalloc(&mut src, 512, Gfp::KERNEL).unwrap_err().kind(), MmErrorKind::InvalidState);
    assert_eq!(a.kmalloc(&mut src, 50_000, Gfp::KERNEL).unwrap_err().kind(), MmErrorKind::InvalidState);
    assert_same(&snap, &super::fingerprint(&a));
    src.repeat = None;
    a.kfree(&mut src, p).unwrap();
}
