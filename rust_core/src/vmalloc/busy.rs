//! The busy areas (the kernel's `vmap_area_root`): an ordered index from
//! start address to a slot of an arena, so that the index moves only small
//! keys and the areas themselves stay put. Lookups by start or by any
//! address inside are O(log n).

use std::collections::BTreeMap;

use super::area::VmapArea;

#[derive(Debug, Clone, Default)]
pub(crate) struct Busy {
    index: BTreeMap<u64, u32>,
    slots: Vec<Option<VmapArea>>,
    spare: Vec<u32>,
}

impl Busy {
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// The area starting at `addr`.
    #[inline]
    pub fn get(&self, addr: &u64) -> Option<&VmapArea> {
        let &i = self.index.get(addr)?;
        self.slots[i as usize].as_ref()
    }

    #[inline]
    pub fn get_mut(&mut self, addr: &u64) -> Option<&mut VmapArea> {
        let &i = self.index.get(addr)?;
        self.slots[i as usize].as_mut()
    }

    /// The area holding `addr`.
    pub fn containing(&self, addr: u64) -> Option<&VmapArea> {
        let (_, &i) = self.index.range(..=addr).next_back()?;
        self.slots[i as usize].as_ref().filter(|va| va.contains(addr))
    }

    pub fn insert(&mut self, va: VmapArea) {
        let start = va.va_start;
        let i = match self.spare.pop() {
            Some(i) => {
                self.slots[i as usize] = Some(va);
                i
            }
            None => {
                self.slots.push(Some(va));
                (self.slots.len() - 1) as u32
            }
        };
        self.index.insert(start, i);
    }

    pub fn remove(&mut self, addr: &u64) -> Option<VmapArea> {
        let i = self.index.remove(addr)?;
        self.spare.push(i);
        self.slots[i as usize].take()
    }

    /// The areas in address order.
    pub fn values(&self) -> impl Iterator<Item = &VmapArea> + '_ {
        self.index.values().filter_map(|&i| self.slots[i as usize].as_ref())
    }
}
