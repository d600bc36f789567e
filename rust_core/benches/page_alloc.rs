//! Page allocator benchmarks: ours against buddy_system_allocator's
//! FrameAllocator on the same workloads, plus the 32 TiB boot.

use std::hint::black_box;

use buddy_system_allocator::FrameAllocator;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use mmsvc_core::page_alloc::{free_area_init, FreeAreaInitInput, Gfp, PageAlloc, PageAllocConfig};

mod common;
use common::machine_2g;

fn frame_2g() -> FrameAllocator<32> {
    let mut fa = FrameAllocator::<32>::new();
    fa.add_frame(0x100, 0x1000);
    fa.add_frame(0x4000, 0x7ffe0);
    fa
}

fn pairs(c: &mut Criterion) {
    let mut g = c.benchmark_group("pair");
    for order in [0u32, 9] {
        let mut pa = machine_2g();
        // a few blocks held so the allocator is not empty-state trivial
        let held: Vec<_> = (0..64).map(|_| pa.alloc_pages(Gfp::GFP_KERNEL, order, 0, 0).unwrap()).collect();
        g.bench_function(format!("mmsvc order-{order} alloc+free"), |b| {
            b.iter(|| {
                let p = pa.alloc_pages(black_box(Gfp::GFP_KERNEL), order, 0, 0).unwrap();
                pa.free_pages(black_box(p), order, 0).unwrap();
            })
        });
        drop(held);
        if order == 9 {
            let mut pa = machine_2g();
            let gfp = Gfp::GFP_HIGHUSER_MOVABLE | Gfp::__GFP_COMP;
            let _held: Vec<_> = (0..64).map(|_| pa.alloc_pages(gfp, order, 0, 0).unwrap()).collect();
            g.bench_function("mmsvc order-9 movable (THP-like) alloc+free", |b| {
                b.iter(|| {
                    let p = pa.alloc_pages(black_box(gfp), order, 0, 0).unwrap();
                    pa.free_pages(black_box(p), order, 0).unwrap();
                })
            });
        }
        let mut fa = frame_2g();
        let n = 1usize << order;
        let _held: Vec<_> = (0..64).map(|_| fa.alloc(n).unwrap()).collect();
        g.bench_function(format!("buddy_system_allocator order-{order} alloc+free"), |b| {
            b.iter(|| {
                let p = fa.alloc(black_box(n)).unwrap();
                fa.dealloc(black_box(p), n);
            })
        });
    }
    g.finish();
}

fn batch(c: &mut Criterion) {
    const N: usize = 256;
    let mut g = c.benchmark_group("batch-256-order-0");
    g.throughput(Throughput::Elements(N as u64));
    let mut pa = machine_2g();
    let mut v = Vec::with_capacity(N);
    g.bench_function("mmsvc alloc_pages_bulk+free_pages_bulk", |b| {
        b.iter(|| {
            v.clear();
            pa.alloc_pages_bulk(Gfp::GFP_KERNEL, 0, N, 0, 0, &mut v).unwrap();
            pa.free_pages_bulk(black_box(&v), 0, 0).unwrap();
        })
    });
    let mut fa = frame_2g();
    let mut w = Vec::with_capacity(N);
    g.bench_function("buddy_system_allocator alloc+dealloc x256", |b| {
        b.iter(|| {
            w.clear();
            for _ in 0..N {
                w.push(fa.alloc(1).unwrap());
            }
            for &p in &w {
                fa.dealloc(black_box(p), 1);
            }
        })
    });
    g.finish();
}

fn huge_regions() -> Vec<(u64, u64, u32)> {
    let node = 1u64 << 29;
    let mut v = vec![(0x1, 0x9f, 0), (0x100, 0xbffe0, 0), (0x100000, node, 0)];
    for n in 1..16u64 {
        v.push((n * node, (n + 1) * node, n as u32));
    }
    v
}

fn boot_32t(c: &mut Criterion) {
    let mut g = c.benchmark_group("boot-32TiB-16-nodes");
    g.sample_size(10);
    for defer in [false, true] {
        let cfg = PageAllocConfig { deferred_struct_page_init: defer, ..Default::default() };
        let regions = huge_regions();
        let l = free_area_init(&FreeAreaInitInput::x86_64(regions.clone(), 158), &cfg).unwrap();
        let free: Vec<_> = regions.iter().map(|&(s, e, n)| (s.max(0x4000), e, n)).filter(|r| r.0 < r.1).collect();
        let name = if defer { "memblock_free_all+page_alloc_init_late" } else { "memblock_free_all" };
        g.bench_function(name, |b| {
            b.iter_batched(
                || PageAlloc::new(&l, &cfg).unwrap(),
                |mut pa| {
                    pa.memblock_free_all(&free).unwrap();
                    if defer {
                        pa.page_alloc_init_late(&free).unwrap();
                    }
                    pa
                },
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, pairs, batch, boot_32t);
criterion_main!(benches);
