#!/usr/bin/env bash
# The footprint measures of BENCHMARKS.md ("Footprint"), as `winddown-bench-record` lines on
# stdout (benches/report.sh runs this and reads them; run it alone to see them):
#
# - F1, static daemons: six daemons built for x86_64-unknown-linux-musl in the `size` profile
#   (root Cargo.toml: opt-level "z", fat LTO, one codegen unit, panic = "abort"), in this run:
#   the smol demo daemon (examples/demo/daemon_smol.rs), the tokio demo daemon
#   (examples/demo/daemon.rs), and from benches/footprint: the least a winddown daemon on smol
#   does (no demo service; winddown without its default `report-table`, so it prints its
#   report's headline and no table), the same daemon written by hand on smol without winddown
#   (async-signal, no report), a std-only signal-hook daemon and the bare tokio daemon of P6.
#   For each:
#   the stripped size (`strip` of a copy), and the peak RSS at `ready` (VmHWM in
#   /proc/PID/status, read once the daemon has printed `ready`, median of a few starts), with
#   its thread count.
# - F2, top contributors: `nm --size-sort` of the unstripped builds, summed by crate (the first
#   path segment of each demangled symbol), for the two demo daemons; and the same split of
#   what the least winddown daemon on smol holds beyond the one written by hand (crates and
#   symbols by size difference).
# - F3, the core on thumbv7em-none-eabihf: the no_std probe (tests/no-std) built in its own
#   `size` profile with and without its use of the core; the difference in `.text` and
#   `.rodata` is what winddown-core adds.
#
# Installs the two Rust targets with rustup if they are missing. Takes a few minutes on two
# cores (fat LTO of six binaries).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
triple=x86_64-unknown-linux-musl
embedded=thumbv7em-none-eabihf
target=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')

for t in "$triple" "$embedded"; do
    if ! rustup target list --installed | grep -qx "$t"; then
        rustup target add "$t" >&2
    fi
done

# Built without -D warnings: a new lint must not stop a measurement.
cargo build --profile size --target "$triple" -p winddown-demo --all-features \
    --example daemon_smol --example daemon >&2
cargo build --profile size --target "$triple" -p winddown-footprint --bins >&2
(
    cd tests/no-std
    cargo build --profile size --target "$embedded" >&2
    cp "target/$embedded/size/winddown-no-std-probe" "$target/footprint-probe-with-core"
    cargo build --profile size --target "$embedded" --no-default-features >&2
    cp "target/$embedded/size/winddown-no-std-probe" "$target/footprint-probe-without-core"
)

export WD_DIR="$target/$triple/size" WD_TARGET="$target" WD_TRIPLE="$triple"
python3 - <<'PY'
import json, os, re, select, shutil, signal, subprocess, sys, tempfile, time

d = os.environ["WD_DIR"]
target = os.environ["WD_TARGET"]
PREFIX = "winddown-bench-record "
STARTS = 5          # starts per daemon for the RSS median
PATIENCE = 10.0     # seconds any wait may take

def record(**fields):
    print(PREFIX + json.dumps(fields), flush=True)

arms = [
    ("smol demo daemon", "smol", os.path.join(d, "examples", "daemon_smol")),
    ("tokio demo daemon", "tokio", os.path.join(d, "examples", "daemon")),
    ("winddown on smol, no demo service", "smol-minimal", os.path.join(d, "smol_minimal_daemon")),
    ("the same by hand on smol (async-signal)", "smol-byhand", os.path.join(d, "smol_byhand_daemon")),
    ("signal-hook daemon (std only)", "sighook", os.path.join(d, "sighook_daemon")),
    ("bare tokio daemon", "bare", os.path.join(d, "bare_tokio_daemon")),
]

def static(path):
    out = subprocess.run(["readelf", "-l", path], capture_output=True, text=True, check=True).stdout
    return "INTERP" not in out

def stripped_size(path):
    with tempfile.TemporaryDirectory() as tmp:
        copy = os.path.join(tmp, "bin")
        shutil.copy(path, copy)
        subprocess.run(["strip", copy], check=True)
        return os.path.getsize(copy)

