//! Slab allocator throughput: kmalloc+kfree pairs, kmem_cache_alloc+free
//! pairs, and batches of 10k allocations then frees.
//!
//! Run: `cargo bench -p mmsvc-core --bench slab`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mmsvc_core::page_source::BumpPageSource;
use mmsvc_core::slab::{Gfp, SlabAllocator, SlabConfig, SlabFlags};

fn setup() -> (SlabAllocator, BumpPageSource) {
    let mut src = BumpPageSource::new(0x1000, 0x100_0000);
    let a = SlabAllocator::new(SlabConfig::v6_1(), &mut src).expect("boot");
    (a, src)
}

fn pairs(c: &mut Criterion) {
    let mut g = c.benchmark_group("slab_pair");
    g.throughput(Throughput::Elements(1));
    for size in [64u64, 512] {
        let (mut a, mut src) = setup();
        // Warm the cpu slab.
        let keep = a.kmalloc(&mut src, size, Gfp::KERNEL).unwrap();
        g.bench_function(format!("kmalloc_kfree_{size}"), |b| {
            b.iter(|| {
                let p = a.kmalloc(&mut src, black_box(size), Gfp::KERNEL).unwrap();
                a.kfree(&mut src, black_box(p)).unwrap();
            })
        });
        a.kfree(&mut src, keep).unwrap();
    }
    let (mut a, mut src) = setup();
    let cache = a.kmem_cache_create(&mut src, "bench_obj", 200, 0, SlabFlags::HWCACHE_ALIGN, false).unwrap();
    let keep = a.kmem_cache_alloc(&mut src, cache).unwrap();
    g.bench_function("kmem_cache_alloc_free_200", |b| {
        b.iter(|| {
            let p = a.kmem_cache_alloc(&mut src, black_box(cache)).unwrap();
            a.kmem_cache_free(&mut src, cache, black_box(p)).unwrap();
        })
    });
    a.kmem_cache_free(&mut src, cache, keep).unwrap();
    // With the event recorder on (cleared every 4096 pairs).
    let (mut a, mut src) = setup();
    a.set_recording(true);
    let keep = a.kmalloc(&mut src, 64, Gfp::KERNEL).unwrap();
    g.bench_function("kmalloc_kfree_64_recording", |b| {
        b.iter(|| {
            let p = a.kmalloc(&mut src, black_box(64), Gfp::KERNEL).unwrap();
            a.kfree(&mut src, black_box(p)).unwrap();
            if a.events().len() >= 8192 {
                a.clear_events();
            }
        })
    });
    a.kfree(&mut src, keep).unwrap();
    g.finish();
}

fn batches(c: &mut Criterion) {
    const N: usize = 10_000;
    let mut g = c.benchmark_group("slab_batch_10k");
    g.throughput(Throughput::Elements(N as u64));
    g.sample_size(30);
    let mut ptrs = Vec::with_capacity(N);
    for size in [64u64, 512] {
        let (mut a, mut src) = setup();
        g.bench_function(format!("kmalloc_then_kfree_{size}"), |b| {
            b.iter(|| {
                for _ in 0..N {
                    ptrs.push(a.kmalloc(&mut src, size, Gfp::KERNEL).unwrap());
                }
                for p in ptrs.drain(..) {
                    a.kfree(&mut src, p).unwrap();
                }
            })
        });
    }
    let (mut a, mut src) = setup();
    let cache = a.kmem_cache_create(&mut src, "bench_obj", 200, 0, SlabFlags::HWCACHE_ALIGN, false).unwrap();
    g.bench_function("kmem_cache_alloc_then_free_200", |b| {
        b.iter(|| {
            for _ in 0..N {
                ptrs.push(a.kmem_cache_alloc(&mut src, cache).unwrap());
            }
            for p in ptrs.drain(..) {
                a.kmem_cache_free(&mut src, cache, p).unwrap();
            }
        })
    });
    g.finish();
}

criterion_group!(benches, pairs, batches);
criterion_main!(benches);
