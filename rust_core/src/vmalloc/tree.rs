//! The free space of a vmalloc range (the kernel's `free_vmap_area_root`).
//!
//! Free extents `[start, end)` are kept in an AVL tree ordered by `start`,
//! stored in an arena (`u32` links, freed slots reused). Each node carries
//! `subtree_max_size`: the size of the largest extent in its subtree. With it
//! the lowest-address extent of at least `n` bytes past a given address is
//! found in O(log n) (one descent along the boundary, then at most one
//! descent into a subtree known to hold a match).
//!
//! Complexity, for `n` free extents:
//! * [`FreeTree::find_lowest`]: O(log n) when `align <= PAGE_SIZE` (every
//!   extent of the size fits); with a larger alignment, O((k + 1) log n)
//!   where `k` is the number of lower extents that are big enough but
//!   cannot hold the aligned request (each is smaller than
//!   `size + align - 1`).
//! * [`FreeTree::take`], [`FreeTree::release`] (with merging of adjacent
//!   extents): O(log n).
//!
//! Extents never overlap and never touch: [`FreeTree::release`] merges a
//! returned range with the extents right before and after it.

const NIL: u32 = u32::MAX;

#[derive(Debug, Clone, Copy)]
struct Node {
    start: u64,
    end: u64,
    left: u32,
    right: u32,
    height: u32,
    /// Largest `end - start` in this subtree ("subtree_max_size").
    max: u64,
}

/// Free extents of a vmalloc range, augmented with the largest extent size
/// per subtree. See the module documentation.
#[derive(Debug, Clone)]
pub struct FreeTree {
    nodes: Vec<Node>,
    spare: Vec<u32>,
    root: u32,
    len: usize,
    bytes: u64,
}

impl Default for FreeTree {
    fn default() -> Self {
        FreeTree { nodes: Vec::new(), spare: Vec::new(), root: NIL, len: 0, bytes: 0 }
    }
}

impl FreeTree {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of free extents.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there is no free extent.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Total free bytes.
    pub fn free_bytes(&self) -> u64 {
        self.bytes
    }

    /// The largest free extent, in bytes.
    pub fn largest(&self) -> u64 {
        self.max_of(self.root)
    }

    /// The free extents in address order.
    pub fn extents(&self) -> Vec<(u64, u64)> {
        let mut out = Vec::with_capacity(self.len);
        let mut stack = Vec::new();
        let mut n = self.root;
        loop {
            while n != NIL {
                stack.push(n);
                n = self.nodes[n as usize].left;
            }
            match stack.pop() {
                Some(x) => {
                    let nd = self.nodes[x as usize];
                    out.push((nd.start, nd.end));
                    n = nd.right;
                }
                None => return out,
            }
        }
    }

    /// The free extent holding `addr`, if any.
    pub fn extent_at(&self, addr: u64) -> Option<(u64, u64)> {
        let n = self.floor(addr)?;
        let nd = self.nodes[n as usize];
        (addr < nd.end).then_some((nd.start, nd.end))
    }

    // ----- arena and AVL helpers ----------------------------------------

    #[inline]
    fn h(&self, n: u32) -> u32 {
        if n == NIL {
            0
        } else {
            self.nodes[n as usize].height
        }
    }

    #[inline]
    fn max_of(&self, n: u32) -> u64 {
        if n == NIL {
            0
        } else {
            self.nodes[n as usize].max
        }
    }

    #[inline]
    fn pull(&mut self, n: u32) {
        let nd = self.nodes[n as usize];
        let height = 1 + self.h(nd.left).max(self.h(nd.right));
        let max = (nd.end - nd.start).max(self.max_of(nd.left)).max(self.max_of(nd.right));
        let m = &mut self.nodes[n as usize];
        m.height = height;
        m.max = max;
    }

    fn rot_right(&mut self, n: u32) -> u32 {
        let l = self.nodes[n as usize].left;
        self.nodes[n as usize].left = self.nodes[l as usize].right;
        self.nodes[l as usize].right = n;
        self.pull(n);
        self.pull(l);
        l
    }

    fn rot_left(&mut self, n: u32) -> u32 {
        let r = self.nodes[n as usize].right;
        self.nodes[n as usize].right = self.nodes[r as usize].left;
        self.nodes[r as usize].left = n;
        self.pull(n);
        self.pull(r);
        r
    }

    fn balance(&mut self, n: u32) -> u32 {
        self.pull(n);
        let (l, r) = (self.nodes[n as usize].left, self.nodes[n as usize].right);
        let (hl, hr) = (self.h(l), self.h(r));
        if hl > hr + 1 {
            let ll = self.nodes[l as usize].left;
            let lr = self.nodes[l as usize].right;
            if self.h(ll) < self.h(lr) {
                self.nodes[n as usize].left = self.rot_left(l);
            }
            return self.rot_right(n);
        }
        if hr > hl + 1 {
            let rl = self.nodes[r as usize].left;
            let rr = self.nodes[r as usize].right;
            if self.h(rr) < self.h(rl) {
                self.nodes[n as usize].right = self.rot_right(r);
            }
            return self.rot_left(n);
        }
        n
    }

