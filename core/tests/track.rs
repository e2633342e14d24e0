//! The leak finder (feature `track`): the sites of live guards, grouped, counted, forgotten when
//! the guards drop, per scope, and named in the report when the drain times out.
#![cfg(all(feature = "track", not(loom)))]

use std::panic::Location;
use std::time::Duration;

use winddown_core::runtime::Runtime;
use winddown_core::testing::VirtualRuntime;
use winddown_core::track::{self, GuardSite};
use winddown_core::{Config, Guard, Plan, Reason, Shutdown, Status};

/// Enters through `shutdown`; returns the guard and the site it must be recorded at: this
/// helper's caller, since `enter` is `#[track_caller]` and so is this.
#[track_caller]
fn enter(shutdown: &Shutdown) -> (Guard, &'static Location<'static>) {
    (shutdown.enter().unwrap(), Location::caller())
}

/// What `guard_sites` should say for `site` entered `count` times.
fn site(site: &Location<'_>, count: usize) -> (String, u32, u32, usize) {
    (site.file().to_owned(), site.line(), site.column(), count)
}

fn sites(shutdown: &Shutdown) -> Vec<(String, u32, u32, usize)> {
    track::guard_sites(shutdown)
        .iter()
        .map(|s| (s.file().to_owned(), s.line(), s.column(), s.count()))
        .collect()
}

#[test]
fn sites_are_the_callers_grouped_and_most_first() {
    let shutdown = winddown_core::tuning::with_stripes(4).unwrap();
    // Four handles on four stripes: one site, counted over every stripe's registry.
    let handles: Vec<Shutdown> = (0..4).map(|_| shutdown.clone()).collect();
    let mut guards = Vec::new();
    let mut at = Vec::new();
    for handle in &handles {
        let (guard, site) = enter(handle);
        guards.push(guard);
        at.push(site);
    }
    let (single, single_at) = enter(&shutdown);
    for _ in 0..2 {
        let (guard, site) = enter(&shutdown);
        guards.push(guard);
        at.push(site);
    }
    assert!(at[..4].iter().all(|s| s == &at[0]));
    assert_eq!(at[4], at[5]);
    assert_ne!(at[0], at[4]);

    assert_eq!(
        sites(&shutdown),
        [site(at[0], 4), site(at[4], 2), site(single_at, 1)]
    );
    assert_eq!(shutdown.in_flight(), 7);
    drop((guards, single));
}

#[test]
fn a_direct_call_to_enter_is_its_own_site() {
    let shutdown = Shutdown::new();
    let clock = VirtualRuntime::new();
    track::set_guard_clock(&shutdown, {
        let clock = clock.clone();
        move || clock.now()
    });
    let guard = shutdown.enter().unwrap();
    let line = line!() - 1;
    let sites = track::guard_sites(&shutdown);
    assert_eq!(sites.len(), 1);
    assert_eq!((sites[0].file(), sites[0].line()), (file!(), line));
    assert_eq!(
        sites[0].to_string(),
        format!(
            "{}:{line}:{} (x1, oldest 0.000s)",
            file!(),
            sites[0].column()
        )
    );
    drop(guard);
}

#[test]
fn equal_counts_order_by_file_line_and_column() {
    let shutdown = Shutdown::new();
    let (a, a_at) = enter(&shutdown);
    let (b, b_at) = enter(&shutdown);
    let (later, earlier) = if (b_at.line(), b_at.column()) > (a_at.line(), a_at.column()) {
        (b_at, a_at)
    } else {
        (a_at, b_at)
    };
    assert_eq!(sites(&shutdown), [site(earlier, 1), site(later, 1)]);
    drop((a, b));
}

#[test]
fn dropping_a_guard_forgets_its_site() {
    let shutdown = winddown_core::tuning::with_stripes(2).unwrap();
    let other = shutdown.clone();
    let (a, a_at) = enter(&shutdown);
    let (b, b_at) = enter(&other);
    let (c, c_at) = enter(&shutdown);

    drop(b);
    assert_eq!(sites(&shutdown), [site(a_at, 1), site(c_at, 1)]);
    // A guard dropped on another thread is forgotten there.
    std::thread::spawn(move || drop(a)).join().unwrap();
    assert_eq!(sites(&shutdown), [site(c_at, 1)]);
    drop(c);
    assert!(track::guard_sites(&shutdown).is_empty());
    assert_eq!(shutdown.in_flight(), 0);
    let _ = b_at;
}

