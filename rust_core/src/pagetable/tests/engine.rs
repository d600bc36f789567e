//! Engine operations: map, unmap, protect, translate, batches, counts,
//! errors and atomicity.

use super::common::*;

const PO: u64 = PAGE_OFFSET_4LEVEL;
const K: PteFlags = PteFlags::PAGE_KERNEL;

#[test]
fn map_translate_each_size_each_format() {
    for f in all_formats() {
        let mut src = source();
        let mut pt = PageTable::new(f.clone(), &mut src).unwrap();
        let base = match f.va_form {
            VaForm::OnesExtended => 0xffff_0000_0000_0000,
            _ => 0,
        };
        for (i, size) in f.page_sizes().into_iter().filter(|&s| s <= G1).enumerate() {
            let virt = base + (i as u64 + 1) * G1 * 4;
            let phys = size * 3;
            pt.map(&mut src, virt, phys, size, K).unwrap();
            let t = pt.translate(virt + size - 8).unwrap();
            assert_eq!((t.phys, t.page_size, t.flags), (phys + size - 8, size, K), "{}", f.name);
            assert_eq!(pt.translate_phys(virt + 5), Some(phys + 5));
            assert_eq!(pt.translate_phys(virt + size), None);
            assert!(matches!(pt.translate(virt + size), Err(MmError::NotMapped { .. })));
        }
        pt.check_invariants().unwrap();
    }
}

#[test]
fn errors_change_nothing() {
    let (mut pt, mut src) = x86();
    pt.map(&mut src, PO + M2, 0x20_0000, M2, K).unwrap();
    pt.map(&mut src, PO + 0x1000, 0x1000, K4, K).unwrap();
    let probes = [PO, PO + 0x1000, PO + M2, PO + 2 * M2, 0x1000];
    let before = snapshot(&pt, &probes);
    let in_use = src.in_use;
    macro_rules! e {
        ($r:expr) => {
            $r.unwrap_err()
        };
    }

    // Unaligned virt / phys, bad size.
    assert!(matches!(e!(pt.map(&mut src, PO + 0x1001, 0, K4, K)), MmError::InvalidArgument { .. }));
    assert!(matches!(e!(pt.map(&mut src, PO + 2 * M2, 0x1000, M2, K)), MmError::InvalidArgument { .. }));
    assert!(matches!(e!(pt.map(&mut src, PO, 0, 8192, K)), MmError::InvalidArgument { .. }));
    // Non-canonical.
    assert!(matches!(e!(pt.map(&mut src, 0x0000_8000_0000_0000, 0, K4, K)), MmError::InvalidArgument { .. }));
    assert!(pt.translate(0x0000_8000_0000_0000).is_err());
    assert_eq!(pt.translate_phys(0x0000_8000_0000_0000), None);
    assert!(pt.walk(0x1234_0000_0000_0000).is_err());
    // Physical address beyond 52 bits.
    assert!(matches!(e!(pt.map(&mut src, PO, 1 << 52, K4, K)), MmError::OutOfRange { .. }));
    // Double map, including under / over a huge leaf.
    assert_eq!(e!(pt.map(&mut src, PO + 0x1000, 0x9000, K4, K)), MmError::AlreadyMapped { addr: PO + 0x1000 });
    assert_eq!(e!(pt.map(&mut src, PO + M2 + 0x3000, 0, K4, K)), MmError::AlreadyMapped { addr: PO + M2 + 0x3000 });
    assert_eq!(e!(pt.map(&mut src, PO, 0, G1, K)), MmError::AlreadyMapped { addr: PO + 0x1000 });
    assert_eq!(e!(pt.map(&mut src, PO, 0, M2, K)), MmError::AlreadyMapped { addr: PO + 0x1000 });
    assert_eq!(
        e!(pt.map_range(&mut src, PO - 3 * G1, 0, 3 * G1 + 2 * M2, K, PageSizePolicy::Largest)),
        MmError::AlreadyMapped { addr: PO + 0x1000 }
    );
    // Range running into a mapping, or past the end of the lower half.
    assert_eq!(
        e!(pt.map_range(&mut src, PO + 2 * M2 - 0x10000, 0, 0x20000, K, PageSizePolicy::Largest)),
        MmError::AlreadyMapped { addr: PO + 2 * M2 - 0x10000 }
    );
    assert!(matches!(
        e!(pt.map_range(&mut src, 0x7fff_ffff_f000, 0, 0x2000, K, PageSizePolicy::Largest)),
        MmError::OutOfRange { .. }
    ));
    assert!(matches!(
        e!(pt.map_range(&mut src, PO, 0, 0, K, PageSizePolicy::Largest)),
        MmError::InvalidArgument { .. }
    ));
    assert!(matches!(
        e!(pt.map_range(&mut src, PO + G1, 0, M2 + K4, K, PageSizePolicy::Force(M2))),
        MmError::InvalidArgument { .. }
    ));
    assert!(matches!(
        e!(pt.map_range(&mut src, 0xffff_ffff_ffff_f000, 0, K4, K, PageSizePolicy::Force(K4 * 3))),
        MmError::InvalidArgument { .. }
    ));
    // Unmap / protect of what is not mapped.
    assert_eq!(e!(pt.unmap(&mut src, PO, K4)), MmError::NotMapped { addr: PO });
    assert_eq!(e!(pt.unmap_range(&mut src, PO + 0x1000, 0x2000)), MmError::NotMapped { addr: PO + 0x2000 });
    assert_eq!(e!(pt.unmap(&mut src, PO, M2)), MmError::NotMapped { addr: PO });
    assert_eq!(e!(pt.protect_range(&mut src, PO + M2, M2 + K4, K)), MmError::NotMapped { addr: PO + 2 * M2 });
    assert!(matches!(e!(pt.unmap_range(&mut src, PO + M2 + 1, K4)), MmError::InvalidArgument { .. }));
    // Batch with a conflict in the middle: nothing of it stays.
    let batch = [(PO + 5 * G1, 0, K4), (PO + 6 * G1, 0, M2), (PO + 0x1000, 0, K4), (PO + 7 * G1, 0, K4)];
    assert_eq!(e!(pt.map_batch(&mut src, &batch, K)), MmError::AlreadyMapped { addr: PO + 0x1000 });
    assert_eq!(pt.translate_phys(PO + 5 * G1), None);

    assert_eq!(snapshot(&pt, &probes), before);
    assert_eq!(src.in_use, in_use);
}

