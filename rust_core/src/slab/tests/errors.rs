//! Every error case leaves the allocator and the page source untouched.

use super::{boot, check_pages, snapshot};
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
    assert_eq!(snapshot(&a, &src), snap);
    // Never allocated object of a live slab: also free already.
    let never = p + 64 * 10;
    assert!(matches!(a.kfree(&mut src, never), Err(MmError::ObjectDoubleFree { .. })));
    assert_eq!(snapshot(&a, &src), snap);
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
        assert_eq!(snapshot(&a, &src), snap);
    }
    assert_eq!(a.kfree(&mut src, p + 1).unwrap_err(), MmError::NotAnObject { addr: p + 1, cache: "kmalloc-128".into() });
    // Past the last object of a slab (kmalloc-96: 42 objects, 32 bytes left).
    let q = a.kmalloc(&mut src, 96, Gfp::KERNEL).unwrap();
    let tail = q - (q - PAGE_OFFSET_L4) % 4096 + 42 * 96;
    let snap = snapshot(&a, &src);
    assert!(matches!(a.kfree(&mut src, tail), Err(MmError::NotAnObject { .. })));
    assert_eq!(snapshot(&a, &src), snap);
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
    assert_eq!(snapshot(&a, &src), snap);
    // kfree accepts any slab object.
    a.kfree(&mut src, o).unwrap();
    a.kmem_cache_destroy(&mut src, c1).unwrap();
    let snap = snapshot(&a, &src);
    assert!(a.kmem_cache_alloc(&mut src, c1).is_err());
    assert!(a.kmem_cache_free(&mut src, c1, o).is_err());
    assert!(a.kmem_cache_destroy(&mut src, c1).is_err());
    assert!(a.kmem_cache_shrink(&mut src, c1).is_err());
    assert_eq!(snapshot(&a, &src), snap);
}

#[test]
fn destroy_with_live_objects_or_boot_cache() {
    let (mut a, mut src) = boot(SlabConfig::v6_1());
    let c = a.kmem_cache_create(&mut src, "busy", 128, 0, SlabFlags::HWCACHE_ALIGN, false).unwrap();
    let o = a.kmem_cache_alloc(&mut src, c).unwrap();
    let snap = snapshot(&a, &src);
    let e = a.kmem_cache_destroy(&mut src, c).unwrap_err();
    assert_eq!(e.kind(), MmErrorKind::InvalidState);
    assert_eq!(snapshot(&a, &src), snap);
    for name in ["kmalloc-64", "kmem_cache", "kmem_cache_node", "kmalloc-rcl-8k"] {
        let id = a.find_cache(name).unwrap();
        assert_eq!(a.kmem_cache_destroy(&mut src, id).unwrap_err().kind(), MmErrorKind::InvalidState);
    }
    assert_eq!(snapshot(&a, &src), snap);
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
        a.kmem_cache_create_usercopy(&mut src, "z", 8, 0, f, 4, 8, false),
        a.kmem_cache_create_usercopy(&mut src, "z", 8, 0, f, u32::MAX, 2, false),
    ] {
        assert_eq!(r.unwrap_err().kind(), MmErrorKind::InvalidArgument);
    }
    assert_eq!(snapshot(&a, &src), snap);
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
        assert_eq!(snapshot(&a, &src), snap);
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
    assert_eq!(snapshot(&a, &src), snap);
    check_pages(&a, &src);
    for p in held {
        a.kfree(&mut src, p).unwrap();
    }
    check_pages(&a, &src);
}

#[test]
fn undo_restores_exactly_when_node_object_fails() {
    // A source whose pages run out between the kmem_cache object (from a
    // fresh slab) and the kmem_cache_node object (needing one too).
    let mut src = BumpPageSource::new(0x1000, 0x1000 + 200);
    let mut a = SlabAllocator::new(SlabConfig::v6_1(), &mut src).unwrap();
    // Fill kmem_cache_node's current slab and kmem_cache's, then leave exactly one page.
    let kc = a.kmem_cache_cache();
    let kcn = a.kmem_cache_node_cache();
    let mut kc_objs = Vec::new();
    let mut kcn_objs = Vec::new();
    // Fill both caches' slabs completely.
    loop {
        let s = a.cache_stats(kc).unwrap();
        if s.inuse_objs == s.num_objs {
            break;
        }
        kc_objs.push(a.kmem_cache_alloc(&mut src, kc).unwrap());
    }
    loop {
        let s = a.cache_stats(kcn).unwrap();
        if s.inuse_objs == s.num_objs {
            break;
        }
        kcn_objs.push(a.kmem_cache_alloc(&mut src, kcn).unwrap());
    }
    let mut fill = Vec::new();
    while src.next + 1 < src.limit || !src.recycled.is_empty() {
        fill.push(a.kmalloc(&mut src, 4096, Gfp::KERNEL).unwrap_or_else(|_| a.kmalloc(&mut src, 8192, Gfp::KERNEL).unwrap()));
        if src.limit - src.next <= 1 && src.recycled.is_empty() {
            break;
        }
    }
    if src.limit - src.next == 1 {
        let snap = snapshot(&a, &src);
        let e = a.kmem_cache_create(&mut src, "needs_two_pages", 40, 0, SlabFlags::NONE, true).unwrap_err();
        assert_eq!(e.kind(), MmErrorKind::OutOfMemory);
        assert_eq!(snapshot(&a, &src), snap);
    }
    check_pages(&a, &src);
}
