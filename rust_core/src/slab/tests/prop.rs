//! Random kmalloc/kfree/krealloc/kmem_cache sequences against a model:
//! live objects never overlap, per-cache live counts and page counts are exact.

use std::collections::HashMap;

use proptest::prelude::*;

use super::{boot, check_pages};
use crate::slab::*;

#[derive(Debug, Clone)]
enum Op {
    Kmalloc(u64, u8),
    Kfree(usize),
    Krealloc(usize, u64),
    CacheAlloc(usize),
    CacheFree(usize),
    Shrink(usize),
    BadFree(usize, u64),
    SetCpu(u32),
}

fn size_strategy() -> impl Strategy<Value = u64> {
    prop_oneof![
        6 => 1u64..=256,
        3 => 257u64..=8192,
        1 => 8193u64..=40000,
        1 => Just(0u64),
    ]
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (size_strategy(), 0u8..4).prop_map(|(s, g)| Op::Kmalloc(s, g)),
        4 => any::<usize>().prop_map(Op::Kfree),
        2 => (any::<usize>(), size_strategy()).prop_map(|(i, s)| Op::Krealloc(i, s)),
        4 => (0usize..3).prop_map(Op::CacheAlloc),
        3 => any::<usize>().prop_map(Op::CacheFree),
        1 => (0usize..3).prop_map(Op::Shrink),
        1 => (any::<usize>(), 1u64..8).prop_map(|(i, o)| Op::BadFree(i, o)),
        1 => (0u32..4).prop_map(Op::SetCpu),
    ]
}

/// A live object of the model.
#[derive(Debug, Clone, Copy)]
struct Live {
    addr: u64,
    /// Cache it came from (None: large kmalloc).
    cache: Option<CacheId>,
    /// Via kmem_cache_alloc of custom cache index.
    custom: Option<usize>,
}

fn gfp_of(g: u8) -> Gfp {
    [Gfp::KERNEL, Gfp::DMA, Gfp::RECLAIMABLE, Gfp::ACCOUNT][g as usize % 4]
}