#[test]
fn map_range_uses_the_largest_size() {
    let (mut pt, mut src) = x86();
    // 4K up to 2M, 2M up to 1G, 1G, 2M, 4K.
    let start = G1 - M2 - 3 * K4;
    let len = 3 * K4 + M2 + 2 * G1 + 2 * M2 + 5 * K4;
    pt.map_range(&mut src, PO + start, start, len, K, PageSizePolicy::Largest).unwrap();
    let c = pt.leaf_counts(PO, 4 * G1).unwrap();
    assert_eq!((c.count(K4), c.count(M2), c.count(G1)), (8, 3, 2));
    assert_eq!(c.bytes(), len);
    assert_eq!(pt.leaf_counts_total(), c);
    // Misaligned phys: no 2M/1G possible.
    let (mut pt2, mut src2) = x86();
    pt2.map_range(&mut src2, PO, K4, 2 * M2, K, PageSizePolicy::Largest).unwrap();
    assert_eq!(pt2.leaf_counts_total().count(K4), 1024);
    // Forced and capped sizes.
    let (mut pt3, mut src3) = x86();
    pt3.map_range(&mut src3, PO, 0, G1, K, PageSizePolicy::Force(M2)).unwrap();
    pt3.map_range(&mut src3, PO + G1, G1, G1, K, PageSizePolicy::UpTo(M2)).unwrap();
    pt3.map_range(&mut src3, PO + 2 * G1, 0, 4 * M2, K, PageSizePolicy::Force(K4)).unwrap();
    let c = pt3.leaf_counts_total();
    assert_eq!((c.count(K4), c.count(M2), c.count(G1)), (2048, 1024, 0));
    for v in [0, 0x1234_5678, G1 + 77, 2 * G1 + 3 * M2 + 5] {
        assert_eq!(pt3.translate_phys(PO + v), Some(if v >= 2 * G1 { v - 2 * G1 } else { v }));
    }
    pt3.check_invariants().unwrap();
}