    fn new_node(&mut self, start: u64, end: u64) -> u32 {
        let nd = Node { start, end, left: NIL, right: NIL, height: 1, max: end - start };
        match self.spare.pop() {
            Some(i) => {
                self.nodes[i as usize] = nd;
                i
            }
            None => {
                self.nodes.push(nd);
                (self.nodes.len() - 1) as u32
            }
        }
    }

    fn ins(&mut self, n: u32, new: u32) -> u32 {
        if n == NIL {
            return new;
        }
        if self.nodes[new as usize].start < self.nodes[n as usize].start {
            let l = self.ins(self.nodes[n as usize].left, new);
            self.nodes[n as usize].left = l;
        } else {
            let r = self.ins(self.nodes[n as usize].right, new);
            self.nodes[n as usize].right = r;
        }
        self.balance(n)
    }

    /// Detach the leftmost node of subtree `n`: `(new subtree, node)`.
    fn del_min(&mut self, n: u32) -> (u32, u32) {
        let l = self.nodes[n as usize].left;
        if l == NIL {
            return (self.nodes[n as usize].right, n);
        }
        let (nl, m) = self.del_min(l);
        self.nodes[n as usize].left = nl;
        (self.balance(n), m)
    }

    fn del(&mut self, n: u32, key: u64) -> u32 {
        if n == NIL {
            return NIL;
        }
        let nd = self.nodes[n as usize];
        if key < nd.start {
            let l = self.del(nd.left, key);
            self.nodes[n as usize].left = l;
        } else if key > nd.start {
            let r = self.del(nd.right, key);
            self.nodes[n as usize].right = r;
        } else {
            self.spare.push(n);
            if nd.left == NIL {
                return nd.right;
            }
            if nd.right == NIL {
                return nd.left;
            }
            let (r, m) = self.del_min(nd.right);
            self.nodes[m as usize].left = nd.left;
            self.nodes[m as usize].right = r;
            return self.balance(m);
        }
        self.balance(n)
    }

    /// Apply `f` to the node whose start is `key` and refresh the sizes on
    /// the path. `f` may move the node's bounds as long as the order of
    /// extents is kept.
    fn modify(&mut self, n: u32, key: u64, f: &mut dyn FnMut(&mut Node)) {
        if n == NIL {
            return;
        }
        let start = self.nodes[n as usize].start;
        if key < start {
            self.modify(self.nodes[n as usize].left, key, f);
        } else if key > start {
            self.modify(self.nodes[n as usize].right, key, f);
        } else {
            f(&mut self.nodes[n as usize]);
        }
        self.pull(n);
    }

    /// The node with the largest start `<= key`.
    fn floor(&self, key: u64) -> Option<u32> {
        let mut n = self.root;
        let mut best = None;
        while n != NIL {
            let nd = &self.nodes[n as usize];
            if nd.start <= key {
                best = Some(n);
                n = nd.right;
            } else {
                n = nd.left;
            }
        }
        best
    }

    /// The node with the smallest start `>= key`.
    fn ceil(&self, key: u64) -> Option<u32> {
        let mut n = self.root;
        let mut best = None;
        while n != NIL {
            let nd = &self.nodes[n as usize];
            if nd.start >= key {
                best = Some(n);
                n = nd.left;
            } else {
                n = nd.right;
            }
        }
        best
    }

    /// The leftmost node of subtree `n` with `start > from` and a size of
    /// at least `min`.
    fn first_after(&self, n: u32, from: u64, min: u64) -> Option<u32> {
        if n == NIL || self.nodes[n as usize].max < min {
            return None;
        }
        let nd = &self.nodes[n as usize];
        if nd.start > from {
            if let Some(x) = self.first_after(nd.left, from, min) {
                return Some(x);
            }
            if nd.end - nd.start >= min {
                return Some(n);
            }
        }
        self.first_after(nd.right, from, min)
    }

    fn insert_raw(&mut self, start: u64, end: u64) {
        let n = self.new_node(start, end);
        self.root = self.ins(self.root, n);
        self.len += 1;
    }

    fn remove_raw(&mut self, start: u64) {
        self.root = self.del(self.root, start);
        self.len -= 1;
    }

    // ----- the operations vmalloc uses ------------------------------------

