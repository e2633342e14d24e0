#!/usr/bin/env python3
"""Checks the shape of the core (core/ARCHITECTURE.md) and the size of every library file.

1. `unsafe` appears in core/src only under raw/ (the crate root denies `unsafe_code` and
   allows it on that module alone; this also catches the word in a macro or an `#[allow]`).
2. No circle between the files of core/src: file A uses file B when its code (not its
   comments or docs) names an item of B through a `crate::` or `super::` path; a re-export
   (`pub use`) is followed to the file that defines the item.
3. The stop sequence (sequence/) uses the admission engine only through the crate's public
   surface (the root re-exports: `crate::Shutdown`, `crate::Phase`, ...), never a path into
   `crate::engine`, and of raw/ only its two cells, `Lock` and `Exclusive`.
4. No library file (src/ of each published crate) has more than 500 lines of code: lines
   that are not blank, not comments or docs, and not in a `#[cfg(test)]` module.

`python3 .ci/core_rooms.py [--counts]` from the root; --counts prints every file's count.
"""
import os
import re
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
CORE = os.path.join(ROOT, "core", "src")
LIBRARIES = ["core/src", "adapters/src", "signals/src", "http/src", "check/src", "src"]
MAX_CODE_LINES = 500


def strip_comments(text):
    """The text with comments (line, doc and block) and string contents blanked, lines kept."""
    out, i, depth, n = [], 0, 0, len(text)
    while i < n:
        if depth:
            if text.startswith("*/", i):
                depth -= 1
                i += 2
            elif text.startswith("/*", i):
                depth += 1
                i += 2
            else:
                out.append("\n" if text[i] == "\n" else " ")
                i += 1
        elif text.startswith("/*", i):
            depth += 1
            i += 2
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text[i] == '"' and not re.match(r"'.'", text[i - 1:i + 2] if i else ""):
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append('""' + "\n" * text.count("\n", i, j))
            i = j + 1
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def without_test_modules(code):
    """`code` (comments stripped) with every `#[cfg(test)]`/`#[cfg(all(test, ..))]` module
    blanked, lines kept."""
    lines = code.split("\n")
    keep, skip_to, depth, pending = [], None, 0, False
    for line in lines:
        s = line.strip()
        opens = s.count("{") - s.count("}")
        if skip_to is not None:
            depth += opens
            if depth <= skip_to:
                skip_to = None
            keep.append("")
            continue
        if re.match(r"#\[cfg\((all\()?test\b", s):
            pending = True
            keep.append("")
            continue
        if pending and re.match(r"(pub(\([^)]*\))?\s+)?mod\s+\w+", s):
            pending = False
            if opens > 0:
                skip_to = depth
                depth += opens
            keep.append("")
            continue
        if s and not s.startswith("#["):
            pending = False
        depth += opens
        keep.append(line)
    return "\n".join(keep)


def code_lines(path):
    with open(path) as f:
        code = without_test_modules(strip_comments(f.read()))
    return sum(1 for line in code.split("\n") if line.strip())


# ===== the module tree of core/src =====

def module_file(module):
    """The file of a module path (a tuple of names) in core/src, or None."""
    if not module:
        return os.path.join(CORE, "lib.rs")
    base = os.path.join(CORE, *module)
    for candidate in (base + ".rs", os.path.join(base, "mod.rs")):
        if os.path.isfile(candidate):
            return candidate
    return None


def module_of(path):
    rel = os.path.relpath(path, CORE)[:-3].split(os.sep)
    if rel == ["lib"]:
        return ()
    if rel[-1] == "mod":
        rel = rel[:-1]
    return tuple(rel)


def files():
    for dirpath, _, names in os.walk(CORE):
        for name in sorted(names):
            if name.endswith(".rs"):
                yield os.path.join(dirpath, name)


def reexports(path):
    """name -> module path tuple it is re-exported from, for `pub use`/`pub(crate) use` lines
    of a file (the relative part; resolved by the caller)."""
    with open(path) as f:
        code = strip_comments(f.read())
    found = {}
    for m in re.finditer(r"pub(?:\([^)]*\))?\s+use\s+([^;]+);", code):
        for source, name in expand_use(m.group(1)):
            found[name] = source
    return found


def expand_use(tree):
    """`a::b::{c, d::e as f}` -> [(['a','b','c'], 'c'), (['a','b','d','e'], 'f')]."""
    tree = re.sub(r"\s+as\s+", "@", tree)
    tree = re.sub(r"\s+", "", tree)
    out = []

    def walk(prefix, text):
        parts, depth, cur = [], 0, ""
        for ch in text:
            if ch == "," and depth == 0:
                parts.append(cur)
                cur = ""
                continue
            depth += ch == "{"
            depth -= ch == "}"
            cur += ch
        parts.append(cur)
        for part in parts:
            if not part:
                continue
            if "{" in part:
                head, rest = part.split("{", 1)
                walk(prefix + [p for p in head.split("::") if p], rest[:-1])
            else:
                alias = None
                if "@" in part:
                    part, alias = part.split("@", 1)
                segs = [p for p in part.split("::") if p]
                if segs and segs[-1] == "self":
                    segs = segs[:-1]
                if segs:
                    out.append((prefix + segs, alias or segs[-1]))

    walk([], tree)
    return out


