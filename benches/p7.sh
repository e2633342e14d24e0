#!/usr/bin/env bash
# P7: the leak finder compiled out against the guard code before it existed.
#
#   bash benches/p7.sh            # prints `winddown-bench-record` lines (report.sh reads them)
#
# Builds the P1 guard bench (benches/benches/guard.rs) three times:
#
# - "compiled out": this tree, default features (the `track` feature off);
# - "absent": the tree at WINDDOWN_P7_BASE (default b1f2903, the last commit on main before the
#   leak finder was merged, so the same core otherwise: waiter list and drain path included),
#   checked out with `git worktree add --detach` into a temporary directory and built
#   into the same target directory (cargo keeps the two trees' crates apart by their paths, and
#   the dependencies are shared, so only the core and the bench are rebuilt);
# - "track on": this tree with `--features track` (informational: what the leak finder costs
#   when it is on).
#
# Then runs the three binaries alternately, WINDDOWN_P7_ROUNDS rounds (default 5), the arm that
# goes first rotating each round, each run timing the P1 floor (`&AtomicUsize` add+sub) and the
# two winddown rows with criterion (short warm-up and measurement; each run writes into a
# CRITERION_HOME of its own, so nothing reaches the P1 results). It prints one record per arm
# and row with every round's slope estimate, and one record comparing the machine code of the
# hot loops: the functions of each binary that reach both of the guard's cold paths
# (`enter_cold` and `release_slow`, whose GOT slots they load) are the criterion loops that
# inline `Shutdown::enter` and the guard's drop; their instructions, with addresses and
# RIP-relative offsets masked, are compared between "compiled out" and "absent", and so are the
# two cold functions themselves. Takes about a minute and a half after the builds.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
base=${WINDDOWN_P7_BASE:-b1f2903}
rounds=${WINDDOWN_P7_ROUNDS:-5}
target=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')

