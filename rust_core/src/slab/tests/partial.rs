//! Partial lists, empty slabs, pages going back to the source.

use super::{boot, check_pages};
use crate::slab::*;

#[test]
fn empty_slabs_beyond_min_partial_are_freed() {
    let (mut a, mut src) = boot(SlabConfig::v6_1());
    let c = a.kmem_cache_create(&mut src, "objs", 512, 0, SlabFlags::NONE, false).unwrap();
    let per = a.cache(c).unwrap().oo.objects as usize;
    let pages_per = 1u64 << a.cache(c).unwrap().oo.order;
    let min_partial = a.cache(c).unwrap().min_partial as u64;
    assert_eq!((per, min_partial), (8, 5));
    let base = src.in_use;
    let objs: Vec<u64> = (0..per * 20).map(|_| a.kmem_cache_alloc(&mut src, c).unwrap()).collect();
    let s = a.cache_stats(c).unwrap();
    assert_eq!((s.num_slabs, s.nr_full, s.nr_partial), (20, 19, 0));
    assert_eq!(src.in_use, base + 20 * pages_per);
    // One object from each slab: full slabs become partial.
    for i in 0..20 {
        a.kmem_cache_free(&mut src, c, objs[i * per]).unwrap();
    }
    let s = a.cache_stats(c).unwrap();
    assert_eq!((s.nr_full, s.nr_partial), (0, 19));
    assert_eq!(s.inuse_objs, 20 * (per as u64 - 1));
    // SLUB's active_objs: free objects of the cpu slab count as active.
    assert_eq!(s.active_objs, s.num_objs - 19);
    // Free everything: slabs empty out; those found empty while the node
    // still has min_partial partial slabs go back.
    for (i, &o) in objs.iter().enumerate() {
        if i % per != 0 {
            a.kmem_cache_free(&mut src, c, o).unwrap();
        }
    }
    let s = a.cache_stats(c).unwrap();
    assert_eq!(s.inuse_objs, 0);
    // A slab emptied while nr_partial (itself included) >= min_partial is
    // discarded: min_partial - 1 stay on the list, plus the cpu slab.
    assert_eq!(s.nr_partial, min_partial - 1);
    assert_eq!(s.num_slabs, min_partial);
    assert_eq!(src.in_use, base + min_partial * pages_per);
    check_pages(&a, &src);
    // Shrink: everything goes back.
    let freed = a.kmem_cache_shrink(&mut src, c).unwrap();
    assert_eq!(freed, min_partial);
    assert_eq!(a.cache_stats(c).unwrap().num_slabs, 0);
    assert_eq!(src.in_use, base);
    // Allocation after a shrink starts a new slab.
    let o = a.kmem_cache_alloc(&mut src, c).unwrap();
    assert_eq!(a.cache_stats(c).unwrap().num_slabs, 1);
    a.kmem_cache_free(&mut src, c, o).unwrap();
    a.kmem_cache_destroy(&mut src, c).unwrap();
    check_pages(&a, &src);
}

#[test]
fn refill_from_partial_before_new_slab() {
    let (mut a, mut src) = boot(SlabConfig::v6_1());
    let c = a.kmem_cache_create(&mut src, "refill", 1024, 0, SlabFlags::NONE, false).unwrap();
    let per = a.cache(c).unwrap().oo.objects as usize;
    let objs: Vec<u64> = (0..per * 3).map(|_| a.kmem_cache_alloc(&mut src, c).unwrap()).collect();
    let slabs = a.cache_stats(c).unwrap().num_slabs;
    // Free one object of the first (full) slab: it goes to the partial list,
    // and is used once the cpu slab is exhausted.
    a.kmem_cache_free(&mut src, c, objs[1]).unwrap();
    assert_eq!(a.cache_stats(c).unwrap().nr_partial, 1);
    let again = a.kmem_cache_alloc(&mut src, c).unwrap();
    assert_eq!(again, objs[1]);
    assert_eq!(a.cache_stats(c).unwrap().num_slabs, slabs);
    assert_eq!(a.cache_stats(c).unwrap().nr_partial, 0);
}

#[test]
fn multi_page_slabs_map_every_page() {
    let (mut a, mut src) = boot(SlabConfig::v6_1());
    let mut ptrs = Vec::new();
    for _ in 0..8 {
        ptrs.push(a.kmalloc(&mut src, 4096, Gfp::KERNEL).unwrap());
    }
    // Objects on the last pages of an order-3 slab are found.
    for &p in &ptrs {
        assert_eq!(a.ksize(p).unwrap(), 4096);
    }
    for p in ptrs {
        a.kfree(&mut src, p).unwrap();
    }
    check_pages(&a, &src);
}