fn check(a: &SlabAllocator, src: &crate::page_source::BumpPageSource, live: &[Live], base: &HashMap<CacheId, u64>) {
    check_pages(a, src);
    // No overlap between live objects.
    let mut spans: Vec<(u64, u64)> = live.iter().map(|l| (l.addr, l.addr + a.ksize(l.addr).unwrap())).collect();
    spans.sort_unstable();
    for w in spans.windows(2) {
        assert!(w[0].1 <= w[1].0, "overlap {:x?}", w);
    }
    // Exact live counts per cache.
    let mut counts: HashMap<CacheId, u64> = HashMap::new();
    let mut large = 0;
    for l in live {
        match l.cache {
            Some(c) => *counts.entry(c).or_default() += 1,
            None => large += 1,
        }
    }
    for (id, c) in a.caches() {
        let expect = counts.get(&id).copied().unwrap_or(0) + base.get(&id).copied().unwrap_or(0);
        assert_eq!(c.live_objects, expect, "{}", c.name);
    }
    assert_eq!(a.large_blocks(), large);
    for st in a.all_stats() {
        assert!(st.inuse_objs <= st.active_objs && st.active_objs <= st.num_objs, "{st:?}");
        assert_eq!(st.num_slabs, st.active_slabs);
        assert!(st.nr_partial + st.nr_full + st.nr_cpu_partial <= st.num_slabs, "{st:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, .. ProptestConfig::default() })]
    #[test]
    fn random_sequences(ops in proptest::collection::vec(op_strategy(), 1..400), v61 in any::<bool>(), rnd in any::<bool>(), cpus in 1u32..4, cpu_partial in any::<bool>()) {
        let mut cfg = if v61 { SlabConfig::v6_1() } else { SlabConfig::v5_14() };
        cfg.freelist_random = rnd;
        cfg.nr_cpu_ids = cpus;
        cfg.cpu_partial = cpu_partial;
        let (mut a, mut src) = boot(cfg);
        let custom = [
            a.kmem_cache_create(&mut src, "p_small", 24, 0, SlabFlags::NONE, false).unwrap(),
            a.kmem_cache_create(&mut src, "p_ctor", 700, 0, SlabFlags::HWCACHE_ALIGN, true).unwrap(),
            a.kmem_cache_create(&mut src, "p_rz", 100, 0, SlabFlags::RED_ZONE | SlabFlags::STORE_USER, false).unwrap(),
        ];
        // Metadata objects (kmem_cache, kmem_cache_node) live from the start.
        let base: HashMap<CacheId, u64> = a.caches().map(|(id, c)| (id, c.live_objects)).collect();
        let mut live: Vec<Live> = Vec::new();
        for (step, op) in ops.into_iter().enumerate() {
            match op {
                Op::Kmalloc(size, g) => {
                    let gfp = gfp_of(g);
                    let addr = a.kmalloc(&mut src, size, gfp).unwrap();
                    if size > 0 {
                        let cache = a.kmalloc_slab(size, gfp);
                        prop_assert!(a.ksize(addr).unwrap() >= size);
                        live.push(Live { addr, cache, custom: None });
                    } else {
                        prop_assert_eq!(addr, ZERO_SIZE_PTR);
                    }
                }
                Op::Kfree(i) => {
                    if !live.is_empty() {
                        let l = live.swap_remove(i % live.len());
                        a.kfree(&mut src, l.addr).unwrap();
                        prop_assert!(a.kfree(&mut src, l.addr).is_err());
                    }
                }
                Op::Krealloc(i, size) => {
                    if !live.is_empty() {
                        let k = i % live.len();
                        if live[k].custom.is_some() {
                            continue;
                        }
                        let old = live[k];
                        let ks = a.ksize(old.addr).unwrap();
                        let new = a.krealloc(&mut src, old.addr, size, Gfp::KERNEL).unwrap();
                        if size == 0 {
                            prop_assert_eq!(new, ZERO_SIZE_PTR);
                            live.swap_remove(k);
                        } else if ks >= size {
                            prop_assert_eq!(new, old.addr);
                        } else {
                            prop_assert!(a.ksize(new).unwrap() >= size);
                            live[k] = Live { addr: new, cache: a.kmalloc_slab(size, Gfp::KERNEL), custom: None };
                        }
                    }
                }
                Op::CacheAlloc(c) => {
                    let addr = a.kmem_cache_alloc(&mut src, custom[c]).unwrap();
                    live.push(Live { addr, cache: Some(custom[c]), custom: Some(c) });
                }
                Op::CacheFree(i) => {
                    if !live.is_empty() {
                        let k = i % live.len();
                        if let Some(c) = live[k].custom {
                            let wrong = custom[(c + 1) % 3];
                            prop_assert!(a.kmem_cache_free(&mut src, wrong, live[k].addr).is_err());
                            let l = live.swap_remove(k);
                            a.kmem_cache_free(&mut src, custom[c], l.addr).unwrap();
                        }
                    }
                }
                Op::Shrink(c) => {
                    a.kmem_cache_shrink(&mut src, custom[c]).unwrap();
                }
                Op::SetCpu(cpu) => {
                    prop_assert_eq!(a.set_cpu(cpu).is_ok(), cpu < cpus);
                }
                Op::BadFree(i, off) => {
                    if !live.is_empty() {
                        let l = live[i % live.len()];
                        let before = (a.pages_in_use(), src.in_use, a.slabinfo());
                        prop_assert!(a.kfree(&mut src, l.addr + off).is_err());
                        prop_assert_eq!(before, (a.pages_in_use(), src.in_use, a.slabinfo()));
                    }
                }
            }
            if step % 16 == 0 {
                check(&a, &src, &live, &base);
            }
        }
        check(&a, &src, &live, &base);
        // Free everything, destroy the custom caches: back to boot state.
        for l in live.drain(..) {
            a.kfree(&mut src, l.addr).unwrap();
        }
        for c in custom {
            a.kmem_cache_destroy(&mut src, c).unwrap();
        }
        check_pages(&a, &src);
        prop_assert_eq!(a.large_blocks(), 0);
    }
}
