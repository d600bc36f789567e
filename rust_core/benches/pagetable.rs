//! Page-table engine benchmarks, with the rust-osdev `x86_64` crate's
//! `OffsetPageTable` doing the same work as a baseline.
//!
//! Run: `cargo bench -p mmsvc-core --bench pagetable`
//!
//! * `translate/hot`: one address over and over.
//! * `translate/random`: random addresses over 4 GiB mapped with 4 KiB pages,
//!   one call each (bound by the latency of the leaf-table load, for both
//!   engines) and in batches of 4096 (the loads overlap).
//! * `map_4k`: 64 MiB mapped page by page (per 4 KiB page, amortised), and
//!   with one range call for ours.
//! * `direct_map_1tib`: 1 TiB mapped with 1 GiB pages, and with 2 MiB pages.
//!
//! The `x86_64` crate walks real memory: its tables live in a big 4 KiB
//! aligned buffer, a physical address is an offset into it, and the
//! `OffsetPageTable`'s physical offset is the buffer's address.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use mmsvc_core::page_source::BumpPageSource;
use mmsvc_core::pagetable::direct_map::{PAGE_OFFSET_4LEVEL, PAGE_SIZE_MASK_2M_1G, PG_LEVEL_2M};
use mmsvc_core::pagetable::{PageSizePolicy, PageTable, PageTableFormat, PteFlags};
use x86_64::structures::paging::mapper::{MapToError, Translate};
use x86_64::structures::paging::{
    FrameAllocator, Mapper, OffsetPageTable, Page, PageSize, PageTable as OsdevTable, PageTableFlags, PhysFrame,
    Size1GiB, Size2MiB, Size4KiB,
};
use x86_64::{PhysAddr, VirtAddr};

const PO: u64 = PAGE_OFFSET_4LEVEL;
const K4: u64 = 1 << 12;
const M2: u64 = 1 << 21;
const G1: u64 = 1 << 30;
const TIB: u64 = 1 << 40;

// ----- the x86_64 crate's side --------------------------------------------

#[repr(C, align(4096))]
#[derive(Clone)]
struct Frame([u8; 4096]);

/// Physical memory for the x86_64 crate's tables: frame 0 is the PML4.
struct OsdevMem {
    frames: Vec<Frame>,
}

/// Hands out frames 1.. of an `OsdevMem` (it only counts; the crate zeroes
/// the tables it creates).
struct Bump {
    next: u64,
    limit: u64,
}

unsafe impl FrameAllocator<Size4KiB> for Bump {
    fn allocate_frame(&mut self) -> Option<PhysFrame<Size4KiB>> {
        if self.next >= self.limit {
            return None;
        }
        self.next += 1;
        Some(PhysFrame::containing_address(PhysAddr::new((self.next - 1) * 4096)))
    }
}

impl OsdevMem {
    fn new(frames: usize) -> Self {
        OsdevMem { frames: vec![Frame([0; 4096]); frames] }
    }

    /// A fresh, empty table over this memory.
    fn table(&mut self) -> (OffsetPageTable<'_>, Bump) {
        self.frames[0] = Frame([0; 4096]);
        let limit = self.frames.len() as u64;
        let base = self.frames.as_mut_ptr();
        // SAFETY: frame 0 is a 4 KiB-aligned, zeroed buffer that lives as
        // long as the returned borrow; every frame the allocator hands out
        // is inside `frames`, which is reachable at `base + phys`.
        let l4 = unsafe { &mut *(base as *mut OsdevTable) };
        let opt = unsafe { OffsetPageTable::new(l4, VirtAddr::new(base as u64)) };
        (opt, Bump { next: 1, limit })
    }
}

fn osdev_map<S: PageSize>(
    opt: &mut OffsetPageTable<'_>,
    alloc: &mut Bump,
    virt: u64,
    phys: u64,
) -> Result<(), MapToError<S>>
where
    for<'a> OffsetPageTable<'a>: Mapper<S>,
{
    let flags =
        PageTableFlags::PRESENT | PageTableFlags::WRITABLE | PageTableFlags::GLOBAL | PageTableFlags::NO_EXECUTE;
    let page = Page::<S>::from_start_address(VirtAddr::new(virt)).expect("aligned");
    let frame = PhysFrame::<S>::from_start_address(PhysAddr::new(phys)).expect("aligned");
    // SAFETY: nothing is ever accessed through these mappings; the flush is
    // skipped (invlpg is privileged).
    unsafe { opt.map_to(page, frame, flags, alloc).map(|f| f.ignore()) }
}

// ----- workloads ------------------------------------------------------------

fn source() -> BumpPageSource {
    BumpPageSource::new(0x100, 1 << 40)
}

/// Random addresses inside `[PO, PO + len)`.
fn random_addrs(len: u64, n: usize) -> Vec<u64> {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            PO + (x % len)
        })
        .collect()
}