def absolute(module, segs):
    """A path as written in `module` -> absolute segments from the crate root, or None if it
    does not start at `crate`, `super` or `self`."""
    segs = list(segs)
    if segs[0] == "crate":
        return segs[1:]
    if segs[0] in ("super", "self"):
        base = list(module)
        while segs and segs[0] in ("super", "self"):
            if segs.pop(0) == "super":
                base = base[:-1]
        return base + segs
    return None


def resolve(segs, seen=0):
    """Absolute segments -> the file that defines the item they name (following module
    structure and re-exports), or None for something outside core/src."""
    module = []
    for i, seg in enumerate(segs):
        if module_file(tuple(module + [seg])):
            module.append(seg)
            continue
        owner = module_file(tuple(module))
        exports = reexports(owner) if owner else {}
        if seg in exports and seen < 20:
            source = exports[seg]
            if source[0] not in ("crate", "super", "self"):
                source = ["self"] + source
            target = absolute(tuple(module), source)
            if target is not None:
                return resolve(target + segs[i + 1:], seen + 1)
        return owner
    return module_file(tuple(module))


PATH = re.compile(r"\b(?:crate|super|self)(?:::(?:[A-Za-z_][A-Za-z0-9_]*|\{[^;]*?\}))+")


def uses(path):
    """The files of core/src whose items `path` names (outside its test modules), with the
    paths as written."""
    module = module_of(path)
    with open(path) as f:
        code = without_test_modules(strip_comments(f.read()))
    found = {}
    inline, depth = [], 0  # inline `mod name { .. }` blocks: (name, depth they opened at)
    for line in code.split("\n"):
        opened = re.match(r"\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*\{", line)
        here = module + tuple(name for name, _ in inline)
        for m in PATH.finditer(line):
            for segs, _ in expand_use(m.group(0)):
                target_segs = absolute(here, segs)
                # `self` alone, or a path into this file's own inline modules, is no use.
                if target_segs is None or target_segs[: len(module)] == list(module) and (
                    len(target_segs) == len(module)
                    or module_file(tuple(target_segs[: len(module) + 1])) is None
                ):
                    continue
                target = resolve(target_segs)
                if target and target != path:
                    found.setdefault(target, set()).add("::".join(segs))
        if opened:
            inline.append((opened.group(1), depth))
        depth += line.count("{") - line.count("}")
        while inline and depth <= inline[-1][1]:
            inline.pop()
    return found


def find_cycle(graph):
    state, stack = {}, []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def main():
    errors = []
    rel = lambda p: os.path.relpath(p, ROOT)

    # 1. unsafe only in raw/
    raw = os.path.join(CORE, "raw") + os.sep
    for path in files():
        if path.startswith(raw) or os.path.basename(path) == "lib.rs":
            continue
        with open(path) as f:
            code = strip_comments(f.read())
        for number, line in enumerate(code.split("\n"), 1):
            if re.search(r"\bunsafe\b", line):
                errors.append(f"{rel(path)}:{number}: `unsafe` outside core/src/raw/")

    # 2. no circle between files; 3. the sequence's view of the engine
    graph = {}
    sequence = os.path.join(CORE, "sequence") + os.sep
    for path in files():
        found = uses(path)
        # A module's `mod.rs` declaring and re-exporting its children is structure, not use.
        graph[path] = {
            target for target in found
            if not (path.endswith("mod.rs") or path.endswith("lib.rs"))
            or not target.startswith(os.path.dirname(path))
        }
        if path.startswith(sequence):
            for written in sorted(set().union(*found.values()) if found else ()):
                if "engine" in written.split("::"):
                    errors.append(f"{rel(path)}: names `{written}`: the sequence uses the "
                                  "engine through the crate root's public re-exports only")
                segs = written.split("::")
                if "raw" in segs and segs[-1] not in ("Lock", "Exclusive"):
                    errors.append(f"{rel(path)}: names `{written}`: of raw/, the sequence uses "
                                  "only `Lock` and `Exclusive`")
    cycle = find_cycle(graph)
    if cycle:
        errors.append("a circle between files of core/src: " + " -> ".join(rel(p) for p in cycle))

    # 4. file sizes
    counts = []
    for library in LIBRARIES:
        for dirpath, _, names in os.walk(os.path.join(ROOT, library)):
            for name in names:
                # `tests.rs` files are test modules (`#[cfg(test)] mod tests;`).
                if name.endswith(".rs") and name != "tests.rs":
                    path = os.path.join(dirpath, name)
                    counts.append((code_lines(path), rel(path)))
    counts.sort(reverse=True)
    for count, path in counts:
        if count > MAX_CODE_LINES:
            errors.append(f"{path}: {count} lines of code (at most {MAX_CODE_LINES})")
    if "--counts" in sys.argv:
        for count, path in counts:
            print(f"{count:6d} {path}")
    if "--graph" in sys.argv:
        for path in sorted(graph):
            print(rel(path), "->", ", ".join(sorted(rel(t) for t in graph[path])))

    for error in errors:
        print("error:", error, file=sys.stderr)
    print(f"core_rooms: {len(graph)} core files, no circle; largest library file "
          f"{counts[0][1]} with {counts[0][0]} lines of code" if not errors else
          f"core_rooms: {len(errors)} error(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
