#!/usr/bin/env python3
"""Rewrites the inner crates' paths in doc-comment code blocks to the facade's `winddown::`.

usage: facade_paths.py [--alias CRATE] FILE...
  --alias CRATE: also insert a hidden `# use CRATE as winddown;` line at the top of each
  rewritten block, so it still compiles in CRATE's own doctests without the facade.
"""
import re, sys

args = sys.argv[1:]
alias = None
if args and args[0] == '--alias':
    alias, args = args[1], args[2:]

DOC = re.compile(r'^(\s*)(///|//!)(.*)$')
ATTR_FENCE = re.compile(r'doc\s*=\s*"```')
INNER = re.compile(r'\bwinddown_(core|adapters)::')

for path in args:
    lines = open(path).read().split('\n')
    out, in_block, block = [], False, []
    for line in lines:
        m = DOC.match(line)
        is_fence = (m and m.group(3).strip().startswith('```')) or (
            not m and ATTR_FENCE.search(line))
        if is_fence and in_block and not block and not m:
            # The second of a `cfg_attr(.., doc = "```")` / `doc = "```ignore"` pair.
            out.append(line)
            continue
        if is_fence:
            if not in_block:
                in_block = True
                out.append(line)
                block = []
                fence_prefix = None
            else:
                in_block = False
                text = '\n'.join(b for b in block)
                if INNER.search(text):
                    new = [INNER.sub('winddown::', b) for b in block]
                    if alias:
                        first = next(b for b in block if DOC.match(b))
                        indent, kind = DOC.match(first).group(1), DOC.match(first).group(2)
                        new.insert(0, f'{indent}{kind} # use {alias} as winddown;')
                    out.extend(new)
                else:
                    out.extend(block)
                out.append(line)
            continue
        if in_block:
            block.append(line)
        else:
            out.append(line)
    assert not in_block, f'{path}: unclosed code block'
    open(path, 'w').write('\n'.join(out))
