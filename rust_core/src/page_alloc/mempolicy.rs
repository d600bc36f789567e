//! The allocating task's memory policy (mm/mempolicy.c), which decides the
//! node of a request that names none (`alloc_pages()`, vmalloc and slab
//! pages for `NUMA_NO_NODE`): the local node of the allocating cpu, or,
//! from `numa_policy_init` until `numa_default_policy` at the end of boot,
//! interleave over the nodes with memory.

use crate::error::{MmError, Result};

/// A task's memory policy.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum MemPolicy {
    /// The default: the node of the allocating cpu.
    #[default]
    Local,
    /// `MPOL_INTERLEAVE`: each request goes to the next node of `nodes`
    /// after `il_prev` (the task's last interleave node), wrapping.
    Interleave { nodes: Vec<u32>, il_prev: u32 },
}

impl MemPolicy {
    /// Interleave over `nodes` (sorted, deduplicated, not empty), starting
    /// with the first as `do_set_mempolicy` does (it resets `il_prev` to
    /// the last possible node).
    pub fn interleave(nodes: &[u32]) -> Result<Self> {
        let mut v = nodes.to_vec();
        v.sort_unstable();
        v.dedup();
        let Some(&last) = v.last() else {
            return Err(MmError::invalid("nodes", "interleave needs at least one node"));
        };
        Ok(MemPolicy::Interleave { nodes: v, il_prev: last })
    }

    /// `interleave_nodes`: the next interleave node (None for `Local`).
    pub fn next_interleave(&mut self) -> Option<u32> {
        match self {
            MemPolicy::Local => None,
            MemPolicy::Interleave { nodes, il_prev } => {
                let next = nodes.iter().copied().find(|&n| n > *il_prev).unwrap_or(nodes[0]);
                *il_prev = next;
                Some(next)
            }
        }
    }

    /// The nodes a request is spread over (one for `Local`).
    pub fn weight(&self) -> usize {
        match self {
            MemPolicy::Local => 1,
            MemPolicy::Interleave { nodes, .. } => nodes.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interleave_starts_with_the_first_node_and_wraps() {
        let mut p = MemPolicy::interleave(&[2, 0, 1, 2]).unwrap();
        let seq: Vec<u32> = (0..7).map(|_| p.next_interleave().unwrap()).collect();
        assert_eq!(seq, [0, 1, 2, 0, 1, 2, 0]);
        assert_eq!(p.weight(), 3);
        assert!(MemPolicy::interleave(&[]).is_err());
        assert_eq!(MemPolicy::Local.next_interleave(), None);
    }
}
