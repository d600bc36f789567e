//! Partial lists, empty slabs, pages going back to the source.

use super::{boot, check_pages};
use crate::slab::*;

#[test]
fn empty_slabs_beyond_min_partial_are_freed() {
    let mut cfg = SlabConfig::v6_1();
    cfg.cpu_partial = false;
    let (mut a, mut src) = boot(cfg);
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
    let mut cfg = SlabConfig::v6_1();
    cfg.cpu_partial = false;
    let (mut a, mut src) = boot(cfg);
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

/// Free one object of each of 20 slabs (19 full ones, the 20th active) and
/// return (node partial, cpu partial) slab counts.
fn one_free_per_slab(
    cfg: SlabConfig,
) -> (u64, u64, SlabAllocator, crate::page_source::BumpPageSource, CacheId, Vec<u64>) {
    let (mut a, mut src) = boot(cfg);
    let c = a.kmem_cache_create(&mut src, "objs", 512, 0, SlabFlags::NONE, false).unwrap();
    let per = a.cache(c).unwrap().oo.objects as usize;
    let objs: Vec<u64> = (0..per * 20).map(|_| a.kmem_cache_alloc(&mut src, c).unwrap()).collect();
    for i in 0..19 {
        a.kmem_cache_free(&mut src, c, objs[i * per]).unwrap();
    }
    let s = a.cache_stats(c).unwrap();
    (s.nr_partial, s.nr_cpu_partial, a, src, c, objs)
}

#[test]
fn cpu_partial_lists_6_1_count_slabs() {
    // kmalloc-512-like cache: cpu_partial 52 objects -> cpu_partial_slabs
    // ceil(104 / 8) = 13; a full list of 13 is drained before the 14th.
    let (node, cpu, a, _, c, _) = one_free_per_slab(SlabConfig::v6_1());
    assert_eq!(a.cache(c).unwrap().cpu_partial_slabs, 13);
    assert_eq!((node, cpu), (13, 6));
}

#[test]
fn cpu_partial_lists_5_14_count_objects() {
    // cpu_partial 13 objects: the list drains once it holds more than 13.
    let (node, cpu, a, _, c, _) = one_free_per_slab(SlabConfig::v5_14());
    assert_eq!(a.cache(c).unwrap().cpu_partial, 13);
    assert_eq!((node, cpu), (14, 5));
}

#[test]
fn cpu_partial_used_first_and_flushed_by_shrink() {
    let (_, _, mut a, mut src, c, objs) = one_free_per_slab(SlabConfig::v6_1());
    let per = a.cache(c).unwrap().oo.objects as usize;
    // The active slab is full: the next object comes from the newest cpu
    // partial slab (slab 18), not from the node list.
    let o = a.kmem_cache_alloc(&mut src, c).unwrap();
    assert_eq!(o, objs[18 * per]);
    let s = a.cache_stats(c).unwrap();
    assert_eq!((s.nr_partial, s.nr_cpu_partial, s.num_slabs), (13, 5, 20));
    // An object freed into a frozen slab leaves it where it is, even empty.
    for k in 1..per {
        a.kmem_cache_free(&mut src, c, objs[18 * per + k]).unwrap();
    }
    a.kmem_cache_free(&mut src, c, o).unwrap();
    assert_eq!(a.cache_stats(c).unwrap().num_slabs, 20);
    // Everything else freed; shrink flushes the cpu lists and frees all.
    for (i, &p) in objs.iter().enumerate() {
        if i / per != 18 && i % per != 0 || i / per == 19 && i % per == 0 {
            a.kmem_cache_free(&mut src, c, p).unwrap();
        }
    }
    assert_eq!(a.live_objects(c), Some(0));
    let before = src.in_use;
    let freed = a.kmem_cache_shrink(&mut src, c).unwrap();
    let s = a.cache_stats(c).unwrap();
    assert_eq!((s.num_slabs, s.nr_partial, s.nr_cpu_partial), (0, 0, 0));
    assert_eq!(src.in_use, before - freed);
    check_pages(&a, &src);
}

#[test]
fn several_cpus_have_their_own_slabs() {
    let mut cfg = SlabConfig::v6_1();
    cfg.nr_cpu_ids = 2;
    let (mut a, mut src) = boot(cfg);
    assert!(a.set_cpu(2).is_err());
    assert_eq!(a.cpu(), 0);
    let p0 = a.kmalloc(&mut src, 64, Gfp::KERNEL).unwrap();
    a.set_cpu(1).unwrap();
    let p1 = a.kmalloc(&mut src, 64, Gfp::KERNEL).unwrap();
    assert_ne!((p0 - PAGE_OFFSET_L4) / 4096, (p1 - PAGE_OFFSET_L4) / 4096);
    // Remote free into cpu 0's active slab: it stays active there.
    a.kfree(&mut src, p0).unwrap();
    a.set_cpu(0).unwrap();
    assert_eq!(a.kmalloc(&mut src, 64, Gfp::KERNEL).unwrap(), p0);
    let id = a.find_cache("kmalloc-64").unwrap();
    assert_eq!(a.cache_stats(id).unwrap().num_slabs, 2);
    a.kfree(&mut src, p0).unwrap();
    a.kfree(&mut src, p1).unwrap();
    check_pages(&a, &src);
}

/// Counts `mempolicy_slab_node` calls: SLUB asks the policy (which moves an
/// interleave on) only when no partial slab can serve and a new slab is made.
struct Asking {
    inner: crate::page_source::BumpPageSource,
    asked: u32,
}

impl crate::page_source::PageSource for Asking {
    fn alloc_pages(&mut self, order: u32, nid: Option<i32>, usage: crate::page_source::PageUse) -> crate::Result<u64> {
        self.inner.alloc_pages(order, nid, usage)
    }
    fn free_pages(&mut self, pfn: u64, order: u32, usage: crate::page_source::PageUse) -> crate::Result<()> {
        self.inner.free_pages(pfn, order, usage)
    }
    fn mempolicy_slab_node(&mut self) {
        self.asked += 1;
    }
}

#[test]
fn the_policy_is_asked_once_for_each_new_slab() {
    let mut cfg = SlabConfig::v6_1();
    cfg.cpu_partial = false;
    let (mut a, inner) = boot(cfg);
    let mut src = Asking { inner, asked: 0 };
    let c = a.kmem_cache_create(&mut src, "asking", 512, 0, SlabFlags::NONE, false).unwrap();
    let per = a.cache(c).unwrap().oo.objects as usize;
    let before = (src.asked, a.cache_stats(c).unwrap().num_slabs);
    let objs: Vec<u64> = (0..per * 3).map(|_| a.kmem_cache_alloc(&mut src, c).unwrap()).collect();
    let slabs = a.cache_stats(c).unwrap().num_slabs - before.1;
    assert_eq!((slabs, src.asked - before.0), (3, 3));
    // a slab with room again serves from the node's partial list: not asked
    a.kmem_cache_free(&mut src, c, objs[0]).unwrap();
    a.kmem_cache_alloc(&mut src, c).unwrap();
    a.kmem_cache_alloc(&mut src, c).unwrap();
    assert_eq!(src.asked - before.0, 4);
    assert_eq!(a.cache_stats(c).unwrap().num_slabs - before.1, 4);
}
