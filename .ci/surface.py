#!/usr/bin/env python3
"""Counts the facade's public surface on its rendered docs, for the changelog's before/after.

Reads DOC_DIR (target/doc/winddown of `cargo doc -p winddown --no-deps --all-features`) and
prints the number of items rustdoc lists on its "All items" page (structs, enums, traits,
functions, type aliases, constants; modules are not items there) and the number of inherent
methods of `Shutdown`.

usage: surface.py DOC_DIR
"""
import os
import re
import sys

doc_dir = sys.argv[1]
items = re.findall(r'<li><a href="([^"]+)">', open(os.path.join(doc_dir, 'all.html')).read())
shutdown = open(os.path.join(doc_dir, 'struct.Shutdown.html')).read()
inherent = shutdown[:shutdown.find('id="trait-implementations"')]
methods = set(re.findall(r'id="method\.(\w+)"', inherent))
print(f'facade items: {len(items)}')
print(f'Shutdown methods: {len(methods)}')
