//! The record of admitted requests: method, path and start time of each, written and erased
//! without a lock, read when a drain runs past its deadline.
//!
//! A request's start time is read from a coarse clock (see [`clock`]): the report shows ages
//! to a tenth of a second, and the coarse clock is a few milliseconds behind at worst, for a
//! fraction of the cost of a precise reading per request.
//!
//! # Invariants
//!
//! 1. A slot's `state` word is `generation << 2 | tag`, tag one of [`FREE`], [`WRITING`],
//!    [`LIVE`]. Only the request that moved a slot from `FREE` to `WRITING` (by compare and
//!    swap) writes its fields, and it alone moves it on, to `LIVE` and back to `FREE`.
//! 2. Every move to `LIVE` and every move back to `FREE` bumps the generation, so a reader that
//!    sees the same `LIVE` word before and after reading the fields read one request's fields
//!    (a seqlock: see [`Table::name_into`]).
//! 3. A reader never writes: a torn or stale read is detected by (2) and skipped, and a
//!    skipped slot is one that was no longer (or not yet) in flight while it was read.

use std::cell::Cell;
use std::fmt::Write as _;
use std::sync::atomic::{fence, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::clock;

/// Bytes of the path kept per request (of `METHOD path` whole, for a method longer than
/// [`METHOD_BYTES`]); longer ones are cut (and marked with `…`).
pub(crate) const TEXT_BYTES: usize = 96;
/// Bytes of a method kept in its own word: every standard one (`OPTIONS` and `CONNECT` are
/// the longest, 7).
const METHOD_BYTES: usize = 8;
const WORDS: usize = TEXT_BYTES / 8;
/// Slots probed for a free one before a request is counted as unnamed: enough for the requests
/// one thread has in flight at once to find a slot near the one it took last (the probes read
/// lines that are already in its cache).
const PROBES: usize = 64;

const FREE: u64 = 0;
const WRITING: u64 = 1;
const LIVE: u64 = 2;
const TAG: u64 = 0b11;
const ONE_GENERATION: u64 = 0b100;

/// One request's record. 128 bytes, aligned to them, so that two threads writing neighbouring
/// slots never share a cache line (nor the adjacent-line prefetch pair).
#[repr(align(128))]
struct Slot {
    /// `generation << 2 | tag`: see the module's invariants.
    state: AtomicU64,
    /// The request's admission on [`clock::now`], in nanoseconds.
    started: AtomicU64,
    /// Length of the text in `text`, in bytes (at most [`TEXT_BYTES`]); bit 63 when the text
    /// was cut.
    len: AtomicU64,
    /// The method, little-endian, when it fits (see [`METHOD_BYTES`]): its length is that of
    /// its bytes up to the last that is not zero (a method has no zero byte). Zero when
    /// `text` holds `METHOD path` whole.
    method: AtomicU64,
    /// The path (or `METHOD path`), little-endian, eight bytes a word.
    text: [AtomicU64; WORDS],
}

impl Slot {
    fn new() -> Self {
        Slot {
            state: AtomicU64::new(FREE),
            started: AtomicU64::new(0),
            len: AtomicU64::new(0),
            method: AtomicU64::new(0),
            text: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

const CUT: u64 = 1 << 63;

/// The slots, shared by the layer, its bodies and the namer registered with the plan.
pub(crate) struct Table {
    slots: Box<[Slot]>,
    /// Admitted requests that found no free slot, in flight now.
    unnamed: AtomicUsize,
}

thread_local! {
    /// Where this thread looks for a free slot first: the last one it took (`usize::MAX`: none
    /// yet). A thread keeps reusing the few slots its requests free, lines already in its
    /// cache, instead of walking the whole table (measured: walking it made each record a
    /// cache miss, a quarter of a microsecond per request); threads start at spots of their
    /// own, so they rarely meet. Most requests find that slot free (the thread's previous
    /// request has left it): one load and one compare-and-swap, the search out of line.
    static CURSOR: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// The little-endian word of up to eight bytes, at compile time.
const fn le_word(bytes: &[u8]) -> u64 {
    let mut word = 0;
    let mut i = 0;
    while i < bytes.len() {
        word |= (bytes[i] as u64) << (8 * i);
        i += 1;
    }
    word
}

/// The word of a standard method as its slot keeps it (a constant, chosen by the method's
/// tag: no bytes read), 0 for any other.
#[inline]
fn standard_word(method: &http::Method) -> u64 {
    use http::Method;
    macro_rules! standard {
        ($($method:ident)*) => {
            match *method {
                $(Method::$method => const { le_word(stringify!($method).as_bytes()) },)*
                _ => 0,
            }
        };
    }
    standard!(GET POST PUT DELETE HEAD OPTIONS CONNECT PATCH TRACE)
}

/// The length of the method a slot's word holds: its bytes up to the last that is not zero.
fn method_len(word: u64) -> usize {
    (64 - word.leading_zeros() as usize).div_ceil(8)
}

/// What one admitted request holds: its slot, erased on drop.
pub(crate) struct Entry {
    table: Arc<Table>,
    /// The slot index, or `usize::MAX` when the request found no slot (counted in `unnamed`).
    index: usize,
}

impl Table {
    pub(crate) fn new(slots: usize) -> Self {
        Table {
            slots: (0..slots.max(1)).map(|_| Slot::new()).collect(),
            unnamed: AtomicUsize::new(0),
        }
    }

    /// Records `method path`, admitted now. A standard method is written as a constant word,
    /// another out of line, from a copy: nothing the record keeps a pointer to is in the
    /// request, which the caller can then move on where it lies instead of from a copy.
    #[inline]
    pub(crate) fn record(self: &Arc<Self>, method: &http::Method, path: &str) -> Entry {
        match standard_word(method) {
            0 => self.record_other(method.clone(), path),
            word => self.record_with(path, |slot, path| write_path(slot, word, path)),
        }
    }

    /// [`record`](Self::record) for a method that is not a standard one.
    #[cold]
    #[inline(never)]
    fn record_other(self: &Arc<Self>, method: http::Method, path: &str) -> Entry {
        self.record_with(path, |slot, path| {
            let method = method.as_str();
            if method.len() > METHOD_BYTES {
                write_whole(slot, method, path);
            } else {
                write_path(slot, word(method.as_bytes()), path);
            }
        })
    }

    /// Claims a slot and has `write` write `path` (and a method) into it.
    #[inline]
    fn record_with(self: &Arc<Self>, path: &str, write: impl FnOnce(&Slot, &str)) -> Entry {
        let at = CURSOR.with(Cell::get);
        // The slot this thread took last, free again as a rule; else a search, out of line.
        let claimed = match self.slots.get(at) {
            Some(slot) => claim(slot).map(|state| (slot, at, state)),
            None => None,
        };
        let Some((slot, index, state)) = claimed.or_else(|| self.claim_elsewhere(at)) else {
            // Relaxed: a count read only by the namer, which tolerates a moment's lag.
            self.unnamed.fetch_add(1, Ordering::Relaxed);
            return Entry {
                table: Arc::clone(self),
                index: usize::MAX,
            };
        };
        // memory ordering: a reader that reads any of the field stores below also sees the
        // WRITING state (or a later one) on its second load, and skips the slot: this fence
        // pairs with the reader's Acquire fence (the seqlock writer's side).
        fence(Ordering::Release);
        slot.started.store(clock::now(), Ordering::Relaxed);
        write(slot, path);
        // memory ordering: Release publishes the fields to a reader that Acquires LIVE.
        slot.state
            .store(state.wrapping_add(ONE_GENERATION) | LIVE, Ordering::Release);
        Entry {
            table: Arc::clone(self),
            index,
        }
    }

    /// A free slot near `at` (this thread's cursor, which did not name one here), claimed,
    /// with its index and its state before the claim, and made the thread's cursor; `None`
    /// when the [`PROBES`] slots from there are taken.
    #[cold]
    #[inline(never)]
    fn claim_elsewhere(&self, at: usize) -> Option<(&Slot, usize, u64)> {
        let n = self.slots.len();
        let start = if at == usize::MAX {
            // A new thread starts at a spot of its own.
            thread_seed()
        } else if at < n {
            // That slot was taken: the next ones.
            at + 1
        } else {
            // The cursor is this thread's, shared by every table: another's may be longer.
            at
        };
        let mut next = start % n;
        for _ in 0..PROBES.min(n) {
            let index = next;
            next = if next + 1 == n { 0 } else { next + 1 };
            let slot = &self.slots[index];
            if let Some(state) = claim(slot) {
                CURSOR.with(|cursor| cursor.set(index));
                return Some((slot, index, state));
            }
        }
        None
    }

    /// Pushes `METHOD path  12.3s` for each request in flight now, oldest first, and a line for
    /// the requests that found no slot.
    pub(crate) fn name_into(&self, names: &mut Vec<String>) {
        let now = clock::now();
        let mut found: Vec<(Duration, String)> = Vec::new();
        for slot in self.slots.iter() {
            // memory ordering: Acquire pairs with the writer's Release store of LIVE, so the
            // fields read below are at least as new as that publication.
            let before = slot.state.load(Ordering::Acquire);
            if before & TAG != LIVE {
                continue;
            }
            let started = slot.started.load(Ordering::Relaxed);
            let len = slot.len.load(Ordering::Relaxed);
            let method = slot.method.load(Ordering::Relaxed).to_le_bytes();
            let mut bytes = [0u8; TEXT_BYTES];
            for (word, chunk) in slot.text.iter().zip(bytes.chunks_exact_mut(8)) {
                chunk.copy_from_slice(&word.load(Ordering::Relaxed).to_le_bytes());
            }
            // memory ordering: the seqlock reader's fence. If any field load above saw a store
            // of a later writer, that writer's Release fence makes its earlier state store
            // visible to the load below, and the words differ (invariant 2).
            fence(Ordering::Acquire);
            if slot.state.load(Ordering::Relaxed) != before {
                continue;
            }
            let text_len = usize::from(len as u8).min(TEXT_BYTES);
            let method_len = method_len(u64::from_le_bytes(method)).min(METHOD_BYTES);
            let mut text = String::new();
            if method_len > 0 {
                text.push_str(&String::from_utf8_lossy(&method[..method_len]));
                text.push(' ');
            }
            text.push_str(&String::from_utf8_lossy(&bytes[..text_len]));
            if len & CUT != 0 {
                text.push('…');
            }
            let age = Duration::from_nanos(now.saturating_sub(started));
            found.push((age, text));
        }
        found.sort_by_key(|(age, _)| std::cmp::Reverse(*age));
        for (age, text) in found {
            let mut line = text;
            let _ = write!(line, "  {:.1}s", age.as_secs_f64());
            names.push(line);
        }
        let unnamed = self.unnamed.load(Ordering::Relaxed);
        if unnamed > 0 {
            names.push(format!(
                "{unnamed} more request(s) (no free slot to record them)"
            ));
        }
    }

    /// Requests recorded (with a slot or without) and in flight now.
    pub(crate) fn len(&self) -> usize {
        let live = self
            .slots
            .iter()
            .filter(|slot| slot.state.load(Ordering::Relaxed) & TAG == LIVE)
            .count();
        live + self.unnamed.load(Ordering::Relaxed)
    }
}

impl std::fmt::Debug for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Table")
            .field("slots", &self.slots.len())
            .field("in_flight", &self.len())
            .finish()
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        // An entry without a slot has the index `usize::MAX`, which no table reaches: one
        // comparison tells both apart.
        let Some(slot) = self.table.slots.get(self.index) else {
            // Relaxed: a count read only by the namer, as in `record`.
            self.table.unnamed.fetch_sub(1, Ordering::Relaxed);
            return;
        };
        // Only this entry moves its slot on (invariant 1), so a load and a store suffice; the
        // slot is LIVE, so the next generation's FREE is one addition away.
        let state = slot.state.load(Ordering::Relaxed);
        debug_assert_eq!(state & TAG, LIVE);
        // memory ordering: Release so that a later writer's claim (which reads FREE) cannot be
        // reordered before our last use of the slot; nothing else is published.
        slot.state.store(
            state.wrapping_add(ONE_GENERATION - LIVE + FREE),
            Ordering::Release,
        );
    }
}

/// Moves `slot` from `FREE` to `WRITING`, if it is free: its state before, when it was.
#[inline]
fn claim(slot: &Slot) -> Option<u64> {
    let state = slot.state.load(Ordering::Relaxed);
    if state & TAG != FREE {
        return None;
    }
    // Relaxed is enough for the claim: nobody reads what a WRITING slot holds (a reader skips
    // it), and the writer's fence orders its field stores after this store for a reader that
    // does read them (invariant 2).
    slot.state
        .compare_exchange(state, state | WRITING, Ordering::Relaxed, Ordering::Relaxed)
        .ok()
}

/// The method's word (zero: none) and the path into `slot`: the path straight into the text's
/// words (no staging copy).
#[inline]
fn write_path(slot: &Slot, method_word: u64, path: &str) {
    slot.method.store(method_word, Ordering::Relaxed);
    let (path, cut) = cut_at(path, TEXT_BYTES);
    write_words(&slot.text, path.as_bytes());
    slot.len.store(
        path.len() as u64 | if cut { CUT } else { 0 },
        Ordering::Relaxed,
    );
}

/// `METHOD path` whole into the text, for a method longer than its word.
#[cold]
fn write_whole(slot: &Slot, method: &str, path: &str) {
    let mut bytes = [0u8; TEXT_BYTES];
    let mut len = 0;
    let mut cut = false;
    for part in [method, " ", path] {
        let (part, cut_here) = cut_at(part, TEXT_BYTES - len);
        bytes[len..len + part.len()].copy_from_slice(part.as_bytes());
        len += part.len();
        if cut_here {
            cut = true;
            break;
        }
    }
    slot.method.store(0, Ordering::Relaxed);
    write_words(&slot.text, &bytes[..len]);
    slot.len
        .store(len as u64 | if cut { CUT } else { 0 }, Ordering::Relaxed);
}

/// `text`'s first `room` bytes at most, on a char boundary, and whether it was cut.
#[inline]
fn cut_at(text: &str, room: usize) -> (&str, bool) {
    if text.len() <= room {
        return (text, false);
    }
    let mut end = room;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    (&text[..end], true)
}

/// `bytes` into `words`, eight a word (the last word's bytes beyond them are zero). `bytes`
/// fits: at most eight a word.
#[inline]
fn write_words(words: &[AtomicU64], bytes: &[u8]) {
    if bytes.len() < 8 {
        // One word, or none.
        if let (Some(to), false) = (words.first(), bytes.is_empty()) {
            to.store(word(bytes), Ordering::Relaxed);
        }
        return;
    }
    let mut chunks = bytes.chunks_exact(8);
    for (to, chunk) in words.iter().zip(&mut chunks) {
        to.store(word(chunk), Ordering::Relaxed);
    }
    let rest = chunks.remainder().len();
    if rest == 0 {
        return;
    }
    // The last eight bytes (there are eight or more), the rest the high ones among them:
    // shifted down.
    if let (Some(to), Some(last)) = (words.get(bytes.len() / 8), bytes.last_chunk::<8>()) {
        to.store(
            u64::from_le_bytes(*last) >> (8 * (8 - rest)),
            Ordering::Relaxed,
        );
    }
}

/// Up to eight bytes as a little-endian word, zero beyond them: a load or two of the widths
/// that cover them (overlapping), not a loop of bytes.
#[inline]
fn word(bytes: &[u8]) -> u64 {
    let n = bytes.len();
    if let Some(eight) = bytes.first_chunk::<8>() {
        u64::from_le_bytes(*eight)
    } else if n >= 4 {
        let low = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        let high = u32::from_le_bytes([bytes[n - 4], bytes[n - 3], bytes[n - 2], bytes[n - 1]]);
        u64::from(low) | u64::from(high) << (8 * (n - 4))
    } else if n >= 2 {
        let low = u16::from_le_bytes([bytes[0], bytes[1]]);
        let high = u16::from_le_bytes([bytes[n - 2], bytes[n - 1]]);
        u64::from(low) | u64::from(high) << (8 * (n - 2))
    } else {
        bytes.first().map_or(0, |&byte| u64::from(byte))
    }
}

/// A per-thread starting slot, spread by the address of a thread-local. Once per thread: out
/// of the way of `record`'s path.
#[cold]
#[inline(never)]
fn thread_seed() -> usize {
    thread_local!(static MARK: u8 = const { 0 });
    MARK.with(|mark| (mark as *const u8 as usize) >> 7)
        .wrapping_mul(0x9E37_79B9)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(method: &str) -> http::Method {
        http::Method::from_bytes(method.as_bytes()).unwrap()
    }

    #[test]
    fn names_what_is_in_flight_and_forgets_what_left() {
        let table = Arc::new(Table::new(4));
        let a = table.record(&m("GET"), "/export");
        let b = table.record(&m("POST"), "/upload");
        drop(b);
        let mut names = Vec::new();
        table.name_into(&mut names);
        assert_eq!(names.len(), 1);
        assert!(names[0].starts_with("GET /export  "), "{names:?}");
        assert!(names[0].ends_with('s'));
        assert_eq!(table.len(), 1);
        drop(a);
        assert_eq!(table.len(), 0);
    }

    #[test]
    fn full_table_counts_the_rest() {
        let table = Arc::new(Table::new(1));
        let _a = table.record(&m("GET"), "/a");
        let b = table.record(&m("GET"), "/b");
        let mut names = Vec::new();
        table.name_into(&mut names);
        assert_eq!(names.len(), 2, "{names:?}");
        assert!(names[1].starts_with("1 more request"));
        drop(b);
        assert_eq!(table.len(), 1);
    }

    #[test]
    fn long_paths_are_cut_on_a_char_boundary() {
        let table = Arc::new(Table::new(1));
        let path = format!("/{}", "é".repeat(100));
        let _a = table.record(&m("GET"), &path);
        let mut names = Vec::new();
        table.name_into(&mut names);
        assert!(names[0].contains('…'), "{names:?}");
    }

    fn names_of(table: &Table) -> Vec<String> {
        let mut names = Vec::new();
        table.name_into(&mut names);
        names
            .into_iter()
            .map(|name| name.rsplit_once("  ").unwrap().0.to_owned())
            .collect()
    }

    #[test]
    fn words_hold_up_to_eight_bytes_of_any_length() {
        let bytes = *b"abcdefghij";
        for n in 0..=8 {
            let mut naive = [0u8; 8];
            naive[..n].copy_from_slice(&bytes[..n]);
            assert_eq!(word(&bytes[..n]), u64::from_le_bytes(naive), "{n} bytes");
        }
    }

    #[test]
    fn the_text_reads_back_as_written_at_every_length() {
        let table = Arc::new(Table::new(1));
        for method in ["GET", "OPTIONS", "PROPFIND", "PROPPATCH", "VERSION-CONTROL"] {
            for n in 0..=TEXT_BYTES + 9 {
                let path = format!("/{}", "p".repeat(n));
                let entry = table.record(&m(method), &path);
                let name = &names_of(&table)[0];
                let whole = format!("{method} {path}");
                // The path whole, up to TEXT_BYTES (the method beside it, or in the text when
                // it is longer than its word).
                let room = if method.len() > METHOD_BYTES {
                    TEXT_BYTES
                } else {
                    TEXT_BYTES + method.len() + 1
                };
                if whole.len() <= room {
                    assert_eq!(*name, whole);
                } else {
                    assert_eq!(*name, format!("{}…", &whole[..room]));
                }
                drop(entry);
            }
        }
    }

    #[test]
    fn every_standard_method_is_named_as_it_is_spelled() {
        use http::Method;
        let table = Arc::new(Table::new(1));
        for method in [
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::DELETE,
            Method::HEAD,
            Method::OPTIONS,
            Method::CONNECT,
            Method::PATCH,
            Method::TRACE,
        ] {
            assert_ne!(standard_word(&method), 0, "{method}");
            let entry = table.record(&method, "/x");
            assert_eq!(names_of(&table)[0], format!("{method} /x"));
            drop(entry);
        }
        assert_eq!(standard_word(&m("PURGE")), 0);
        let _purge = table.record(&m("PURGE"), "/x");
        assert_eq!(names_of(&table)[0], "PURGE /x");
    }

    #[test]
    fn a_long_method_is_cut_on_a_char_boundary_too() {
        let table = Arc::new(Table::new(1));
        let method = "X".repeat(TEXT_BYTES + 3);
        let _a = table.record(&m(&method), "/x");
        assert_eq!(names_of(&table)[0], format!("{}…", &method[..TEXT_BYTES]));
    }

    #[test]
    fn a_thread_takes_the_slot_it_freed_and_searches_only_when_it_is_taken() {
        let table = Arc::new(Table::new(3));
        let a = table.record(&m("GET"), "/a");
        let first = a.index;
        drop(a);
        let b = table.record(&m("GET"), "/b");
        assert_eq!(b.index, first, "the slot it took last, free again");
        // Taken: the next ones, around the end of the table, until every slot is.
        let c = table.record(&m("GET"), "/c");
        let d = table.record(&m("GET"), "/d");
        let mut taken = [b.index, c.index, d.index];
        taken.sort_unstable();
        assert_eq!(taken, [0, 1, 2]);
        let e = table.record(&m("GET"), "/e");
        assert_eq!(e.index, usize::MAX, "no slot: counted");
        assert_eq!(table.len(), 4);
        // A slot freed by another request (not the thread's last) is found by the search.
        let freed = b.index;
        drop(b);
        let f = table.record(&m("GET"), "/f");
        assert_eq!(f.index, freed);
        drop(e);
        assert_eq!(names_of(&table).len(), 3, "{:?}", names_of(&table));
        drop((c, d, f));
        assert_eq!(table.len(), 0);
    }

    #[test]
    fn concurrent_writers_and_a_reader_never_see_torn_text() {
        let table = Arc::new(Table::new(8));
        let threads: Vec<_> = (0..2)
            .map(|t| {
                let table = table.clone();
                std::thread::spawn(move || {
                    for i in 0..20_000 {
                        let path = format!("/t{t}/{}", "x".repeat(i % 40));
                        let entry = table.record(&m("GET"), &path);
                        drop(entry);
                    }
                })
            })
            .collect();
        for _ in 0..2_000 {
            let mut names = Vec::new();
            table.name_into(&mut names);
            for name in names {
                let (text, _) = name.split_once("  ").unwrap();
                let rest = text.strip_prefix("GET /t").unwrap();
                let (_, xs) = rest.split_once('/').unwrap();
                assert!(xs.bytes().all(|b| b == b'x'), "{name}");
            }
        }
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(table.len(), 0);
    }
}
