//! A lock that never allocates, and sleeps instead of spinning forever.
//!
//! `std::sync::Mutex` is fine in most programs, but an allocator may not call
//! anything that could allocate or re-enter itself. This lock is one atomic
//! word with three states, as in Ulrich Drepper's "Futexes Are Tricky":
//!
//! - `UNLOCKED`: free;
//! - `LOCKED`: taken, nobody waiting;
//! - `CONTENDED`: taken, and someone may be asleep waiting for it.
//!
//! Taking a free lock is one compare-and-swap. A thread that finds it taken
//! spins a little (the holder of an allocator's lock keeps it for well under
//! a microsecond), then marks it `CONTENDED` and sleeps in the kernel
//! (`futex`) until the holder wakes it. A lock that only spun would let two
//! threads on two processors wait on each other's time slices; one that
//! yields (`sched_yield`) still burns a processor when it is the only thing
//! to run.
//!
//! The lock also counts how often it was taken: the cost a per-thread cache
//! saves is visible as a number (see [`Lock::acquisitions`]).

use core::cell::UnsafeCell;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::os;

const UNLOCKED: u32 = 0;
const LOCKED: u32 = 1;
const CONTENDED: u32 = 2;

/// Checks of the lock word before a waiting thread goes to sleep.
const SPINS: u32 = 100;

/// A value behind a lock.
pub struct Lock<T> {
    state: AtomicU32,
    /// Times the lock was taken. Written only by the holder, so a plain
    /// load and store (no atomic read-modify-write) is enough. It wraps
    /// rather than panic: a panic with the lock taken would keep it forever.
    taken: AtomicU64,
    value: UnsafeCell<T>,
}

// SAFETY: the lock hands out at most one `&mut T` at a time, so sharing the
// lock between threads is as safe as sending `T` between them.
unsafe impl<T: Send> Sync for Lock<T> {}

impl<T> Lock<T> {
    /// A new, unlocked lock (usable in a `static`).
    pub const fn new(value: T) -> Self {
        Lock {
            state: AtomicU32::new(UNLOCKED),
            taken: AtomicU64::new(0),
            value: UnsafeCell::new(value),
        }
    }

    /// Waits until the lock is free, takes it, and returns a guard that
    /// releases it when dropped.
    #[inline]
    pub fn lock(&self) -> LockGuard<'_, T> {
        self.acquire();
        LockGuard { lock: self }
    }

    /// Takes the lock if it is free, without waiting; `None` if another
    /// thread holds it (the caller learns that the lock is contended).
    #[inline]
    pub fn try_lock(&self) -> Option<LockGuard<'_, T>> {
        self.state
            .compare_exchange(UNLOCKED, LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .ok()?;
        let taken = self.taken.load(Ordering::Relaxed);
        self.taken.store(taken.wrapping_add(1), Ordering::Relaxed);
        Some(LockGuard { lock: self })
    }

    // ANCHOR: acquire
    /// Takes the lock without a guard (for `fork` handlers, which take the
    /// lock in one function and release it in another).
    #[inline]
    pub fn acquire(&self) {
        if self
            .state
            .compare_exchange(UNLOCKED, LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.wait();
        }
        let taken = self.taken.load(Ordering::Relaxed);
        self.taken.store(taken.wrapping_add(1), Ordering::Relaxed);
    }

    /// The slow path of [`acquire`](Self::acquire): spin a little, then
    /// sleep until the holder wakes us.
    #[cold]
    fn wait(&self) {
        for _ in 0..SPINS {
            // Plain loads while it is taken: no cache-line ping-pong.
            if self.state.load(Ordering::Relaxed) == UNLOCKED
                && self
                    .state
                    .compare_exchange(UNLOCKED, LOCKED, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            {
                return;
            }
            core::hint::spin_loop();
        }
        // Say that someone waits, and sleep while that is still true. Taking
        // the lock this way leaves it CONTENDED, so its release wakes the
        // next sleeper, if any (at worst one wake-up too many).
        while self.state.swap(CONTENDED, Ordering::Acquire) != UNLOCKED {
            os::futex_wait(&self.state, CONTENDED);
        }
    }

    // ANCHOR_END: acquire

    // ANCHOR: release
    /// Releases a lock taken with [`acquire`](Self::acquire).
    ///
    /// # Safety
    ///
    /// The lock is held, by the caller (or by the parent process before a
    /// `fork`, in the child), and no guard for it is alive.
    #[inline]
    pub unsafe fn release(&self) {
        if self.state.swap(UNLOCKED, Ordering::Release) == CONTENDED {
            os::futex_wake_one(&self.state);
        }
    }
    // ANCHOR_END: release

    /// How many times the lock has been taken so far.
    pub fn acquisitions(&self) -> u64 {
        self.taken.load(Ordering::Relaxed)
    }

    /// The value, through exclusive access to the lock (no locking needed).
    pub fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }
}

/// Access to the value while the lock is held.
pub struct LockGuard<'a, T> {
    lock: &'a Lock<T>,
}

impl<T> Deref for LockGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard exists only while the lock is held.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> DerefMut for LockGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard exists only while the lock is held.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for LockGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: this guard holds the lock.
        unsafe { self.lock.release() };
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::sync::Arc;
    use std::thread;

    use super::Lock;

    #[test]
    fn threads_that_wait_all_get_their_turn() {
        // Miri interprets every step: fewer rounds there.
        let rounds = if cfg!(miri) { 200 } else { 100_000 };
        let lock = Arc::new(Lock::new(0u64));
        let threads: std::vec::Vec<_> = (0..4)
            .map(|_| {
                let lock = Arc::clone(&lock);
                thread::spawn(move || {
                    for _ in 0..rounds {
                        *lock.lock() += 1;
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(*lock.lock(), 4 * rounds);
        // Every increment took the lock once, and so did the read above.
        assert_eq!(lock.acquisitions(), 4 * rounds + 1);
    }

    #[test]
    fn try_lock_takes_only_a_free_lock() {
        let lock = Lock::new(7u32);
        {
            let guard = lock.try_lock().expect("a free lock is taken");
            assert_eq!(*guard, 7);
            assert!(lock.try_lock().is_none(), "a held lock is not taken twice");
        }
        assert!(lock.try_lock().is_some(), "the guard's drop freed it");
        assert_eq!(lock.acquisitions(), 2);
    }
}
