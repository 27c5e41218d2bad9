//! A thin wrapper around the allocator under test that notices the first
//! refused request and, on demand, times every call.
//!
//! Every allocator is measured through the same wrapper and the same
//! `dyn Malloc` call, so each pays the same small overhead per op.

use std::cell::UnsafeCell;
use std::fmt;
use std::time::Instant;

use malloc_core::{HeapError, Malloc, Stats};

/// The allocator under test, watched.
pub struct Probe<'a> {
    inner: &'a dyn Malloc,
    state: UnsafeCell<State>,
}

struct State {
    /// Calls so far.
    calls: u64,
    /// The call (counting from 1) that first returned null for a request of
    /// more than 0 bytes; 0 if none did.
    first_null: u64,
    /// When timing: the duration of each call in ns, filled up to capacity.
    latencies: Option<Vec<u32>>,
}

// SAFETY: a Probe is used by one thread only (the benchmark's); `Malloc`
// asks for Sync because allocators are shared, but this one never is.
unsafe impl Sync for Probe<'_> {}

impl<'a> Probe<'a> {
    /// Watches `inner`; with `latencies`, also times up to that many calls
    /// (the buffer is allocated here, before any measured op).
    pub fn new(inner: &'a dyn Malloc, latencies: Option<usize>) -> Self {
        Probe {
            inner,
            state: UnsafeCell::new(State {
                calls: 0,
                first_null: 0,
                latencies: latencies.map(Vec::with_capacity),
            }),
        }
    }

    /// The call that first failed (counting from 1), if any did.
    pub fn first_null(&self) -> Option<u64> {
        // SAFETY: one thread, and no call is running (we are not inside one).
        let state = unsafe { &*self.state.get() };
        (state.first_null > 0).then_some(state.first_null)
    }

    /// The timed calls' durations in ns.
    pub fn into_latencies(self) -> Vec<u32> {
        self.state.into_inner().latencies.unwrap_or_default()
    }

    /// Runs one call: counts it, times it if asked, and notes a refusal.
    fn call(&self, asked: bool, f: impl FnOnce() -> *mut u8) -> *mut u8 {
        // SAFETY: one thread, and calls do not nest (the inner allocator
        // never calls back into the probe), so this is the only reference.
        let state = unsafe { &mut *self.state.get() };
        state.calls += 1;
        let p = match &mut state.latencies {
            Some(times) if times.len() < times.capacity() => {
                let start = Instant::now();
                let p = f();
                let ns = start.elapsed().as_nanos();
                times.push(u32::try_from(ns).unwrap_or(u32::MAX));
                p
            }
            _ => f(),
        };
        if p.is_null() && asked && state.first_null == 0 {
            state.first_null = state.calls;
        }
        p
    }
}

// SAFETY: every block comes from `inner`, which keeps the contract.
unsafe impl Malloc for Probe<'_> {
    fn malloc(&self, size: usize) -> *mut u8 {
        self.call(size > 0, || self.inner.malloc(size))
    }

    unsafe fn free(&self, ptr: *mut u8) {
        self.call(false, || {
            // SAFETY: passed on from our caller.
            unsafe { self.inner.free(ptr) };
            ptr
        });
    }

    unsafe fn realloc(&self, ptr: *mut u8, size: usize) -> *mut u8 {
        // SAFETY: passed on from our caller.
        self.call(size > 0, || unsafe { self.inner.realloc(ptr, size) })
    }

    fn calloc(&self, count: usize, size: usize) -> *mut u8 {
        let asked = count.checked_mul(size).is_some_and(|n| n > 0);
        self.call(asked, || self.inner.calloc(count, size))
    }

    fn memalign(&self, align: usize, size: usize) -> *mut u8 {
        let asked = size > 0 && align.is_power_of_two();
        self.call(asked, || self.inner.memalign(align, size))
    }

    unsafe fn usable_size(&self, ptr: *mut u8) -> usize {
        // SAFETY: passed on from our caller.
        unsafe { self.inner.usable_size(ptr) }
    }

    fn stats(&self) -> Stats {
        self.inner.stats()
    }

    fn check(&self) -> Result<(), HeapError> {
        self.inner.check()
    }

    fn heap_map(&self, out: &mut dyn fmt::Write) -> fmt::Result {
        self.inner.heap_map(out)
    }
}
