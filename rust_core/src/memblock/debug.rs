//! The kernel messages of memblock: the `memblock=debug` trace
//! (`memblock_dbg()`), the warnings printed regardless of it, and the
//! `__memblock_dump_all()` table.
//!
//! Lines are stored without the trailing newline and without a log-level
//! prefix. `%pa`/`%pap` are rendered as the kernel does for a 64-bit
//! `phys_addr_t` (`0x` and 16 zero-padded hex digits) and `%#x` as the
//! kernel's `vsprintf` does (`0x0` for zero, unlike C's `printf`). Where the
//! kernel prints the caller with `%pS`, we print the caller string the client
//! passed.

use super::{KernelVersion, Memblock, MemblockFlags, MemblockType};
use crate::units::PhysAddr;

/// `%pa`: a physical address as `0x` + 16 hex digits.
pub(crate) fn pa(x: u64) -> String {
    format!("{x:#018x}")
}

impl Memblock {
    /// `memblock_dbg()`: log `line` if the debug trace is on.
    pub(crate) fn dbg(&mut self, line: String) {
        if self.debug {
            self.log.push(line);
        }
    }
    /// `pr_warn()`: always logged.
    pub(crate) fn pr_warn(&mut self, line: String) {
        self.log.push(line);
    }
    /// `pr_err()`: always logged.
    pub(crate) fn pr_err(&mut self, line: String) {
        self.log.push(line);
    }

    /// The `"%s: [%pa-%pa] ... %pS"` trace of the range operations.
    pub(crate) fn dbg_range(
        &mut self,
        func: &str,
        base: PhysAddr,
        size: u64,
        node: Option<(i32, MemblockFlags)>,
        caller: &str,
    ) {
        if !self.debug {
            return;
        }
        let end = base.wrapping_add(size).wrapping_sub(1);
        let line = match node {
            None => format!("{func}: [{}-{}] {caller}", pa(base), pa(end)),
            Some((nid, _)) if func == "memblock_add_node" && self.version == KernelVersion::V5_14 => {
                format!("{func}: [{}-{}] nid={nid} {caller}", pa(base), pa(end))
            }
            Some((nid, flags)) => {
                format!("{func}: [{}-{}] nid={nid} flags={:x} {caller}", pa(base), pa(end), flags.bits())
            }
        };
        self.log.push(line);
    }

    /// The messages logged so far (debug trace, warnings and errors).
    pub fn log(&self) -> &[String] {
        &self.log
    }

    /// Take the messages logged so far, leaving the log empty.
    pub fn take_log(&mut self) -> Vec<String> {
        std::mem::take(&mut self.log)
    }

    fn dump_type(&self, t: &MemblockType, out: &mut Vec<String>) {
        out.push(format!(" {}.cnt  = {:#x}", t.name, t.cnt()));
        for idx in 0..t.cnt() {
            let r = t.region(idx).unwrap_or_else(|| t.dummy());
            let end = r.base.wrapping_add(r.size).wrapping_sub(1);
            let nid_buf = if r.nid != self.max_numnodes { format!(" on node {}", r.nid) } else { String::new() };
            out.push(format!(
                " {}[{idx:#x}]\t[{}-{}], {} bytes{nid_buf} flags: {:#x}",
                t.name,
                pa(r.base),
                pa(end),
                pa(r.size),
                r.flags.bits()
            ));
        }
    }

    /// The lines `__memblock_dump_all()` prints (without newlines). An empty
    /// type shows as the kernel's single zero-sized dummy entry.
    pub fn dump_lines(&self) -> Vec<String> {
        let mut out = vec![
            "MEMBLOCK configuration:".to_string(),
            format!(" memory size = {} reserved size = {}", pa(self.memory.total_size), pa(self.reserved.total_size)),
        ];
        self.dump_type(&self.memory, &mut out);
        self.dump_type(&self.reserved, &mut out);
        out
    }

    /// [`Memblock::dump_lines`] joined, each line ending with `'\n'`.
    pub fn dump_text(&self) -> String {
        let mut s = String::new();
        for l in self.dump_lines() {
            s.push_str(&l);
            s.push('\n');
        }
        s
    }

    /// `memblock_dump_all()`: append the dump to the log if the debug trace
    /// is on.
    pub fn memblock_dump_all(&mut self) {
        if self.debug {
            let lines = self.dump_lines();
            self.log.extend(lines);
        }
    }
}
