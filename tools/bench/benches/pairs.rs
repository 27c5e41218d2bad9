//! `malloc` + `free` of one size, per size class, per allocator.
//!
//! Stage 1 never reuses memory, so a loop of pairs would grow its heap
//! forever; its pairs are measured too, because freeing the most recent
//! block moves its bump back (the one reuse it has).

// criterion_group! below makes a public function it cannot document.
#![allow(missing_docs)]

mod common;

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

fn pairs(c: &mut Criterion) {
    let mut group = c.benchmark_group("malloc+free");
    for size in [16, 64, 256, 1024, 4096] {
        for (name, make) in common::allocators() {
            let m = make();
            group.bench_with_input(BenchmarkId::new(&name, size), &size, |b, &size| {
                b.iter(|| {
                    let p = m.malloc(black_box(size));
                    assert!(!p.is_null(), "{name} is out of memory");
                    // SAFETY: `p` was just returned by `m` and is freed once.
                    unsafe { m.free(black_box(p)) };
                });
            });
        }
    }
    group.finish();
}

/// Short runs: these compare allocators, they do not need 1% precision.
fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .sample_size(30)
}

criterion_group! { name = benches; config = config(); targets = pairs }
criterion_main!(benches);
