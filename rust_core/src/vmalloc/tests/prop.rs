//! Random vmalloc/vfree/vmap sequences against a model.

use proptest::prelude::*;

use super::common::*;
use crate::error::MmErrorKind;
use crate::memblock::KernelVersion;
use crate::page_source::BumpPageSource;
use crate::pagetable::{PageTable, PageTableFormat};
use crate::units::PAGE_SIZE;
use crate::vmalloc::{VmFlags, VmallocSpace, PMD_SIZE};

const P: u64 = PAGE_SIZE;
/// A small space (16 MiB) so that it fills up.
const SPACE: u64 = 16 << 20;

#[derive(Debug, Clone)]
enum Op {
    /// pages, alignment shift over a page, huge
    Alloc(u64, u32, bool),
    /// which live area (index modulo their number)
    Free(usize),
    Vmap(u64),
    /// Set the page budget of the source.
    Budget(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (1u64..64, 0u32..5, any::<bool>()).prop_map(|(n, a, h)| Op::Alloc(n, a, h)),
        1 => (500u64..1200).prop_map(|n| Op::Alloc(n, 0, true)),
        5 => any::<usize>().prop_map(Op::Free),
        1 => (1u64..8).prop_map(Op::Vmap),
        1 => prop_oneof![Just(u64::MAX), 0u64..2000].prop_map(Op::Budget),
    ]
}

