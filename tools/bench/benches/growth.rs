//! Realloc growth (a string grown 16 bytes at a time to 16 KiB) and large
//! blocks (malloc + free of 64 KiB to 1 MiB), per allocator.

// criterion_group! below makes a public function it cannot document.
#![allow(missing_docs)]

mod common;

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

fn realloc_growth(c: &mut Criterion) {
    let mut group = c.benchmark_group("realloc growth to 16 KiB");
    for (name, make) in common::allocators() {
        // Stage 1 and 2 never reuse: a fresh heap per batch keeps them bounded.
        group.bench_function(&name, |b| {
            b.iter_batched(
                &make,
                |m| {
                    let mut p = m.malloc(16);
                    for size in (32..=16 << 10).step_by(16) {
                        // SAFETY: `p` is live; realloc returns the new block.
                        p = unsafe { m.realloc(p, black_box(size)) };
                    }
                    // SAFETY: `p` is live and freed once.
                    unsafe { m.free(p) };
                    m
                },
                criterion::BatchSize::PerIteration,
            );
        });
    }
    group.finish();
}

fn large_blocks(c: &mut Criterion) {
    let mut group = c.benchmark_group("large malloc+free");
    for size in [64 << 10, 256 << 10, 1 << 20] {
        for (name, make) in common::allocators() {
            let m = make();
            group.bench_with_input(BenchmarkId::new(&name, size), &size, |b, &size| {
                b.iter(|| {
                    let p = m.malloc(black_box(size));
                    assert!(!p.is_null(), "{name} is out of memory");
                    // Touch it, as a program would: fresh pages fault here.
                    // SAFETY: `p` has `size` bytes.
                    unsafe { p.write_volatile(1) };
                    // SAFETY: `p` was just returned by `m` and is freed once.
                    unsafe { m.free(p) };
                });
            });
        }
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .sample_size(20)
}

criterion_group! { name = benches; config = config(); targets = realloc_growth, large_blocks }
criterion_main!(benches);
