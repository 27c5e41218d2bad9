//! Fork safety: the `pthread_atfork` handlers.
//!
//! `fork` copies only the calling thread. If another thread held the
//! allocator's lock at that moment, the child would inherit a lock that
//! nobody will ever release, and a heap half-way through a change. So the
//! prepare handler takes every lock we have (the recorder's first, then the
//! heap's, the order `api` takes them in), `fork` happens while no thread is
//! inside the allocator, and both processes release the locks afterwards.

use malloc_core::Malloc;

use crate::trace;

/// Before `fork`: take the recorder's lock, then the heap's.
pub fn fork_prepare<M: Malloc>(m: &M) {
    trace::lock_for_fork();
    m.lock_for_fork();
}

/// After `fork`, in the parent: release both.
///
/// # Safety
///
/// [`fork_prepare`] ran before in this process.
pub unsafe fn fork_parent<M: Malloc>(m: &M) {
    // SAFETY: fork_prepare took both locks.
    unsafe {
        m.unlock_after_fork();
        trace::unlock_after_fork();
    }
}

/// After `fork`, in the child: release both; the child does not record.
/// The allocator also drops what the parent's other threads kept outside
/// its lock: they may have stopped half-way through a change to it.
///
/// # Safety
///
/// [`fork_prepare`] ran before in the parent.
pub unsafe fn fork_child<M: Malloc>(m: &M) {
    // SAFETY: fork_prepare took both locks in the parent; the child has
    // copies of them, held, and only this thread.
    unsafe {
        m.unlock_in_child();
        trace::child_after_fork();
    }
}