#[test]
fn partial_unmap_splits_huge_leaves() {
    let (mut pt, mut src) = x86();
    pt.map(&mut src, PO + G1, G1, G1, K).unwrap();
    assert_eq!(pt.page_table_pages(), 2); // pgd + pud
                                          // Unmap one 4K page in the middle: 1G -> 512 x 2M, one 2M -> 512 x 4K.
    pt.unmap(&mut src, PO + G1 + 5 * M2 + 7 * K4, K4).unwrap();
    let c = pt.leaf_counts_total();
    assert_eq!((c.count(G1), c.count(M2), c.count(K4)), (0, 511, 511));
    assert_eq!(pt.page_table_pages(), 4);
    assert_eq!(pt.translate_phys(PO + G1 + 5 * M2 + 7 * K4), None);
    assert_eq!(pt.translate_phys(PO + G1 + 5 * M2 + 8 * K4), Some(G1 + 5 * M2 + 8 * K4));
    let t = pt.translate(PO + G1 + 6 * M2).unwrap();
    assert_eq!((t.page_size, t.flags, t.entry), (M2, K, 0x8000_0000_40c0_01e3));
    // The split ptes carry the real pte encoding (no PSE).
    let t = pt.translate(PO + G1 + 5 * M2).unwrap();
    assert_eq!(t.entry, 0x8000_0000_40a0_0163);
    // A range unmap whose both edges cut 2M leaves.
    pt.unmap_range(&mut src, PO + G1 + 10 * M2 + 3 * K4, 2 * M2).unwrap();
    let c = pt.leaf_counts_total();
    assert_eq!((c.count(M2), c.count(K4)), (508, 511 + 3 + 509));
    pt.check_invariants().unwrap();
    // Unmap everything left: all tables but the root go back.
    pt.unmap_range(&mut src, PO + G1, 5 * M2 + 7 * K4).unwrap();
    pt.unmap_range(&mut src, PO + G1 + 5 * M2 + 8 * K4, 5 * M2 - 8 * K4 + 3 * K4).unwrap();
    pt.unmap_range(&mut src, PO + G1 + 12 * M2 + 3 * K4, G1 - 12 * M2 - 3 * K4).unwrap();
    assert_eq!(pt.page_table_pages(), 1);
    assert_eq!(src.in_use, 1);
    assert!(pt.leaf_counts_total().by_size.iter().all(|(_, n)| *n == 0));
    pt.check_invariants().unwrap();
}

#[test]
fn protect_splits_only_when_needed() {
    let (mut pt, mut src) = x86();
    pt.map_range(&mut src, PO, 0, 2 * G1, K, PageSizePolicy::Largest).unwrap();
    let tables = pt.page_table_pages();
    // Same flags on part of a leaf: no split.
    pt.protect_range(&mut src, PO + 3 * K4, K4, K).unwrap();
    assert_eq!(pt.page_table_pages(), tables);
    // Read-only on 4K inside the second 1G leaf.
    let ro = PteFlags::PAGE_KERNEL_RO;
    pt.protect(&mut src, PO + G1 + M2, K4, ro).unwrap();
    assert_eq!(pt.page_table_pages(), tables + 2);
    let t = pt.translate(PO + G1 + M2).unwrap();
    assert_eq!((t.flags, t.page_size, t.entry), (ro, K4, 0x8000_0000_4020_0121));
    assert_eq!(pt.translate(PO + G1 + M2 + K4).unwrap().flags, K);
    assert_eq!(pt.translate(PO + G1).unwrap().page_size, M2);
    // Whole 1G leaf: rewritten in place, stays 1G.
    pt.protect(&mut src, PO, G1, PteFlags::PAGE_KERNEL_EXEC).unwrap();
    let t = pt.translate(PO + 5).unwrap();
    assert_eq!((t.page_size, t.entry), (G1, 0x1e3));
    pt.check_invariants().unwrap();
}

#[test]
fn tables_go_back_to_the_source() {
    for f in all_formats() {
        let mut src = source();
        let mut pt = PageTable::new(f.clone(), &mut src).unwrap();
        let base = if f.va_form == VaForm::OnesExtended { 0xffff_0000_0000_0000 } else { 0 };
        assert_eq!(src.in_use, 1);
        pt.map_range(&mut src, base + G1 - 5 * K4, 0x10_0000, 3 * G1, K, PageSizePolicy::Largest).unwrap();
        pt.map(&mut src, base + 16 * G1, 0, K4, K).unwrap();
        assert!(src.in_use > 3);
        assert_eq!(src.in_use, pt.page_table_pages());
        pt.unmap_range(&mut src, base + G1 - 5 * K4, 3 * G1).unwrap();
        pt.unmap(&mut src, base + 16 * G1, K4).unwrap();
        assert_eq!(src.in_use, 1, "{}", f.name);
        assert_eq!(pt.page_table_pages(), 1);
        pt.check_invariants().unwrap();
        pt.destroy(&mut src);
        assert_eq!(src.in_use, 0);
    }
}

