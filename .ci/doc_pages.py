"""The rendered pages of a rustdoc output directory, for the checks of .ci/doc-paths.sh."""
import os


def pages(doc_dir, skip=()):
    """Yields (path relative to doc_dir, text) for every HTML page, but those under `skip`."""
    for root, _, files in os.walk(doc_dir):
        for name in sorted(files):
            if not name.endswith('.html'):
                continue
            path = os.path.join(root, name)
            rel = os.path.relpath(path, doc_dir)
            if any(rel.startswith(prefix) for prefix in skip):
                continue
            with open(path, encoding='utf-8') as page:
                yield rel, page.read()