#[test]
fn slots_are_reused_without_mixing_sites() {
    let shutdown = winddown_core::tuning::with_stripes(1).unwrap();
    let (a, a_at) = enter(&shutdown);
    let (b, _) = enter(&shutdown);
    let (c, c_at) = enter(&shutdown);
    drop(b);
    // `d` takes `b`'s slot; dropping `a` must not forget `d`, nor `d` forget `c`.
    let (d, d_at) = enter(&shutdown);
    drop(a);
    let mut expected = vec![site(c_at, 1), site(d_at, 1)];
    expected.sort();
    assert_eq!(sites(&shutdown), expected);
    drop(d);
    assert_eq!(sites(&shutdown), [site(c_at, 1)]);
    drop(c);
    assert!(track::guard_sites(&shutdown).is_empty());
    // After the registry emptied, it records again from scratch.
    let (e, e_at) = enter(&shutdown);
    assert_eq!(sites(&shutdown), [site(e_at, 1)]);
    drop(e);
    let _ = a_at;
}

#[test]
fn a_parent_names_the_sites_of_its_children() {
    let parent = Shutdown::new();
    let (in_parent, parent_at) = enter(&parent);
    let child = parent.child();
    let in_child: Vec<_> = (0..2).map(|_| enter(&child)).collect();
    let child_at = in_child[0].1;
    // The child counts as one in flight in the parent; its link is no guard site, its guards
    // are listed in the parent too.
    assert_eq!(parent.in_flight(), 2);
    assert_eq!(track::in_flight_subtree(&parent), 3);
    assert_eq!(track::in_flight_subtree(&child), 2);
    assert_eq!(sites(&parent), [site(child_at, 2), site(parent_at, 1)]);
    assert_eq!(sites(&child), [site(child_at, 2)]);

    // Every handle of the child goes: its leaked guards are still named by the parent.
    drop(child);
    assert_eq!(sites(&parent), [site(child_at, 2), site(parent_at, 1)]);
    parent.close();
    drop(in_parent);
    assert_eq!(sites(&parent), [site(child_at, 2)]);
    assert!(!parent.is_drained());
    drop(in_child);
    assert!(track::guard_sites(&parent).is_empty());
    assert_eq!(track::in_flight_subtree(&parent), 0);
    assert!(parent.is_drained());
}

#[test]
fn refused_admissions_record_nothing_and_admitted_ones_outlive_the_close() {
    let shutdown = Shutdown::new();
    let (guard, at) = enter(&shutdown);
    shutdown.close();
    assert!(shutdown.enter().is_err());
    assert_eq!(sites(&shutdown), [site(at, 1)]);
    drop(guard);
    assert!(track::guard_sites(&shutdown).is_empty());
    assert!(shutdown.is_drained());
}

#[test]
fn a_guard_outliving_every_handle_forgets_its_site_and_frees_the_scope() {
    let shutdown = Shutdown::new();
    let (guard, _) = enter(&shutdown);
    drop(shutdown);
    // The guard's stripe (and its registry) stays alive until the guard is gone; Miri and the
    // leak checkers see a use after free or a leak otherwise.
    drop(guard);
}

