//! How many CPUs this process may run on: the default stripe count of a [`Shutdown`] with
//! `std` (see "Stripes" on [`Shutdown`]).
//!
//! On Linux and Android it is the number of CPUs in the process's affinity mask, from one
//! `sched_getaffinity` call. `std::thread::available_parallelism` would also read the cgroup
//! CPU quota, and its cgroup code (mount table parsing, file and path handling) is about 16 KiB
//! of every static binary that makes a `Shutdown`: too much for the footprint the small-board
//! daemons count (BENCHMARKS.md, "Footprint"). For striping, the mask is also the better
//! measure: a quota limits CPU time, not how many threads run at once, so a container with a
//! quota of two CPUs on a 64-CPU machine still has threads entering on many CPUs at the same
//! moment. Elsewhere, `available_parallelism`, which has no cgroup code to carry there.
//!
//! The one `unsafe` block here is a system call with a plain buffer; it lives in `raw/` with
//! the crate's other `unsafe` code.
//!
//! [`Shutdown`]: crate::Shutdown

/// The CPUs this process may run on, at least 1; 1 if the OS does not say.
#[cfg(any(target_os = "linux", target_os = "android"))]
#[allow(unsafe_code)]
pub(crate) fn available() -> usize {
    // SAFETY: `set` is a plain bit set for which all-zero bytes are a valid value (the empty
    // set); it lives on this frame, and `sched_getaffinity` writes at most `size_of_val(&set)`
    // bytes into it and keeps no pointer to it. `CPU_COUNT` only reads the set.
    let count = unsafe {
        let mut set: libc::cpu_set_t = core::mem::zeroed();
        if libc::sched_getaffinity(0, core::mem::size_of_val(&set), &mut set) != 0 {
            // EINVAL: a mask wider than `cpu_set_t` (more than 1 024 CPUs): more than the
            // stripes can use anyway.
            return usize::MAX;
        }
        libc::CPU_COUNT(&set)
    };
    usize::try_from(count).map_or(1, |count| count.max(1))
}

/// The CPUs this process may run on, at least 1; 1 if the OS does not say.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn available() -> usize {
    std::thread::available_parallelism().map_or(1, core::num::NonZeroUsize::get)
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use alloc::vec::Vec;

    /// The CPUs in `Cpus_allowed_list` of `/proc/self/status` (`0-3,8,10-11`): the affinity
    /// mask as the kernel prints it, a source independent of the system call.
    fn allowed_list() -> usize {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let list = status
            .lines()
            .find_map(|line| line.strip_prefix("Cpus_allowed_list:"))
            .unwrap()
            .trim();
        list.split(',')
            .map(|range| {
                let ends: Vec<usize> = range.split('-').map(|n| n.parse().unwrap()).collect();
                ends[ends.len() - 1] - ends[0] + 1
            })
            .sum()
    }

    #[test]
    #[cfg_attr(miri, ignore = "reads /proc, which Miri's isolation refuses")]
    fn counts_the_cpus_of_the_affinity_mask() {
        assert_eq!(super::available(), allowed_list());
    }
}
