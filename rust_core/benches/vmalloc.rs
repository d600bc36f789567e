//! vmalloc-space benchmarks: vmalloc+vfree of 64 KiB (base pages) and of
//! 2 MiB (`vmalloc_huge`, one PMD leaf), with pages from a trivial
//! recycling source (the vmalloc space and page-table engine alone) and
//! from the buddy allocator of a 2 GiB machine. The space holds 1000 live
//! areas with holes, so the free tree is not trivially small.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use mmsvc_core::memblock::KernelVersion;
use mmsvc_core::mm::{BuddySource, UsageCounters};
use mmsvc_core::page_source::{PageSource, PageUse};
use mmsvc_core::pagetable::{PageTable, PageTableFormat};
use mmsvc_core::units::Pfn;
use mmsvc_core::vmalloc::VmallocSpace;
use mmsvc_core::Result;

mod common;
use common::machine_2g;

/// Hands out pfns upwards and reuses freed blocks of the same order.
struct Recycler {
    next: Pfn,
    free: Vec<Vec<Pfn>>,
}

impl Recycler {
    fn new() -> Self {
        Recycler { next: 0x1000, free: vec![Vec::new(); 12] }
    }
}

impl PageSource for Recycler {
    fn alloc_pages(&mut self, order: u32, _nid: Option<i32>, _usage: PageUse) -> Result<Pfn> {
        if let Some(p) = self.free[order as usize].pop() {
            return Ok(p);
        }
        let n = 1u64 << order;
        let p = self.next.div_ceil(n) * n;
        self.next = p + n;
        Ok(p)
    }

    fn free_pages(&mut self, pfn: Pfn, order: u32, _usage: PageUse) -> Result<()> {
        self.free[order as usize].push(pfn);
        Ok(())
    }
}

/// A 6.1 space with 1000 live areas of 1-8 pages, every third one freed.
fn populated(src: &mut dyn PageSource) -> (VmallocSpace, PageTable) {
    let mut pt = PageTable::new(PageTableFormat::x86_64_4level(), src).unwrap();
    let mut vs = VmallocSpace::x86_64_4level().with_version(KernelVersion::V6_1);
    let mut live = Vec::new();
    for i in 0..1500u64 {
        live.push(vs.vmalloc(&mut pt, src, (i % 8 + 1) << 12, 1, "kernel_clone+0xbf/0x430").unwrap());
    }
    for (i, a) in live.iter().enumerate() {
        if i % 3 == 0 {
            vs.vfree(&mut pt, src, *a).unwrap();
        }
    }
    (vs, pt)
}

/// vmalloc (huge when asked) and vfree of `size` bytes, over and over.
fn vmalloc_vfree(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    label: String,
    src: &mut dyn PageSource,
    size: u64,
    huge: bool,
) {
    let (mut vs, mut pt) = populated(src);
    g.bench_function(label, |b| {
        b.iter(|| {
            let a = if huge {
                vs.vmalloc_huge(&mut pt, src, black_box(size), "bench").unwrap()
            } else {
                vs.vmalloc(&mut pt, src, black_box(size), 1, "bench").unwrap()
            };
            vs.vfree(&mut pt, src, black_box(a)).unwrap();
        })
    });
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("vmalloc");
    let cases: [(&str, u64, bool); 3] =
        [("64KiB", 64 << 10, false), ("2MiB huge", 2 << 20, true), ("2MiB base pages", 2 << 20, false)];
    for (name, size, huge) in cases {
        let mut src = Recycler::new();
        vmalloc_vfree(&mut g, format!("{name} vmalloc+vfree (recycling source)"), &mut src, size, huge);
        let mut pa = machine_2g();
        let mut usage = UsageCounters::default();
        let mut src = BuddySource { page_alloc: &mut pa, usage: &mut usage, cpu: 0 };
        vmalloc_vfree(&mut g, format!("{name} vmalloc+vfree (buddy allocator)"), &mut src, size, huge);
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