def status_fields(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields

def rss_at_ready(path):
    """Starts the daemon, waits for `ready` on stdout, reads VmHWM (kB) and Threads, then
    sends SIGTERM and waits for the exit (every wait bounded)."""
    scratch = tempfile.mkdtemp(prefix="winddown-footprint-")
    env = dict(os.environ, TMPDIR=scratch)
    child = subprocess.Popen([path], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             stdin=subprocess.DEVNULL, env=env)
    try:
        deadline = time.monotonic() + PATIENCE
        buf = b""
        while b"\nready\n" not in b"\n" + buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([child.stdout], [], [], left)[0]:
                raise RuntimeError(f"{path}: no `ready` within {PATIENCE} s")
            chunk = os.read(child.stdout.fileno(), 4096)
            if not chunk:
                raise RuntimeError(f"{path}: exited before `ready`")
            buf += chunk
        fields = status_fields(child.pid)
        hwm = int(fields["VmHWM"].split()[0])
        threads = int(fields["Threads"])
        # Now, not peak: the binary's own pages (file) and the heap, stacks and buffers (anon).
        rss_file = int(fields["RssFile"].split()[0])
        rss_anon = int(fields["RssAnon"].split()[0])
        child.send_signal(signal.SIGTERM)
        code = child.wait(timeout=PATIENCE)
        if code != 0:
            raise RuntimeError(f"{path}: exit status {code} after SIGTERM")
        return hwm, threads, rss_file, rss_anon
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        shutil.rmtree(scratch, ignore_errors=True)

for name, tag, path in arms:
    samples = [rss_at_ready(path) for _ in range(STARTS)]
    mid = sorted(samples)[len(samples) // 2]  # the start with the median VmHWM
    hwms = sorted(s[0] for s in samples)
    record(measure="f1", arm=name, tag=tag, static=static(path),
           bytes=stripped_size(path), unstripped=os.path.getsize(path),
           hwm_kb=mid[0], hwm_min_kb=hwms[0], hwm_max_kb=hwms[-1],
           threads=mid[1], rss_file_kb=mid[2], rss_anon_kb=mid[3], starts=STARTS)

# F2: the biggest crates and symbols of each demo daemon.
SEGMENT = re.compile(r"^(?:<|_<)?(?:&?(?:mut )?)?([A-Za-z_][A-Za-z0-9_]*)::")
def crate_of(symbol):
    # `<tokio::runtime::X as core::future::Future>::poll` belongs to tokio; a bare C symbol
    # (musl's libc, compiler-rt) to "libc and runtime".
    m = SEGMENT.match(symbol)
    return m.group(1) if m else "[libc, compiler-rt, other C]"

def symbols_of(path):
    """(size, demangled name) of each code and read-only data symbol of `path`."""
    out = subprocess.run(["nm", "--size-sort", "-C", "-S", path], capture_output=True,
                         text=True, check=True).stdout
    symbols = []
    for line in out.splitlines():
        parts = line.split(None, 3)
        if len(parts) < 4 or parts[2].lower() not in "tr":
            continue  # text (code) and read-only data only
        symbols.append((int(parts[1], 16), parts[3]))
    return symbols

def by_crate(symbols):
    crates = {}
    for size, name in symbols:
        crate = crate_of(name)
        crates[crate] = crates.get(crate, 0) + size
    return crates

for name, tag, path in arms[:2]:
    symbols = symbols_of(path)
    crates = sorted(by_crate(symbols).items(), key=lambda kv: -kv[1])[:12]
    symbols.sort(reverse=True)
    record(measure="f2", arm=name, tag=tag, total=sum(s for s, _ in symbols),
           crates=[[c, s] for c, s in crates],
           symbols=[[s, n[:110]] for s, n in symbols[:10]])

# F2 of winddown's own cost: the least winddown daemon on smol against the same daemon by hand.
# Symbols of one name (generic instances) are summed before the difference is taken.
paths = {tag: path for _, tag, path in arms}
def as_daemon(symbols, crate):
    # The two daemons' own code under one name, so that what each inlines into its `main`
    # compares: `smol_minimal_daemon::main` and `smol_byhand_daemon::main` are both `daemon::main`.
    return [(size, name.replace(crate + "::", "daemon::")) for size, name in symbols]
ours = as_daemon(symbols_of(paths["smol-minimal"]), "smol_minimal_daemon")
theirs = as_daemon(symbols_of(paths["smol-byhand"]), "smol_byhand_daemon")
def summed(symbols):
    total = {}
    for size, name in symbols:
        total[name] = total.get(name, 0) + size
    return total
ours_by, theirs_by = by_crate(ours), by_crate(theirs)
crate_diff = sorted(((ours_by.get(c, 0) - theirs_by.get(c, 0), c, ours_by.get(c, 0), theirs_by.get(c, 0))
                     for c in set(ours_by) | set(theirs_by)), reverse=True)
ours_sym, theirs_sym = summed(ours), summed(theirs)
sym_diff = sorted(((ours_sym.get(n, 0) - theirs_sym.get(n, 0), n) for n in set(ours_sym) | set(theirs_sym)),
                  reverse=True)
record(measure="f2_diff", ours="smol-minimal", theirs="smol-byhand",
       total_ours=sum(s for s, _ in ours), total_theirs=sum(s for s, _ in theirs),
       crates=[[c, d, o, t] for d, c, o, t in crate_diff if abs(d) >= 512],
       symbols=[[d, n[:110]] for d, n in sym_diff[:12]])

# F3: the core's .text on thumbv7em.
def sections(path):
    out = subprocess.run(["size", "-A", path], capture_output=True, text=True, check=True).stdout
    sizes = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].startswith(".") and parts[1].isdigit():
            sizes[parts[0]] = int(parts[1])
    return sizes
with_core = sections(os.path.join(target, "footprint-probe-with-core"))
without = sections(os.path.join(target, "footprint-probe-without-core"))
record(measure="f3", target="thumbv7em-none-eabihf",
       text_with=with_core.get(".text", 0), text_without=without.get(".text", 0),
       rodata_with=with_core.get(".rodata", 0), rodata_without=without.get(".rodata", 0))
PY
