//! change_attr: large pages kept when the change leaves them as they are,
//! split only where a changing page is covered in part.

use super::common::*;

const BASE: u64 = PAGE_OFFSET_4LEVEL;

fn counts(pt: &PageTable) -> Vec<(u64, u64)> {
    pt.leaf_counts(BASE, 4 * M2).unwrap().by_size
}

fn four_huge_pages() -> (PageTable, BumpPageSource) {
    let (mut pt, mut src) = x86();
    pt.map_range(&mut src, BASE, 0, 4 * M2, PteFlags::PAGE_KERNEL, PageSizePolicy::Force(M2)).unwrap();
    (pt, src)
}

#[test]
fn a_partial_change_splits_only_the_leaf_it_touches() {
    let (mut pt, mut src) = four_huge_pages();
    let n = pt.change_attr(&mut src, BASE + M2 + K4, K4, PteFlags::empty(), PteFlags::WRITE, false).unwrap();
    assert!(n >= 1);
    assert_eq!(counts(&pt)[..2], [(K4, 512), (M2, 3)]);
    let ro = pt.translate(BASE + M2 + K4).unwrap();
    assert!(!ro.flags.contains(PteFlags::WRITE) && ro.page_size == K4);
    assert!(pt.translate(BASE + M2 + 2 * K4).unwrap().flags.contains(PteFlags::WRITE));
    pt.check_invariants().unwrap();
}

#[test]
fn a_change_that_alters_nothing_keeps_the_huge_page() {
    let (mut pt, mut src) = four_huge_pages();
    // PAGE_KERNEL is already no-execute and writable
    assert_eq!(pt.change_attr(&mut src, BASE + K4, K4, PteFlags::NOEXEC, PteFlags::empty(), false).unwrap(), 0);
    assert_eq!(pt.change_attr(&mut src, BASE + K4, 3 * M2, PteFlags::WRITE, PteFlags::empty(), false).unwrap(), 0);
    assert_eq!(counts(&pt)[..2], [(K4, 0), (M2, 4)]);
}

#[test]
fn a_whole_leaf_changes_in_place() {
    let (mut pt, mut src) = four_huge_pages();
    pt.change_attr(&mut src, BASE, 2 * M2, PteFlags::empty(), PteFlags::WRITE | PteFlags::NOEXEC, false).unwrap();
    assert_eq!(counts(&pt)[..2], [(K4, 0), (M2, 4)]);
    let t = pt.translate(BASE + 5).unwrap();
    assert!(!t.flags.contains(PteFlags::WRITE) && !t.flags.contains(PteFlags::NOEXEC));
    assert!(pt.translate(BASE + 2 * M2).unwrap().flags.contains(PteFlags::WRITE));
}

#[test]
fn a_hole_is_refused_before_anything_changes() {
    let (mut pt, mut src) = four_huge_pages();
    let before = snapshot(&pt, &[BASE, BASE + M2]);
    let err = pt.change_attr(&mut src, BASE + M2, 4 * M2, PteFlags::empty(), PteFlags::WRITE, false).unwrap_err();
    assert!(matches!(err, MmError::NotMapped { addr } if addr == BASE + 4 * M2));
    assert_eq!(snapshot(&pt, &[BASE, BASE + M2]), before);
}

#[test]
fn direct_pages_count_counts_like_the_kernel() {
    // RAM [0, 2G): the top 2 MiB is mapped first; the whole GiB around it
    // is memory, so a 1G page maps it, and the next range finds that page
    // again and counts it again, as phys_pud_init does
    let (mut pt, mut src) = x86();
    let ram = [(0, 2 * G1)];
    pt.init_memory_mapping(&mut src, 2 * G1 - M2, 2 * G1, PAGE_SIZE_MASK_2M_1G, &ram, BASE, PteFlags::PAGE_KERNEL)
        .unwrap();
    pt.init_memory_mapping(&mut src, G1, 2 * G1 - M2, PAGE_SIZE_MASK_2M_1G, &ram, BASE, PteFlags::PAGE_KERNEL)
        .unwrap();
    assert_eq!(pt.leaf_counts(BASE + G1, G1).unwrap().by_size[2], (G1, 1));
    assert_eq!(pt.direct_pages_count(), vec![(K4, 0), (M2, 0), (G1, 2)]);
    // an accounted split of that 1G page: one 1G fewer, 512 2M more, then
    // one of those 2M into 512 4K
    pt.change_attr(&mut src, BASE + G1 + K4, K4, PteFlags::empty(), PteFlags::WRITE, true).unwrap();
    assert_eq!(pt.direct_pages_count(), vec![(K4, 512), (M2, 511), (G1, 1)]);
    // unaccounted changes leave the count alone
    pt.change_attr(&mut src, BASE + G1 + M2 + K4, K4, PteFlags::empty(), PteFlags::WRITE, false).unwrap();
    assert_eq!(pt.direct_pages_count(), vec![(K4, 512), (M2, 511), (G1, 1)]);
}

