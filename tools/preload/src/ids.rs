//! Trace ids for live pointers, in fixed-size static memory.
//!
//! A trace names blocks by small ids instead of addresses. Each live pointer
//! gets an id; a freed id is handed out again, so ids stay below the largest
//! number of blocks live at once. The pointer-to-id map is an
//! open-addressing hash table with linear probing; removal shifts later
//! entries back instead of leaving tombstones, so lookups never slow down.

/// Slots in the table (a power of two).
const SLOTS: usize = 1 << 20;

/// Ids at most: the table is kept at most half full.
pub const MAX_IDS: usize = SLOTS / 2;

/// One table slot: a pointer (0 if empty) and its id.
#[derive(Clone, Copy)]
struct Slot {
    ptr: usize,
    id: u32,
}

/// The live pointers, their ids and their requested sizes.
///
/// All zero when empty, so a `static` of it lives in `.bss` and costs nothing
/// until used.
pub struct Ids {
    slots: [Slot; SLOTS],
    /// Requested bytes, by id.
    sizes: [usize; MAX_IDS],
    /// Freed ids, handed out again last-in first-out.
    spare: [u32; MAX_IDS],
    spare_len: usize,
    /// Ids handed out so far: every id is below this.
    next: u32,
}

impl Ids {
    /// No pointers.
    pub const fn new() -> Self {
        Ids {
            slots: [Slot { ptr: 0, id: 0 }; SLOTS],
            sizes: [0; MAX_IDS],
            spare: [0; MAX_IDS],
            spare_len: 0,
            next: 0,
        }
    }

    /// How many different ids were used: the trace header's id count.
    pub fn count(&self) -> usize {
        self.next as usize
    }

    /// The slot where `ptr`'s search starts (Fibonacci hashing of the
    /// address without its always-zero low bits).
    fn home(ptr: usize) -> usize {
        (ptr >> 4).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (usize::BITS - SLOTS.trailing_zeros())
    }

    /// The slot holding `ptr`, if any.
    fn find(&self, ptr: usize) -> Option<usize> {
        let mut i = Self::home(ptr);
        loop {
            match self.slots[i].ptr {
                0 => return None,
                p if p == ptr => return Some(i),
                _ => i = (i + 1) & (SLOTS - 1),
            }
        }
    }

    /// Gives `ptr` (not null, not present) an id and remembers its size.
    /// `None` when all ids are taken: the block goes unrecorded.
    pub fn insert(&mut self, ptr: usize, size: usize) -> Option<usize> {
        let id = if self.spare_len > 0 {
            self.spare_len -= 1;
            self.spare[self.spare_len]
        } else if (self.next as usize) < MAX_IDS {
            self.next += 1;
            self.next - 1
        } else {
            return None;
        };
        let mut i = Self::home(ptr);
        while self.slots[i].ptr != 0 {
            i = (i + 1) & (SLOTS - 1);
        }
        self.slots[i] = Slot { ptr, id };
        self.sizes[id as usize] = size;
        Some(id as usize)
    }

    /// Forgets `ptr`; returns its id and size so the id can be reused or
    /// moved to another pointer.
    pub fn remove(&mut self, ptr: usize) -> Option<(usize, usize)> {
        let mut hole = self.find(ptr)?;
        let id = self.slots[hole].id as usize;
        // Shift back every later entry of the run that may no longer be
        // found across the hole.
        let mut i = hole;
        loop {
            i = (i + 1) & (SLOTS - 1);
            let slot = self.slots[i];
            if slot.ptr == 0 {
                break;
            }
            let home = Self::home(slot.ptr);
            // The entry may move back if its home is not in (hole, i].
            let distance_home = i.wrapping_sub(home) & (SLOTS - 1);
            let distance_hole = i.wrapping_sub(hole) & (SLOTS - 1);
            if distance_home >= distance_hole {
                self.slots[hole] = slot;
                hole = i;
            }
        }
        self.slots[hole] = Slot { ptr: 0, id: 0 };
        Some((id, self.sizes[id]))
    }

    /// Makes `id` free for the next [`insert`](Self::insert).
    pub fn release(&mut self, id: usize) {
        if self.spare_len < MAX_IDS {
            self.spare[self.spare_len] = id as u32;
            self.spare_len += 1;
        }
    }

    /// Gives the (removed) pointer's `id` to `ptr`, with a new size.
    pub fn insert_with_id(&mut self, ptr: usize, id: usize, size: usize) {
        let mut i = Self::home(ptr);
        while self.slots[i].ptr != 0 {
            i = (i + 1) & (SLOTS - 1);
        }
        self.slots[i] = Slot { ptr, id: id as u32 };
        self.sizes[id] = size;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_pointers_and_are_reused() {
        // 20 MiB: too big for a test thread's stack.
        let mut ids = Box::<Ids>::new_uninit();
        // SAFETY: all-zero bytes are a valid, empty `Ids`.
        let ids: &mut Ids = unsafe {
            core::ptr::write_bytes(ids.as_mut_ptr(), 0, 1);
            ids.assume_init_mut()
        };
        let ptrs: Vec<usize> = (1..5000).map(|i| i * 48).collect();
        for (n, &p) in ptrs.iter().enumerate() {
            assert_eq!(ids.insert(p, n), Some(n));
        }
        // Remove every other one, then check the rest are still found.
        for &p in ptrs.iter().step_by(2) {
            let (id, size) = ids.remove(p).unwrap();
            assert_eq!(id, size);
            ids.release(id);
        }
        for (n, &p) in ptrs.iter().enumerate().skip(1).step_by(2) {
            assert_eq!(ids.find(p).map(|i| ids.slots[i].id as usize), Some(n));
        }
        // A freed id comes back first.
        let last_freed = (0..ptrs.len()).step_by(2).next_back().unwrap();
        assert_eq!(ids.insert(7, 1), Some(last_freed));
        assert_eq!(ids.count(), ptrs.len());
    }
}