#[test]
fn out_of_memory_is_atomic() {
    for budget in 0..6 {
        let mut src = FailingSource { inner: source(), left: 1 + budget };
        let mut pt = PageTable::new(PageTableFormat::x86_64_4level(), &mut src).unwrap();
        if budget == 0 {
            // No page left for the pud table: nothing happened.
            assert!(pt.map(&mut src, PO, 0, G1, K).is_err());
            assert_eq!((pt.page_table_pages(), src.inner.in_use), (1, 1));
            continue;
        }
        pt.map(&mut src, PO, 0, G1, K).unwrap(); // needs the pud table
        let probes = [PO, PO + 3 * G1, PO + 5 * M2];
        let before = snapshot(&pt, &probes);
        let in_use = src.inner.in_use;
        src.left = 0;
        assert!(matches!(pt.map(&mut src, PO + 3 * G1, 0, K4, K), Err(MmError::OutOfMemory { .. })));
        assert!(matches!(pt.unmap(&mut src, PO + 5 * M2, K4), Err(MmError::OutOfMemory { .. })));
        assert!(pt.protect(&mut src, PO + 5 * M2, K4, PteFlags::PAGE_KERNEL_RO).is_err());
        // One page is not enough to split 1G down to 4K.
        src.left = 1;
        assert!(pt.unmap(&mut src, PO + 5 * M2, K4).is_err());
        // A range needing several tables, with too few pages.
        src.left = 1;
        assert!(pt.map_range(&mut src, PO + 4 * G1 - M2, 0, 2 * M2 + 2 * K4, K, PageSizePolicy::Largest).is_err());
        assert_eq!(snapshot(&pt, &probes), before);
        assert_eq!(src.inner.in_use, in_use);
        // With pages it works.
        src.left = 10;
        pt.unmap(&mut src, PO + 5 * M2, K4).unwrap();
    }
}

#[test]
fn batches() {
    let (mut pt, mut src) = x86();
    let items: Vec<(u64, u64, u64)> =
        (0..64).map(|i| (PO + i * M2, i * M2, if i % 2 == 0 { M2 } else { K4 })).collect();
    pt.map_batch(&mut src, &items, K).unwrap();
    let virts: Vec<u64> = (0..64).map(|i| PO + i * M2 + 0x234).collect();
    let mut out = vec![0; 64];
    assert_eq!(pt.translate_batch(&virts, &mut out).unwrap(), 64);
    assert_eq!(out[3], 3 * M2 + 0x234);
    let virts2 = [PO + 3 * M2 + 0x3000, 0x8000_0000_0000_0000, PO + 2 * M2 + 0x3000];
    let mut out2 = [0; 3];
    assert_eq!(pt.translate_batch(&virts2, &mut out2).unwrap(), 1);
    assert_eq!(out2, [TRANSLATE_FAULT, TRANSLATE_FAULT, 2 * M2 + 0x3000]);
    assert!(pt.translate_batch(&virts2, &mut out).is_err());
    pt.check_invariants().unwrap();
}

#[test]
fn counts_and_meminfo() {
    let (mut pt, mut src) = x86();
    pt.map_range(&mut src, PO, 0, 4 * G1 + 3 * M2 + 5 * K4, K, PageSizePolicy::Largest).unwrap();
    let c = pt.leaf_counts(PO, 8 * G1).unwrap();
    assert_eq!(
        c.meminfo_lines(),
        ["DirectMap4k:          20 kB", "DirectMap2M:        6144 kB", "DirectMap1G:     4194304 kB"]
    );
    // Only leaves starting inside the range count.
    let c = pt.leaf_counts(PO + G1, G1).unwrap();
    assert_eq!((c.count(G1), c.count(M2), c.count(K4)), (1, 0, 0));
    // pgd + pud + pmd + pte.
    assert_eq!(pt.page_table_pages(), 4);
    assert_eq!(pt.page_tables_kb(), 16);
    assert!(pt.leaf_counts(PO + 1, K4).is_err());
}

#[test]
fn upper_half_edge_of_the_address_space() {
    for f in all_formats() {
        let mut src = source();
        let mut pt = PageTable::new(f.clone(), &mut src).unwrap();
        let top = u64::MAX - K4 + 1;
        pt.map_range(&mut src, top - M2, 0, M2 + K4, K, PageSizePolicy::Largest).unwrap();
        assert_eq!(pt.translate_phys(u64::MAX), Some(M2 + K4 - 1), "{}", f.name);
        pt.unmap_range(&mut src, top - M2 + K4, M2).unwrap();
        assert_eq!(pt.translate_phys(top - M2), Some(0));
        pt.check_invariants().unwrap();
    }
}
