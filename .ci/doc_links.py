#!/usr/bin/env python3
"""Fails if a page of the facade's rendered docs shows an intra-doc link as raw text.

rustdoc's `broken_intra_doc_links` lint sees only the docs of the crate it documents. The
facade (`winddown`) inlines the docs of winddown-core, winddown-adapters, winddown-signals and
winddown-http, and a link in those that resolved in its own crate (`[`smol::Timer`]`, or an
item the facade does not re-export) can fail to resolve on the facade's page: rustdoc then
prints it as text, `[Timer]`, with no warning. This reads every page under DOC_DIR and lists
each `[<code>...</code>]` left in our own docs: the item's docs and its inherent methods. The
trait implementation sections are left out: they show the docs of other crates' traits
(tracing's `Instrument`, http-body-util's `BodyExt`), which are not ours to fix.

usage: doc_links.py DOC_DIR [SKIP_PREFIX...]
  SKIP_PREFIX: pages (paths relative to DOC_DIR) to leave out, each with its reason in the
  caller.
"""
import re
import sys

import doc_pages

doc_dir = sys.argv[1]
skip = sys.argv[2:]
# Where rustdoc starts the sections that show trait implementations (foreign docs).
trait_sections = re.compile(
    r'<h2 id="(trait-implementations|synthetic-implementations|blanket-implementations|'
    r'foreign-impls|implementors)"'
)
code_block = re.compile(r'<pre[^>]*>.*?</pre>', re.S)
raw_link = re.compile(r'\[<code>([^<]{1,80})</code>\](?![(\[])')

found = 0
pages = 0
for rel, text in doc_pages.pages(doc_dir, skip):
    pages += 1
    cut = trait_sections.search(text)
    if cut:
        text = text[:cut.start()]
    text = code_block.sub('', text)
    for match in raw_link.finditer(text):
        found += 1
        print(f'{rel}: [{match.group(1)}] is not a link')
print(f'doc_links: {pages} pages checked, {found} links shown as raw text')
sys.exit(1 if found else 0)
