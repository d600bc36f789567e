//! The free-space tree against a plain model.

use proptest::prelude::*;

use crate::vmalloc::FreeTree;

/// Lowest aligned fit by a linear scan of the extents.
fn linear_fit(ext: &[(u64, u64)], size: u64, align: u64, vstart: u64, vend: u64) -> Option<u64> {
    ext.iter().find_map(|&(s, e)| {
        let a = s.max(vstart).next_multiple_of(align);
        (a + size <= e && a + size <= vend).then_some(a)
    })
}

#[test]
fn take_release_merge() {
    let mut t = FreeTree::new();
    assert!(t.release(0x1000, 0x10_0000));
    assert!(!t.release(0x2000, 0x3000), "already free");
    assert!(t.take(0x1000, 0x3000)); // left edge
    assert!(t.take(0xf_f000, 0x10_0000)); // right edge
    assert!(t.take(0x8000, 0x9000)); // middle
    assert!(!t.take(0x8000, 0x9000), "not free");
    assert!(!t.take(0x7000, 0x9000), "partly free");
    assert_eq!(t.extents(), [(0x3000, 0x8000), (0x9000, 0xf_f000)]);
    assert_eq!(t.largest(), 0xf_f000 - 0x9000);
    assert_eq!(t.find_lowest(0x5000, 0x1000, 0, u64::MAX), Some(0x3000));
    assert_eq!(t.find_lowest(0x5001, 0x1000, 0, u64::MAX), Some(0x9000));
    assert_eq!(t.find_lowest(0x1000, 0x1_0000, 0, u64::MAX), Some(0x1_0000));
    assert_eq!(t.find_lowest(0x1000, 0x1000, 0x4000, 0x6000), Some(0x4000));
    assert_eq!(t.find_lowest(0x3000, 0x1000, 0x4000, 0x6000), None);
    assert!(t.release(0x8000, 0x9000)); // merges both sides
    assert_eq!(t.extents(), [(0x3000, 0xf_f000)]);
    t.check().unwrap();
    assert_eq!(t.extent_at(0x5000), Some((0x3000, 0xf_f000)));
    assert_eq!(t.extent_at(0x1000), None);
    assert_eq!(t.find_lowest(0, 0x1000, 0, u64::MAX), None);
    assert_eq!(t.find_lowest(0x1000, 0, 0, u64::MAX), None);
    assert_eq!(t.find_lowest(0x1000, 0x3000, 0, u64::MAX), None);
    assert!(!t.take(0x5000, 0x5000) && !t.release(0x1000, 0x1000));
}

#[derive(Debug, Clone)]
enum Op {
    Take(u64, u64),
    Release(u64, u64),
    Find(u64, u32, u64, u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u64..512, 1u64..24).prop_map(|(a, n)| Op::Take(a, n)),
        (0u64..512, 1u64..24).prop_map(|(a, n)| Op::Release(a, n)),
        (1u64..40, 0u32..6, 0u64..512, 1u64..600).prop_map(|(n, al, s, e)| Op::Find(n, al, s, e)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn tree_matches_a_bitmap(ops in proptest::collection::vec(op(), 1..200)) {
        const P: u64 = 0x1000;
        let mut t = FreeTree::new();
        t.release(0, 512 * P);
        let mut free = vec![true; 512];
        for op in ops {
            match op {
                Op::Take(a, n) => {
                    let e = (a + n).min(512);
                    let all = (a..e).all(|i| free[i as usize]);
                    prop_assert_eq!(t.take(a * P, e * P), all && e > a);
                    if all { for i in a..e { free[i as usize] = false; } }
                }
                Op::Release(a, n) => {
                    let e = (a + n).min(512);
                    let none = (a..e).all(|i| !free[i as usize]);
                    prop_assert_eq!(t.release(a * P, e * P), none && e > a);
                    if none { for i in a..e { free[i as usize] = true; } }
                }
                Op::Find(n, al, s, e) => {
                    let ext = t.extents();
                    let want = linear_fit(&ext, n * P, P << al, s * P, e * P);
                    prop_assert_eq!(t.find_lowest(n * P, P << al, s * P, e * P), want);
                }
            }
            prop_assert!(t.check().is_ok(), "{:?}", t.check());
            let mut ext = Vec::new();
            let mut i = 0u64;
            while i < 512 {
                if free[i as usize] {
                    let s = i;
                    while i < 512 && free[i as usize] { i += 1; }
                    ext.push((s * P, i * P));
                } else { i += 1; }
            }
            prop_assert_eq!(t.extents(), ext);
        }
    }
}
