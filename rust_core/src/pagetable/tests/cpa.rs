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
    let n = pt.change_attr(&mut src, BASE + M2 + K4, K4, PteFlags::empty(), PteFlags::WRITE).unwrap();
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
    assert_eq!(pt.change_attr(&mut src, BASE + K4, K4, PteFlags::NOEXEC, PteFlags::empty()).unwrap(), 0);
    assert_eq!(pt.change_attr(&mut src, BASE + K4, 3 * M2, PteFlags::WRITE, PteFlags::empty()).unwrap(), 0);
    assert_eq!(counts(&pt)[..2], [(K4, 0), (M2, 4)]);
}

#[test]
fn a_whole_leaf_changes_in_place() {
    let (mut pt, mut src) = four_huge_pages();
    pt.change_attr(&mut src, BASE, 2 * M2, PteFlags::empty(), PteFlags::WRITE | PteFlags::NOEXEC).unwrap();
    assert_eq!(counts(&pt)[..2], [(K4, 0), (M2, 4)]);
    let t = pt.translate(BASE + 5).unwrap();
    assert!(!t.flags.contains(PteFlags::WRITE) && !t.flags.contains(PteFlags::NOEXEC));
    assert!(pt.translate(BASE + 2 * M2).unwrap().flags.contains(PteFlags::WRITE));
}

#[test]
fn a_hole_is_refused_before_anything_changes() {
    let (mut pt, mut src) = four_huge_pages();
    let before = snapshot(&pt, &[BASE, BASE + M2]);
    let err = pt.change_attr(&mut src, BASE + M2, 4 * M2, PteFlags::empty(), PteFlags::WRITE).unwrap_err();
    assert!(matches!(err, MmError::NotMapped { addr } if addr == BASE + 4 * M2));
    assert_eq!(snapshot(&pt, &[BASE, BASE + M2]), before);
}
