#!/usr/bin/env python3
"""Fails if a code example on the facade's rendered pages names an inner crate's path.

The facade (`winddown`) inlines the docs of winddown-core, winddown-adapters and
winddown-signals; a user pastes their examples into a crate that depends on `winddown` only,
where `winddown_core::...` fails with E0432. Reads every page under target/doc/winddown/,
takes the text of each code block (`<pre class="rust ...">`), and lists the ones that name
`winddown_core`, `winddown_adapters` or `winddown_signals`.

usage: doc_paths.py DOC_DIR [SKIP_PREFIX...]
  SKIP_PREFIX: pages (paths relative to DOC_DIR) to leave out, each with its reason in the
  caller.
"""
import html
import re
import sys

import doc_pages

doc_dir = sys.argv[1]
skip = sys.argv[2:]
block = re.compile(r'<pre class="rust[^"]*"[^>]*>(.*?)</pre>', re.S)
tag = re.compile(r'<[^>]+>')
inner = re.compile(r'\bwinddown_(core|adapters|signals)\b')

found = 0
pages = 0
for rel, text in doc_pages.pages(doc_dir, skip):
    pages += 1
    for code in block.findall(text):
        code = html.unescape(tag.sub('', code))
        for number, line in enumerate(code.splitlines(), 1):
            if inner.search(line):
                found += 1
                print(f'{rel}: example line {number}: {line.strip()}')
print(f'doc_paths: {pages} pages checked, {found} example lines name an inner crate')
sys.exit(1 if found else 0)
