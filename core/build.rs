//! Sets `cfg(winddown_sanitize_thread)` when the crate is built under ThreadSanitizer
//! (`-Zsanitizer=thread`, nightly only), for `sync::acquire_fence`.
//!
//! The crate cannot name `cfg(sanitize = "thread")` itself: that cfg is unstable (feature
//! `cfg_sanitize`), an error on stable even where it would be false. Cargo hands a build script
//! the target's cfgs as `CARGO_CFG_*` variables on every toolchain, so reading
//! `CARGO_CFG_SANITIZE` here is stable (crossbeam-utils' `build.rs` does the same). The cfg is
//! declared to `unexpected_cfgs` in the workspace's `[workspace.lints.rust]`.

fn main() {
    // Only this file: a build under a sanitizer changes RUSTFLAGS, which rebuilds everything
    // (and `.ci/tsan.sh` builds in a target directory of its own anyway).
    println!("cargo:rerun-if-changed=build.rs");
    let sanitizers = std::env::var("CARGO_CFG_SANITIZE").unwrap_or_default();
    if sanitizers.split(',').any(|sanitizer| sanitizer == "thread") {
        println!("cargo:rustc-cfg=winddown_sanitize_thread");
    }
}
