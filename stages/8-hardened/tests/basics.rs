//! Stage 8's own behaviour (the shared suite in tests/ checks the C
//! contract; tests/tests/misuse.rs checks that misuse stops the program).

use malloc_core::{Malloc, SimBreak, SimPages};
use stage8_hardened::{GUARD, Hardened, Settings};

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
}
