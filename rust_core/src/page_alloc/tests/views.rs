use super::*;

/// The real /proc dump of the QEMU 2G boot, looked up in the shared
/// fixtures next to the checkout (main tree or worktree) or at
/// `$MMSVC_FIXTURES`.
fn fixture() -> Option<String> {
    let dir = env!("CARGO_MANIFEST_DIR");
    let mut cands = vec![
        format!("{dir}/../../shared/fixtures/dmesg"),
        format!("{dir}/../../../shared/fixtures/dmesg"),
        format!("{dir}/../shared/fixtures/dmesg"),
    ];
    if let Ok(d) = std::env::var("MMSVC_FIXTURES") {
        cands.insert(0, format!("{d}/dmesg"));
    }
    cands.iter().find_map(|d| std::fs::read_to_string(format!("{d}/qemu-x86_64-2g-proc.log")).ok())
}

fn fixture_section(name: &str) -> Vec<String> {
    let Some(text) = fixture() else {
        eprintln!("fixture qemu-x86_64-2g-proc.log not found; comparing nothing");
        return Vec::new();
    };
    let text = text.replace('\r', "");
    let start = text.find(&format!("=== {name}\n")).unwrap() + name.len() + 5;
    let rest = &text[start..];
    let end = rest.find("\n===").unwrap();
    rest[..end].lines().map(|l| l.to_string()).collect()
}

/// DMA free like the fixture's buddyinfo: orders 6, 7, 9 once, 10 three times.
fn dma_like_fixture() -> PageAlloc {
    let cfg = no_defer();
    let mut pa = PageAlloc::new(&qemu_2g_layout(&cfg), &cfg).unwrap();
    pa.memblock_free_all(&[(0x140, 0x1000, 0)]).unwrap();
    pa.setup_per_cpu_pageset();
    pa.init_per_zone_wmark_min();
    pa
}

#[test]
fn buddyinfo_matches_kernel_widths() {
    let pa = dma_like_fixture();
    let ours = pa.buddyinfo();
    let theirs = fixture_section("/proc/buddyinfo");
    if theirs.is_empty() {
        return;
    }
    assert_eq!(ours.lines().next().unwrap(), theirs[0]);
}

#[test]
fn pagetypeinfo_matches_kernel_widths() {
    let pa = dma_like_fixture();
    let ours: Vec<String> = pa.pagetypeinfo().lines().map(|l| l.to_string()).collect();
    let theirs = fixture_section("/proc/pagetypeinfo");
    if theirs.is_empty() {
        return;
    }
    assert_eq!(ours[0..4], theirs[0..4]);
    // The DMA zone's first pageblock starts at pfn 0, a hole, so memmap init
    // never made it MOVABLE: its free pages (orders 6 and 7) are on the
    // unmovable lists, as in the fixture; the Isolate line is all zeros.
    assert_eq!(ours[4], theirs[4]);
    assert_eq!(ours[8], theirs[8]);
    let hdr = theirs.iter().position(|l| l.starts_with("Number of blocks")).unwrap();
    let ohdr = ours.iter().position(|l| l.starts_with("Number of blocks")).unwrap();
    assert_eq!(ours[ohdr], theirs[hdr]);
    assert_eq!(ours[ohdr - 1], "");
    assert_eq!(ours[ohdr + 1], "Node 0, zone      DMA            1            7            0            0            0 ");
    assert_eq!(
        ours[5],
        "Node    0, zone      DMA, type      Movable      0      0      0      0      0      0      0      0      0      1      3 "
    );
}

#[test]
fn zoneinfo_matches_kernel_format() {
    let pa = dma_like_fixture();
    let ours = pa.zoneinfo();
    let theirs = fixture_section("/proc/zoneinfo");
    if theirs.is_empty() {
        return;
    }
    // The empty zones' blocks are identical.
    let normal = theirs.iter().position(|l| l == "Node 0, zone   Normal").unwrap();
    let tail: Vec<&str> = theirs[normal..].iter().map(|s| s.as_str()).collect();
    let ol: Vec<&str> = ours.lines().collect();
    let onormal = ol.iter().position(|l| *l == "Node 0, zone   Normal").unwrap();
    assert_eq!(&ol[onormal..], &tail[..]);
    // Populated zones: same line shapes.
    let dma = ol.iter().position(|l| *l == "Node 0, zone      DMA").unwrap();
    assert!(ol[dma + 1].starts_with("  pages free     "));
    assert_eq!(ol[dma + 2], "        boost    0");
    assert!(ol[dma + 10].starts_with("        protection: (0, "));
    assert!(ol.contains(&"              batch: 1"));
    assert!(ol.contains(&"  vm stats threshold: 2"));
    assert!(ol.contains(&"  start_pfn:           1"));
}