work=$(mktemp -d "${TMPDIR:-/tmp}/winddown-p7.XXXXXX")
cleanup() {
    git -C "$root" worktree remove --force "$work/absent" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# The path of the `guard` bench executable cargo builds in directory $1 with extra args $2...
build_guard() {
    local dir=$1
    shift
    (cd "$dir" && CARGO_TARGET_DIR="$target" cargo bench -p winddown-benches --bench guard \
        --no-run --message-format json "$@") |
        python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "guard" and m.get("executable"):
        print(m["executable"])'
}

git -C "$root" worktree add --quiet --detach "$work/absent" "$base"
echo "p7: building the guard bench: compiled out (this tree), absent ($base), track on" >&2
out_bin=$(build_guard "$root")
absent_bin=$(build_guard "$work/absent")
track_bin=$(build_guard "$root" --features track)
for bin in "$out_bin" "$absent_bin" "$track_bin"; do
    [ -x "$bin" ] || { echo "p7: no guard bench executable built" >&2; exit 1; }
done

export P7_WORK=$work P7_ROUNDS=$rounds P7_BASE=$base
export P7_OUT=$out_bin P7_ABSENT=$absent_bin P7_TRACK=$track_bin
python3 - <<'PY'
import glob, json, os, re, statistics, subprocess, sys

env = os.environ
work, rounds = env["P7_WORK"], int(env["P7_ROUNDS"])
arms = [("compiled out", env["P7_OUT"]), ("absent", env["P7_ABSENT"]), ("track on", env["P7_TRACK"])]
FILTER = r"^p1/(floor: &AtomicUsize add\+sub|winddown)"
FLOOR = "floor: &AtomicUsize add+sub"

# ----- the machine code of the hot loops -----
def functions(binary):
    """Function name -> list of instruction lines (address column dropped)."""
    text = subprocess.run(["objdump", "-d", "--no-show-raw-insn", "-C", binary],
                          check=True, capture_output=True, text=True).stdout
    funcs, name, body = {}, None, []
    for line in text.splitlines():
        m = re.match(r"^([0-9a-f]+) <(.*)>:$", line)
        if m:
            if name is not None:
                funcs.setdefault(name, []).append(body)
            name, body = m.group(2), []
            continue
        m = re.match(r"^\s+([0-9a-f]+):\s+(.*)$", line)
        if m and name is not None:
            body.append((int(m.group(1), 16), m.group(2)))
    if name is not None:
        funcs.setdefault(name, []).append(body)
    return funcs

def got_slot(binary, address):
    """The GOT slot (R_X86_64_RELATIVE) that holds `address`."""
    rel = subprocess.run(["readelf", "-rW", binary], check=True, capture_output=True, text=True).stdout
    for line in rel.splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[2] == "R_X86_64_RELATIVE" and int(parts[3], 16) == address:
            return int(parts[0], 16)
    return None

def normalize(body):
    out = []
    for _, insn in body:
        insn = insn.split("#")[0].rstrip()
        insn = re.sub(r"-?0x[0-9a-f]+\(%rip\)", "X(%rip)", insn)
        # Branch and call targets: keep the symbol and the offset in it, not the address.
        insn = re.sub(r"\b[0-9a-f]+ (<.*>)$", r"\1", insn)
        insn = re.sub(r"\s+", " ", insn)
        out.append(insn)
    return out

def hot_code(binary):
    funcs = functions(binary)
    cold = {}
    # Found by their last path segment, so that the comparison survives a move of the module
    # (shared.rs became raw/admission.rs).
    for suffix in ("::enter_cold", "::release_slow"):
        names = [n for n in funcs if n.startswith("winddown_core::") and n.endswith(suffix)]
        bodies = funcs[names[0]] if len(names) == 1 else []
        if len(bodies) != 1 or not bodies[0]:
            return None
        cold[suffix.lstrip(":")] = bodies[0]
    slots = [got_slot(binary, cold[n][0][0]) for n in cold]
    if None in slots:
        return None
    loops = []
    for name, bodies in funcs.items():
        for body in bodies:
            refs = [any(re.search(r"# %x <" % s, insn) for _, insn in body) for s in slots]
            if all(refs):
                loops.append(normalize(body))
    return {"loops": sorted(loops), "cold": {n: normalize(b) for n, b in cold.items()}}

asm = {"measure": "p7_asm"}
try:
    out_code, absent_code = hot_code(env["P7_OUT"]), hot_code(env["P7_ABSENT"])
except (OSError, subprocess.CalledProcessError) as e:
    out_code = absent_code = None
    asm["error"] = str(e)
if out_code is None or absent_code is None:
    asm["status"] = "not comparable"
else:
    asm["status"] = "ok"
    asm["loops"] = len(out_code["loops"])
    asm["loops_absent"] = len(absent_code["loops"])
    asm["loop_instructions"] = sum(len(l) for l in out_code["loops"])
    asm["loops_identical"] = out_code["loops"] == absent_code["loops"]
    asm["cold_identical"] = out_code["cold"] == absent_code["cold"]
    asm["cold_instructions"] = sum(len(b) for b in out_code["cold"].values())
print("winddown-bench-record " + json.dumps(asm), flush=True)

# ----- the timed runs -----
def run(binary, home):
    env2 = dict(env, CRITERION_HOME=home)
    subprocess.run([binary, "--bench", "--noplot", "--warm-up-time", "0.3",
                    "--measurement-time", "1", "--sample-size", "30", FILTER],
                   check=True, env=env2, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rows = {}
    for bench in glob.glob(os.path.join(home, "p1", "*", "new", "benchmark.json")):
        with open(bench) as f:
            meta = json.load(f)
        with open(os.path.join(os.path.dirname(bench), "estimates.json")) as f:
            est = json.load(f)
        e = est.get("slope") or est["mean"]
        rows[meta["function_id"]] = e["point_estimate"]
    return rows

results = {arm: [] for arm, _ in arms}
for r in range(rounds):
    order = arms[r % len(arms):] + arms[:r % len(arms)]
    for arm, binary in order:
        rows = run(binary, os.path.join(work, "criterion", arm.replace(" ", "-"), str(r)))
        if FLOOR not in rows or not any(k.startswith("winddown") for k in rows):
            sys.exit(f"p7: the {arm} run did not time the floor and the winddown rows")
        results[arm].append(rows)
    print(f"p7: round {r + 1}/{rounds} done", file=sys.stderr, flush=True)

names = sorted({k for rows in results["absent"] for k in rows})
for arm, _ in arms:
    for name in names:
        ns = [rows[name] for rows in results[arm]]
        floor = [rows[FLOOR] for rows in results[arm]]
        print("winddown-bench-record " + json.dumps({
            "measure": "p7", "arm": arm, "row": name, "base": env["P7_BASE"],
            "rounds": rounds, "ns": ns, "floor": floor,
        }), flush=True)
PY