    /// The lowest address `a` with `a % align == 0`, `a >= vstart`,
    /// `a + size <= vend` and `[a, a + size)` entirely free. `align` is a
    /// power of two and `size > 0` (else: `None`).
    pub fn find_lowest(&self, size: u64, align: u64, vstart: u64, vend: u64) -> Option<u64> {
        if size == 0 || !align.is_power_of_two() {
            return None;
        }
        let fit = |n: u32| -> Result<u64, bool> {
            // Ok(addr) | Err(true): no fit here or higher | Err(false): try higher
            let nd = &self.nodes[n as usize];
            let lo = nd.start.max(vstart);
            let Some(a) = lo.checked_add(align - 1).map(|x| x & !(align - 1)) else { return Err(true) };
            let Some(e) = a.checked_add(size) else { return Err(true) };
            if e > vend {
                return Err(true);
            }
            if e <= nd.end {
                Ok(a)
            } else {
                Err(false)
            }
        };
        // The extent straddling vstart, if any.
        let mut from = vstart;
        if let Some(n) = self.floor(vstart) {
            if self.nodes[n as usize].end > vstart {
                match fit(n) {
                    Ok(a) => return Some(a),
                    Err(true) => return None,
                    Err(false) => {}
                }
            }
        }
        loop {
            let n = self.first_after(self.root, from, size)?;
            match fit(n) {
                Ok(a) => return Some(a),
                Err(true) => return None,
                Err(false) => from = self.nodes[n as usize].start,
            }
        }
    }

    /// Carve `[start, end)` out of the free extent that holds it. Returns
    /// false (and changes nothing) when the range is not entirely free.
    pub fn take(&mut self, start: u64, end: u64) -> bool {
        let Some(n) = self.floor(start) else { return false };
        let nd = self.nodes[n as usize];
        if start >= end || end > nd.end {
            return false;
        }
        let root = self.root;
        match (nd.start == start, nd.end == end) {
            (true, true) => self.remove_raw(start),
            (true, false) => self.modify(root, start, &mut |x| x.start = end),
            (false, true) => self.modify(root, nd.start, &mut |x| x.end = start),
            (false, false) => {
                self.modify(root, nd.start, &mut |x| x.end = start);
                self.insert_raw(end, nd.end);
            }
        }
        self.bytes -= end - start;
        true
    }

    /// Give `[start, end)` back, merged with the extents it touches.
    /// Returns false (and changes nothing) when any of it is free already.
    pub fn release(&mut self, start: u64, end: u64) -> bool {
        if start >= end {
            return false;
        }
        let prev = self.floor(start);
        let next = self.ceil(start);
        if let Some(p) = prev {
            if self.nodes[p as usize].end > start {
                return false;
            }
        }
        if let Some(x) = next {
            if self.nodes[x as usize].start < end {
                return false;
            }
        }
        let prev = prev.filter(|&p| self.nodes[p as usize].end == start).map(|p| self.nodes[p as usize].start);
        let next = next.filter(|&x| self.nodes[x as usize].start == end).map(|x| self.nodes[x as usize].end);
        let root = self.root;
        match (prev, next) {
            (Some(ps), Some(ne)) => {
                self.remove_raw(end);
                let root = self.root;
                self.modify(root, ps, &mut |x| x.end = ne);
            }
            (Some(ps), None) => self.modify(root, ps, &mut |x| x.end = end),
            (None, Some(_)) => self.modify(root, end, &mut |x| x.start = start),
            (None, None) => self.insert_raw(start, end),
        }
        self.bytes += end - start;
        true
    }

    /// Check the tree's invariants (order, no touching extents, AVL
    /// balance, heights and subtree sizes); for tests.
    pub fn check(&self) -> Result<(), String> {
        fn rec(t: &FreeTree, n: u32) -> Result<(u32, u64, usize), String> {
            if n == NIL {
                return Ok((0, 0, 0));
            }
            let nd = t.nodes[n as usize];
            let (hl, ml, cl) = rec(t, nd.left)?;
            let (hr, mr, cr) = rec(t, nd.right)?;
            if hl.abs_diff(hr) > 1 {
                return Err(format!("unbalanced at {:#x}", nd.start));
            }
            let h = 1 + hl.max(hr);
            let m = (nd.end - nd.start).max(ml).max(mr);
            if h != nd.height || m != nd.max {
                return Err(format!("stale height/max at {:#x}", nd.start));
            }
            Ok((h, m, cl + cr + 1))
        }
        let (_, _, count) = rec(self, self.root)?;
        if count != self.len {
            return Err(format!("len {} but {count} nodes", self.len));
        }
        let ext = self.extents();
        let mut bytes = 0;
        for (i, &(s, e)) in ext.iter().enumerate() {
            if s >= e {
                return Err(format!("empty extent {s:#x}"));
            }
            if i > 0 && ext[i - 1].1 >= s {
                return Err(format!("extents {:#x?} and {:#x?} overlap or touch", ext[i - 1], (s, e)));
            }
            bytes += e - s;
        }
        if bytes != self.bytes {
            return Err(format!("free bytes {} but extents hold {bytes}", self.bytes));
        }
        Ok(())
    }
}
