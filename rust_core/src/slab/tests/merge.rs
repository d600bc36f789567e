//! Cache merging (`find_mergeable`, `__kmem_cache_alias`).

use super::{boot, check_pages};
use crate::slab::*;

#[test]
fn compatible_caches_merge() {
    let (mut a, mut src) = boot(SlabConfig::v6_1());
    let n0 = a.all_stats().len();
    let x = a.kmem_cache_create(&mut src, "x", 40, 0, SlabFlags::NONE, false).unwrap();
    let y = a.kmem_cache_create(&mut src, "y", 40, 0, SlabFlags::NONE, false).unwrap();
    assert_eq!(x, y);
    let z = a.kmem_cache_create(&mut src, "z", 36, 0, SlabFlags::NONE, false).unwrap();
    assert_eq!(x, z);
    assert_eq!(a.cache(x).unwrap().refcount, 3);
    assert_eq!(a.cache(x).unwrap().aliases, ["y", "z"]);
    assert_eq!(a.all_stats().len(), n0 + 1);
    assert_eq!(a.find_cache("z"), Some(x));
    // SLAB_HWCACHE_ALIGN on a 40 byte request aligns to 64: no longer fits.
    let h = a.kmem_cache_create(&mut src, "h", 40, 0, SlabFlags::HWCACHE_ALIGN, false).unwrap();
    assert_ne!(h, x);
    assert_eq!(a.cache(h).unwrap().size(), 64);
    let h2 = a.kmem_cache_create(&mut src, "h2", 64, 64, SlabFlags::NONE, false).unwrap();
    assert_eq!(h, h2);
    // Aliases only drop a reference.
    let o = a.kmem_cache_alloc(&mut src, y).unwrap();
    a.kmem_cache_destroy(&mut src, y).unwrap();
    a.kmem_cache_destroy(&mut src, z).unwrap();
    assert_eq!(a.cache(x).unwrap().refcount, 1);
    assert!(a.kmem_cache_destroy(&mut src, x).is_err());
    a.kmem_cache_free(&mut src, x, o).unwrap();
    a.kmem_cache_destroy(&mut src, x).unwrap();
    assert!(a.cache(x).is_none());
    check_pages(&a, &src);
}

#[test]
fn merged_object_size_grows() {
    let (mut a, mut src) = boot(SlabConfig::v5_14());
    let p = a.kmem_cache_create(&mut src, "p", 30, 0, SlabFlags::NONE, false).unwrap();
    assert_eq!(a.cache(p).unwrap().object_size(), 30);
    let q = a.kmem_cache_create(&mut src, "q", 32, 0, SlabFlags::NONE, false).unwrap();
    assert_eq!(p, q);
    assert_eq!(a.cache(p).unwrap().object_size(), 32);
    assert_eq!(a.cache(p).unwrap().layout.inuse, 32);
}

#[test]
fn incompatible_caches_do_not_merge() {
    let (mut a, mut src) = boot(SlabConfig::v6_1());
    let base = a.kmem_cache_create(&mut src, "base", 40, 0, SlabFlags::NONE, false).unwrap();
    let cases = [
        ("ctor", SlabFlags::NONE, true),
        ("rcl", SlabFlags::RECLAIM_ACCOUNT, false),
        ("acct", SlabFlags::ACCOUNT, false),
        ("dma", SlabFlags::CACHE_DMA, false),
        ("rz", SlabFlags::RED_ZONE, false),
        ("poison", SlabFlags::POISON, false),
        ("user", SlabFlags::STORE_USER, false),
        ("rcu", SlabFlags::TYPESAFE_BY_RCU, false),
    ];
    for (name, flags, ctor) in cases {
        let id = a.kmem_cache_create(&mut src, name, 40, 0, flags, ctor).unwrap();
        assert_ne!(id, base, "{name}");
    }
    // Same flags twice merge with each other.
    let r2 = a.kmem_cache_create(&mut src, "rcl2", 40, 0, SlabFlags::RECLAIM_ACCOUNT, false).unwrap();
    assert_eq!(r2, a.find_cache("rcl").unwrap());
    // A much smaller object does not merge (waste of a word or more).
    let small = a.kmem_cache_create(&mut src, "small", 24, 0, SlabFlags::NONE, false).unwrap();
    assert_ne!(small, base);
    // Never into a cache with a constructor, a usercopy region, or a kmalloc cache.
    let uc = a.kmem_cache_create_usercopy(&mut src, "uc", 56, 0, SlabFlags::NONE, 0, 8, false).unwrap();
    let after = a.kmem_cache_create(&mut src, "after_uc", 56, 0, SlabFlags::NONE, false).unwrap();
    assert_ne!(uc, after);
    let k = a.kmem_cache_create(&mut src, "like64", 64, 0, SlabFlags::NONE, false).unwrap();
    assert_ne!(Some(k), a.find_cache("kmalloc-64"));
}

#[test]
fn nomerge_switch() {
    let mut cfg = SlabConfig::v6_1();
    cfg.slab_nomerge = true;
    let (mut a, mut src) = boot(cfg);
    let x = a.kmem_cache_create(&mut src, "x", 40, 0, SlabFlags::NONE, false).unwrap();
    let y = a.kmem_cache_create(&mut src, "y", 40, 0, SlabFlags::NONE, false).unwrap();
    assert_ne!(x, y);
}