#[test]
fn threads_entering_and_leaving_leave_no_site_behind() {
    let shutdown = winddown_core::tuning::with_stripes(4).unwrap();
    let (held, held_at) = enter(&shutdown);
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let shutdown = shutdown.clone();
            std::thread::spawn(move || {
                let mut kept = Vec::new();
                for i in 0..500 {
                    let guard = shutdown.enter().unwrap();
                    if i % 7 == 0 {
                        kept.push(guard);
                    }
                    if i % 11 == 0 {
                        kept.clear();
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    assert_eq!(sites(&shutdown), [site(held_at, 1)]);
    drop(held);
    assert!(track::guard_sites(&shutdown).is_empty());
}

#[test]
fn a_drain_that_times_out_names_the_sites_in_the_report() {
    let runtime = VirtualRuntime::new();
    let shutdown = Shutdown::new();
    let config = Config::builder()
        .drain(Duration::from_secs(2))
        .build()
        .unwrap();
    let plan = Plan::new(shutdown.clone(), config);
    plan.name_in_flight(|names| names.push("upload 7".into()));
    track::set_guard_clock(&shutdown, {
        let runtime = runtime.clone();
        move || runtime.now()
    });

    let (stuck, stuck_at) = enter(&shutdown);
    let leaked: Vec<_> = (0..2).map(|_| enter(&shutdown)).collect();
    let leaked_at = leaked[0].1;
    // One guard finishes during the drain: it is not named.
    let (finishing, _) = enter(&shutdown);

    runtime.spawn_detached({
        let runtime = runtime.clone();
        async move {
            runtime.sleep(Duration::from_secs(1)).await;
            drop(finishing);
        }
    });
    shutdown.trigger(Reason::Signal(15));
    let report = runtime.block_on(plan.run(&runtime));

    assert_eq!(report.status, Status::TimedOut);
    assert_eq!((report.drain.in_flight_at_start, report.drain.left), (4, 3));
    assert_eq!(report.drain.still_in_flight, ["upload 7"]);
    let named: Vec<_> = report
        .drain
        .guard_sites
        .iter()
        .map(|s| (s.file().to_owned(), s.line(), s.column(), s.count()))
        .collect();
    assert_eq!(named, [site(leaked_at, 2), site(stuck_at, 1)]);
    let expected = format!(
        "\
shutdown timed out in 2.000s (reason: signal 15)
  phase                      start  duration
  initiated                 0.000s    0.000s
  stopping new requests     0.000s    0.000s
  draining                  0.000s    2.000s  1 drained, 3 left, timed out (upload 7)
    guards entered at {}:{}:{} (x2, oldest 2.000s)
    guards entered at {}:{}:{} (x1, oldest 2.000s)
  closing resources         2.000s    0.000s
  flushing buffers          2.000s    0.000s
  timed out                 2.000s    0.000s
",
        leaked_at.file(),
        leaked_at.line(),
        leaked_at.column(),
        stuck_at.file(),
        stuck_at.line(),
        stuck_at.column(),
    );
    assert_eq!(report.to_string(), expected);
    drop((stuck, leaked));
}

#[test]
fn a_drain_that_completes_names_no_site() {
    let runtime = VirtualRuntime::new();
    let shutdown = Shutdown::new();
    let plan = Plan::new(shutdown.clone(), Config::default());
    let (request, _) = enter(&shutdown);
    runtime.spawn_detached({
        let runtime = runtime.clone();
        async move {
            runtime.sleep(Duration::from_secs(1)).await;
            drop(request);
        }
    });
    shutdown.trigger(Reason::Signal(15));
    let report = runtime.block_on(plan.run(&runtime));
    assert_eq!(report.status, Status::Completed);
    assert!(report.drain.guard_sites.is_empty());
    assert!(!report.to_string().contains("guards entered at"));
}

#[test]
fn guard_site_is_plain_data() {
    fn assert_traits<T: Copy + Send + Sync + Eq + std::hash::Hash + std::fmt::Debug>() {}
    assert_traits::<GuardSite>();
}

/// A guard leaked from a known line, with a label, blocks the drain: the report's table and
/// JSON name the file and line, the label, the count, and an age of at least the drain
/// deadline, on the virtual clock.
#[test]
fn a_labeled_leak_is_named_with_its_label_and_age() {
    let runtime = VirtualRuntime::new();
    let shutdown = Shutdown::new();
    track::set_guard_clock(&shutdown, {
        let runtime = runtime.clone();
        move || runtime.now()
    });
    let plan = Plan::new(
        shutdown.clone(),
        Config::builder()
            .drain(Duration::from_secs(3))
            .build()
            .unwrap(),
    );
    let leaked = shutdown.enter_labeled("db-write").unwrap();
    let line = line!() - 1;
    runtime.advance(Duration::from_secs(5)); // it has been in flight for a while already
    shutdown.trigger(Reason::Signal(15));
    let report = runtime.block_on(plan.run(&runtime));

    let site = &report.drain.guard_sites[0];
    assert_eq!(
        (site.file(), site.line(), site.label(), site.count()),
        (file!(), line, Some("db-write"), 1)
    );
    assert_eq!(site.oldest(), Some(Duration::from_secs(8)));
    assert!(site.oldest().unwrap() >= Duration::from_secs(3));
    let table = report.to_string();
    let expected = format!("{}:{line}:", file!());
    assert!(table.contains(&expected), "{table}");
    assert!(table.contains("[db-write] (x1, oldest 8.000s)"), "{table}");

    #[cfg(feature = "serde")]
    {
        let json = serde_json::to_value(&report).unwrap();
        let site = &json["drain"]["guard_sites"][0];
        assert_eq!(site["file"], file!());
        assert_eq!(site["line"], line);
        assert_eq!(site["label"], "db-write");
        assert_eq!(site["count"], 1);
        assert_eq!(site["oldest_ms"], 8000.0);
    }
    drop(leaked);
}
