//! On a bare-metal target, make `main` the ELF entry point. Nothing else
//! references it there, so without this the linker's garbage collection would
//! drop it, and with it every call into winddown-core: the link would prove
//! nothing. (Host `cargo check` does not link, so it needs nothing here.)
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("none") {
        println!("cargo:rustc-link-arg-bins=--entry=main");
    }
}