fn translate(c: &mut Criterion) {
    let len = 4 * G1;
    let mut src = source();
    let mut pt = PageTable::new(PageTableFormat::x86_64_4level(), &mut src).unwrap();
    pt.map_range(&mut src, PO, 0, len, PteFlags::PAGE_KERNEL, PageSizePolicy::Force(K4)).unwrap();
    let mut mem = OsdevMem::new(2 + 4 + 2048 + 16);
    let (mut opt, mut alloc) = mem.table();
    for i in 0..len / K4 {
        osdev_map::<Size4KiB>(&mut opt, &mut alloc, PO + i * K4, i * K4).unwrap();
    }
    let addrs = random_addrs(len, 1 << 20);
    let mask = addrs.len() - 1;

    let mut g = c.benchmark_group("translate");
    g.throughput(Throughput::Elements(1));
    let hot = PO + 0x1234_5678;
    g.bench_function("hot/ours_translate_phys", |b| b.iter(|| pt.translate_phys(black_box(hot))));
    g.bench_function("hot/ours_translate", |b| b.iter(|| pt.translate(black_box(hot)).ok()));
    g.bench_function("hot/x86_64_crate", |b| b.iter(|| opt.translate_addr(VirtAddr::new(black_box(hot)))));
    let mut i = 0usize;
    g.bench_function("random_4GiB_of_4K/ours_translate_phys", |b| {
        b.iter(|| {
            i = (i + 1) & mask;
            pt.translate_phys(addrs[i])
        })
    });
    g.bench_function("random_4GiB_of_4K/x86_64_crate", |b| {
        b.iter(|| {
            i = (i + 1) & mask;
            opt.translate_addr(VirtAddr::new(addrs[i]))
        })
    });
    g.throughput(Throughput::Elements(4096));
    let mut out = vec![0u64; 4096];
    g.bench_function("random_4GiB_of_4K/ours_translate_batch_4096", |b| {
        b.iter(|| {
            i = (i + 4096) & mask & !4095;
            pt.translate_batch(&addrs[i..i + 4096], &mut out).unwrap()
        })
    });
    g.finish();
}

fn map_4k(c: &mut Criterion) {
    let len = 64 << 20;
    let pages = len / K4;
    let mut g = c.benchmark_group("map_4k_64MiB");
    g.throughput(Throughput::Elements(pages));
    g.sample_size(30);
    // Like the x86_64 crate's side, which reuses its memory, start from a
    // table whose arena is warm: map the range once and unmap it.
    let warm = || {
        let mut src = source();
        let mut pt = PageTable::new(PageTableFormat::x86_64_4level(), &mut src).unwrap();
        pt.map_range(&mut src, PO, 0, len, PteFlags::PAGE_KERNEL, PageSizePolicy::Force(K4)).unwrap();
        pt.unmap_range(&mut src, PO, len).unwrap();
        (pt, src)
    };
    g.bench_function("ours_map_range", |b| {
        b.iter_batched(
            warm,
            |(mut pt, mut src)| {
                pt.map_range(&mut src, PO, 0, len, PteFlags::PAGE_KERNEL, PageSizePolicy::Force(K4)).unwrap();
                (pt, src)
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("ours_map_per_page", |b| {
        b.iter_batched(
            warm,
            |(mut pt, mut src)| {
                for i in 0..pages {
                    pt.map(&mut src, PO + i * K4, i * K4, K4, PteFlags::PAGE_KERNEL).unwrap();
                }
                (pt, src)
            },
            BatchSize::LargeInput,
        )
    });
    let mut mem = OsdevMem::new(64);
    g.bench_function("x86_64_crate_map_to_per_page", |b| {
        b.iter(|| {
            let (mut opt, mut alloc) = mem.table();
            for i in 0..pages {
                osdev_map::<Size4KiB>(&mut opt, &mut alloc, PO + i * K4, i * K4).unwrap();
            }
        })
    });
    g.finish();
}

fn direct_map(c: &mut Criterion) {
    let mut g = c.benchmark_group("direct_map_1TiB");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(4));
    let ram = [(0, TIB)];
    for (name, mask) in [("1G", PAGE_SIZE_MASK_2M_1G), ("2M", 1 << PG_LEVEL_2M)] {
        g.bench_function(format!("{name}/ours_init_memory_mapping"), |b| {
            b.iter_batched(
                || {
                    let mut src = source();
                    (PageTable::new(PageTableFormat::x86_64_4level(), &mut src).unwrap(), src)
                },
                |(mut pt, mut src)| {
                    pt.init_memory_mapping(&mut src, 0, TIB, mask, &ram, PO, PteFlags::PAGE_KERNEL).unwrap();
                    (pt, src)
                },
                BatchSize::LargeInput,
            )
        });
    }
    let mut mem = OsdevMem::new(4 + 1024 + 16);
    g.bench_function("1G/x86_64_crate_map_to", |b| {
        b.iter(|| {
            let (mut opt, mut alloc) = mem.table();
            for i in 0..TIB / G1 {
                osdev_map::<Size1GiB>(&mut opt, &mut alloc, PO + i * G1, i * G1).unwrap();
            }
        })
    });
    g.bench_function("2M/x86_64_crate_map_to", |b| {
        b.iter(|| {
            let (mut opt, mut alloc) = mem.table();
            for i in 0..TIB / M2 {
                osdev_map::<Size2MiB>(&mut opt, &mut alloc, PO + i * M2, i * M2).unwrap();
            }
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = translate, map_4k, direct_map
}
criterion_main!(benches);
