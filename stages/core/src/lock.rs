//! A spin lock that never allocates.
//!
//! `std::sync::Mutex` is fine in most programs, but an allocator may not call
//! anything that could allocate or re-enter itself. This lock is one atomic
//! flag: try to take it, spin a little if it is taken, then yield the
//! processor so that the holder can run (2 cores are common here).

use core::cell::UnsafeCell;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicBool, Ordering};

/// A value behind a spin lock.
pub struct Lock<T> {
    taken: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: the lock hands out at most one `&mut T` at a time, so sharing the
// lock between threads is as safe as sending `T` between them.
unsafe impl<T: Send> Sync for Lock<T> {}

impl<T> Lock<T> {
    /// A new, unlocked lock (usable in a `static`).
    pub const fn new(value: T) -> Self {
        Lock {
            taken: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    /// Waits until the lock is free, takes it, and returns a guard that
    /// releases it when dropped.
    pub fn lock(&self) -> LockGuard<'_, T> {
        self.acquire();
        LockGuard { lock: self }
    }

    /// Takes the lock without a guard (for `fork` handlers, which take the
    /// lock in one function and release it in another).
    pub fn acquire(&self) {
        let mut spins = 0u32;
        while self
            .taken
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            // Wait with plain loads (no cache-line ping-pong), then yield.
            while self.taken.load(Ordering::Relaxed) {
                if spins < 64 {
                    spins += 1;
                    core::hint::spin_loop();
                } else {
                    crate::os::yield_now();
                }
            }
        }
    }

    /// Releases a lock taken with [`acquire`](Self::acquire).
    ///
    /// # Safety
    ///
    /// The lock is held, by the caller (or by the parent process before a
    /// `fork`, in the child), and no guard for it is alive.
    pub unsafe fn release(&self) {
        self.taken.store(false, Ordering::Release);
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
    fn drop(&mut self) {
        // SAFETY: this guard holds the lock.
        unsafe { self.lock.release() };
    }
}
