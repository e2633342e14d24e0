//! The clock of a named request's age: nanoseconds on a monotonic clock, read once per
//! admitted request (see [`ShutdownLayer::name_requests`](crate::ShutdownLayer::name_requests)).
//!
//! On Linux and Android it is `CLOCK_MONOTONIC_COARSE`: the time of the last timer tick
//! (every 1 to 10 ms, by the kernel's `HZ`; `clock_getres` says which), read from the vDSO
//! without reading the CPU's time-stamp counter. A request's age is then off by at most a
//! tick, which the report (ages to a tenth of a second) does not show, and its reading costs
//! a few nanoseconds where `Instant::now` and the subtraction that makes it a number cost
//! some tens (measured with callgrind: about 70 instructions a request fewer,
//! BENCHMARKS.md H1). Elsewhere it is `Instant`, from the first reading in the process.
//!
//! Its `unsafe` block is a system call with a plain buffer (the crate's others are the
//! server's lent slot in `layer/handoff.rs` and its held admission in `server/held.rs`).

/// Now, in nanoseconds from an unspecified start (the same for the whole process).
#[cfg(any(target_os = "linux", target_os = "android"))]
#[allow(unsafe_code)]
#[inline]
pub(crate) fn now() -> u64 {
    let mut now = std::mem::MaybeUninit::<libc::timespec>::uninit();
    // SAFETY: `now` is a `timespec` on this frame, which `clock_gettime` only writes (and keeps
    // no pointer to); the clock id is a constant the kernel knows since Linux 2.6.32.
    if unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, now.as_mut_ptr()) } != 0 {
        return precise();
    }
    // SAFETY: `clock_gettime` returned 0, so it wrote the whole `timespec` (POSIX; not zeroed
    // first: two stores a reading fewer).
    let now = unsafe { now.assume_init() };
    // A monotonic clock's seconds and nanoseconds are never negative.
    (now.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(now.tv_nsec as u64)
}

/// Now, in nanoseconds from the first reading in the process.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
#[inline]
pub(crate) fn now() -> u64 {
    precise()
}

/// `Instant::now`, in nanoseconds from the first reading in the process: where there is no
/// coarse clock. (On Linux, were it missing, every reading would fail alike and come here;
/// every kernel Rust supports, 3.2 and later, has it.)
#[cold]
fn precise() -> u64 {
    use std::sync::OnceLock;
    use std::time::Instant;
    static START: OnceLock<Instant> = OnceLock::new();
    let start = *START.get_or_init(Instant::now);
    u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    #[test]
    fn goes_forward() {
        let before = super::now();
        std::thread::sleep(std::time::Duration::from_millis(30));
        let after = super::now();
        // At least one tick of at most 10 ms has passed, at most a tick short.
        assert!(after - before >= 15_000_000, "{before} {after}");
    }
}