#[test]
fn a_split_of_a_size_the_count_has_none_of_is_not_counted() {
    // a direct map in 4 KiB pages only (a CPU without PSE) and a 2 MiB
    // mapping outside it (the kernel image's): splitting the latter leaves
    // the count alone, as split_page_count does when it holds no 2 MiB page
    let (mut pt, mut src) = x86();
    let ram = [(0, 2 * M2)];
    pt.init_memory_mapping(&mut src, 0, 2 * M2, 0, &ram, BASE, PteFlags::PAGE_KERNEL).unwrap();
    assert_eq!(pt.direct_pages_count(), vec![(K4, 1024), (M2, 0), (G1, 0)]);
    pt.map_range(&mut src, BASE + G1, 0, 2 * M2, PteFlags::PAGE_KERNEL, PageSizePolicy::Force(M2)).unwrap();
    pt.change_attr(&mut src, BASE + G1 + K4, K4, PteFlags::empty(), PteFlags::WRITE, true).unwrap();
    assert_eq!(pt.direct_pages_count(), vec![(K4, 1024), (M2, 0), (G1, 0)]);
    assert_eq!(pt.leaf_counts(BASE + G1, M2).unwrap().by_size[0], (K4, 512));
}

#[test]
fn wx_pages_and_the_supported_mask() {
    let (mut pt, mut src) = x86();
    // a writable, executable 2 MiB page and a writable, no-execute one
    pt.map_range(&mut src, BASE, 0, M2, PteFlags::PAGE_KERNEL_EXEC, PageSizePolicy::Force(M2)).unwrap();
    pt.map_range(&mut src, BASE + M2, M2, M2, PteFlags::PAGE_KERNEL, PageSizePolicy::Force(M2)).unwrap();
    assert_eq!(pt.wx_pages(BASE, 4 * M2).unwrap(), 512);
    // a CPU without NX: no leaf written from now on carries the bit
    pt.set_supported_mask(!PteFlags::NOEXEC);
    pt.map_range(&mut src, BASE + 2 * M2, 2 * M2, M2, PteFlags::PAGE_KERNEL, PageSizePolicy::Force(M2)).unwrap();
    assert_eq!(pt.wx_pages(BASE, 4 * M2).unwrap(), 1024);
    // and setting it changes nothing, so splits nothing
    let before = pt.leaf_counts(BASE + 2 * M2, M2).unwrap();
    assert_eq!(pt.change_attr(&mut src, BASE + 2 * M2, K4, PteFlags::NOEXEC, PteFlags::empty(), true).unwrap(), 0);
    assert_eq!(pt.leaf_counts(BASE + 2 * M2, M2).unwrap(), before);
}

#[test]
fn set_not_present_splits_only_the_edges_it_covers_in_part() {
    let (mut pt, mut src) = four_huge_pages();
    let tables_before = pt.page_table_pages();
    // from 4K into the second huge page to the end of the third: the second
    // is split, the third goes whole
    let gone = pt.set_not_present(&mut src, BASE + M2 + K4, 2 * M2 - K4, true).unwrap();
    assert_eq!(gone, 511 + 1);
    assert_eq!(counts(&pt)[..2], [(K4, 1), (M2, 2)]);
    assert!(pt.translate(BASE + M2).is_ok());
    assert!(pt.translate(BASE + M2 + K4).is_err());
    assert!(pt.translate(BASE + 2 * M2).is_err());
    assert!(pt.translate(BASE + 3 * M2).is_ok());
    // the split table stays, though only one of its entries is present
    assert_eq!(pt.page_table_pages(), tables_before + 1);
    pt.check_invariants().unwrap();
}

#[test]
fn set_not_present_refuses_a_hole_and_changes_nothing() {
    let (mut pt, mut src) = four_huge_pages();
    let before = snapshot(&pt, &[BASE, BASE + M2]);
    let err = pt.set_not_present(&mut src, BASE + K4, 4 * M2, false).unwrap_err();
    assert!(matches!(err, MmError::NotMapped { addr } if addr == BASE + 4 * M2));
    assert_eq!(snapshot(&pt, &[BASE, BASE + M2]), before);
}

#[test]
fn set_not_present_counts_its_splits_like_change_attr() {
    let (mut pt, mut src) = x86();
    let ram = [(0, G1)];
    pt.init_memory_mapping(&mut src, 0, G1, PAGE_SIZE_MASK_2M_1G, &ram, BASE, PteFlags::PAGE_KERNEL).unwrap();
    assert_eq!(pt.direct_pages_count(), vec![(K4, 0), (M2, 0), (G1, 1)]);
    // a 2M page's worth from 4K in: the 1G page splits, then the 2M pages
    // at both edges
    pt.set_not_present(&mut src, BASE + K4, M2, true).unwrap();
    assert_eq!(pt.direct_pages_count(), vec![(K4, 1024), (M2, 510), (G1, 0)]);
    // a whole 2M page further up goes without a split
    pt.set_not_present(&mut src, BASE + 8 * M2, M2, true).unwrap();
    assert_eq!(pt.direct_pages_count(), vec![(K4, 1024), (M2, 510), (G1, 0)]);
}
