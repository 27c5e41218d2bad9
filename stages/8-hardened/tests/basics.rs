//! Stage 8's own behaviour (the shared suite in tests/ checks the C
//! contract; tests/tests/misuse.rs checks that misuse stops the program).

use malloc_core::{Malloc, SimBreak, SimPages};
use stage8_hardened::{BINS, GUARD, Hardened, Settings, bin_floor, bin_of};

#[test]
fn the_debug_mode_gives_blocks_guard_bytes() {
    let debug = Settings {
        perturb: true,
        ..Settings::DEFAULT
    };
    let heap = Hardened::with_settings(SimBreak::new(), SimPages::new(), Some(debug));
    let p = heap.malloc(32);
    // SAFETY: `p` is live; freed once.
    unsafe {
        // The requested size, not the block's: the rest is guard bytes.
        assert_eq!(heap.usable_size(p), 32);
        p.write_bytes(1, 32);
        malloc_core::assert_sound(&heap);
        // The guard bytes are past the end, in the block's own memory.
        assert_eq!(*p.add(32), 0xfd);
        assert_eq!(*p.add(32 + GUARD - 1), 0xfd);
        heap.free(p);
    }
    malloc_core::assert_sound(&heap);
}

#[test]
fn the_debug_switches_parse() {
    let settings = Settings::parse(b"check_every=1000:perturb=1", |_, why| panic!("{why}"));
    assert_eq!(settings.check_every, 1000);
    assert!(settings.perturb);
    assert!(
        settings.dynamic,
        "the debug switches leave the thresholds dynamic"
    );
    assert!(settings.debugging());
}

/// The bins file every payload size once, in order: one bin per size up to
/// 1024 bytes, then four per doubling, each block in the last bin whose
/// floor it reaches (so a bin's floor is a promise about all its blocks).
#[test]
fn bins_file_every_size_in_the_last_bin_it_reaches() {
    let floors: Vec<usize> = [0, 1, 62, 63, 64, 65, 66, 67, 68, 72, BINS - 1]
        .map(bin_floor)
        .into();
    assert_eq!(
        floors,
        [
            16,
            32,
            1008,
            1024,
            1024,
            1280,
            1536,
            1792,
            2048,
            4096,
            7 << 23
        ],
        "the floors of bins 0, 1, 62-68, 72 and the last"
    );
    for bin in 65..BINS {
        assert!(bin_floor(bin - 1) < bin_floor(bin), "bin {bin}'s floor");
    }
    let sizes = (16..=1 << 15)
        .step_by(16)
        .chain((15..30).flat_map(|shift| [(1 << shift) - 16, 1 << shift, (5 << shift) / 4]));
    for usable in sizes {
        let bin = bin_of(usable);
        if usable <= 1024 {
            assert_eq!(bin, usable / 16 - 1, "an exact bin for {usable}");
            continue;
        }
        assert!(
            bin_floor(bin) <= usable && (bin == BINS - 1 || usable < bin_floor(bin + 1)),
            "{usable} bytes went in bin {bin}, whose floor is {}",
            bin_floor(bin)
        );
    }
    assert_eq!(
        bin_of(usize::MAX & !15),
        BINS - 1,
        "the last bin takes the rest"
    );
}
