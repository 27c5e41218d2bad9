//! Stage 8 as an `LD_PRELOAD` library: `libworkbook_stage8.so`.

preload::export!(
    8,
    stage8_hardened::Hardened,
    stage8_hardened::Hardened::new()
);