/// Model: live areas `(start, end incl. guard, is vmap)`; the lowest fit
/// computed by a linear scan over the gaps.
fn lowest_fit(live: &[(u64, u64, bool)], size: u64, align: u64) -> Option<u64> {
    let mut sorted: Vec<(u64, u64)> = live.iter().map(|&(s, e, _)| (s, e)).collect();
    sorted.sort_unstable();
    let mut cur = START;
    for &(s, e) in sorted.iter().chain(std::iter::once(&(START + SPACE, START + SPACE))) {
        let a = cur.next_multiple_of(align);
        if a + size <= s {
            return Some(a);
        }
        cur = cur.max(e);
    }
    None
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn random_sequences(ops in proptest::collection::vec(op(), 1..80), v61 in any::<bool>()) {
        let version = if v61 { KernelVersion::V6_1 } else { KernelVersion::V5_14 };
        let inner = BumpPageSource::new(0x1000, 0x100_0000);
        let mut src = Picky { inner, max_order: 9, budget: u64::MAX };
        let mut pt = PageTable::new(PageTableFormat::x86_64_4level(), &mut src).unwrap();
        let mut vs = VmallocSpace::new(START, START + SPACE).unwrap().with_version(version);
        let base = src.inner.in_use;
        let mut live: Vec<(u64, u64, bool)> = Vec::new();
        for op in ops {
            let before = snapshot(&vs, &pt, src.inner.in_use);
            match op {
                Op::Alloc(n, al, huge) => {
                    let r = if huge {
                        vs.vmalloc_huge(&mut pt, &mut src, n * P, "h")
                    } else {
                        vs.vmalloc(&mut pt, &mut src, n * P, P << al, "v")
                    };
                    match r {
                        Ok(a) => {
                            let va = vs.find_vmap_area(a).unwrap();
                            let vm = &va.vm;
                            let hugepages = vm.page_order == 9;
                            let may_be_huge = huge && v61 && n * P >= PMD_SIZE;
                            // Huge when allowed, unless space or pages ran short.
                            prop_assert!(!hugepages || may_be_huge);
                            let (size, align) = if hugepages {
                                (n * P).next_multiple_of(PMD_SIZE) + P
                            } else {
                                n * P + P
                            }.pipe(|s| (s, if hugepages { PMD_SIZE } else if huge { P } else { P << al }));
                            // Lowest fit, unless a huge attempt fell back.
                            if hugepages || !may_be_huge {
                                prop_assert_eq!(Some(a), lowest_fit(&live, size, align));
                            }
                            prop_assert_eq!(vm.size, size);
                            live.push((a, a + size, false));
                            if let Some(arr) = vm.pages_area {
                                let e = vs.find_vmap_area(arr).unwrap().va_end;
                                live.push((arr, e, false));
                            }
                        }
                        Err(e) => {
                            prop_assert_eq!(e.kind(), MmErrorKind::OutOfMemory);
                            prop_assert_eq!(snapshot(&vs, &pt, src.inner.in_use), before);
                        }
                    }
                }
                Op::Free(i) => {
                    let owners: Vec<usize> = (0..live.len())
                        .filter(|&j| vs.find_vm_area(live[j].0).is_some_and(|vm| vm.array_of.is_none()))
                        .collect();
                    if owners.is_empty() {
                        continue;
                    }
                    let j = owners[i % owners.len()];
                    let (a, _, is_vmap) = live[j];
                    let arr = vs.find_vm_area(a).unwrap().pages_area;
                    if is_vmap {
                        vs.vunmap(&mut pt, &mut src, a).unwrap();
                    } else {
                        vs.vfree(&mut pt, &mut src, a).unwrap();
                    }
                    live.retain(|&(s, _, _)| s != a && Some(s) != arr);
                    let again = vs.vfree(&mut pt, &mut src, a).unwrap_err().kind();
                    prop_assert!(again == MmErrorKind::DoubleFree || again == MmErrorKind::NotAllocated);
                    prop_assert_eq!(again, MmErrorKind::DoubleFree);
                }
                Op::Vmap(n) => {
                    let pfns: Vec<u64> = (0..n).map(|i| 0x200_0000 + i * 3).collect();
                    match vs.vmap(&mut pt, &mut src, &pfns, VmFlags::VM_MAP, "m") {
                        Ok(a) => {
                            prop_assert_eq!(Some(a), lowest_fit(&live, n * P + P, P));
                            for (i, p) in pfns.iter().enumerate() {
                                prop_assert_eq!(vs.vmalloc_to_pfn(&pt, a + i as u64 * P).unwrap(), *p);
                            }
                            live.push((a, a + n * P + P, true));
                        }
                        Err(_) => prop_assert_eq!(snapshot(&vs, &pt, src.inner.in_use), before),
                    }
                }
                Op::Budget(b) => src.budget = b,
            }
            // Invariants: areas as in the model, no overlap, guard pages
            // unmapped, every page translating to its own pfn.
            let areas: Vec<(u64, u64)> = vs.areas().map(|va| (va.va_start, va.va_end)).collect();
            let mut model: Vec<(u64, u64)> = live.iter().map(|&(s, e, _)| (s, e)).collect();
            model.sort_unstable();
            prop_assert_eq!(&areas, &model);
            for w in areas.windows(2) {
                prop_assert!(w[0].1 <= w[1].0);
            }
            let busy: u64 = areas.iter().map(|(s, e)| e - s).sum();
            prop_assert_eq!(busy + vs.free_space().free_bytes(), SPACE);
            prop_assert!(vs.free_space().check().is_ok());
            check_mappings(&vs, &pt);
            let used: u64 = vs.areas().map(|va| va.vm.nr_pages).sum();
            prop_assert_eq!(vs.nr_vmalloc_pages(), used);
        }
        src.budget = u64::MAX;
        for (a, _, is_vmap) in live.clone() {
            let Some(vm) = vs.find_vm_area(a) else { continue };
            if vm.array_of.is_some() {
                continue;
            }
            if is_vmap {
                vs.vunmap(&mut pt, &mut src, a).unwrap();
            } else {
                vs.vfree(&mut pt, &mut src, a).unwrap();
            }
        }
        prop_assert_eq!(vs.nr_areas(), 0);
        // every data page is back; the tables stay, as in the kernel
        prop_assert_eq!(src.inner.in_use - pt.page_table_pages(), base - 1);
        prop_assert_eq!(vs.free_space().extents(), vec![(START, START + SPACE)]);
    }
}

trait Pipe: Sized {
    fn pipe<T>(self, f: impl FnOnce(Self) -> T) -> T {
        f(self)
    }
}
impl Pipe for u64 {}
