//! `winddown-check`: checks any HTTP server binary's graceful stop from outside. See the
//! crate's README, or `winddown-check --help`.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    winddown_check::cli::main()
}
