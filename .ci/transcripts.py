#!/usr/bin/env python3
"""The README's transcripts, made by running the examples: checked, or rewritten.

Each transcript in README.md follows a marker line `<!-- transcript: NAME -->` and is a
```text block: the command as a reader would type it, what the example printed (stdout and
stderr through one pipe, in the order they came), and the exit code. This script runs each
scenario against the example binaries in target/<profile>/examples, built with the features
the README's commands give (.ci/transcripts.sh builds them), sending the signals and making the
requests the transcript describes, and

- with --check (what CI runs): fails if a transcript differs from the README's, once both are
  masked: timings, ports, process ids and paths are replaced by placeholders and runs of spaces
  by one, so only what the examples say counts, not how fast they said it;
- with --write: puts the new transcripts into README.md, as they came.

usage: transcripts.py (--check | --write) [--profile debug|release]
"""
import argparse
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, 'README.md')
PATIENCE = 30  # seconds for any one wait


class Run:
    """An example running with stdout and stderr in one pipe, read line by line."""

    def __init__(self, binary, args):
        self.proc = subprocess.Popen(
            [binary] + args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True)
        self.lines = []
        self.changed = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            with self.changed:
                self.lines.append(line.rstrip('\n'))
                self.changed.notify_all()
        with self.changed:
            self.changed.notify_all()

    def wait_for(self, pattern):
        """Waits for a line matching `pattern`; returns the match."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + PATIENCE
        with self.changed:
            while True:
                for line in self.lines:
                    found = regex.search(line)
                    if found:
                        return found
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self.reader.is_alive()):
                    raise SystemExit(f'no line matching {pattern!r} in: {self.lines}')
                self.changed.wait(left)

    def signal(self, number):
        self.proc.send_signal(number)

    def finish(self):
        """Waits for the exit; returns (the lines, the exit code)."""
        code = self.proc.wait(PATIENCE)
        self.reader.join(PATIENCE)
        return self.lines, code


def daemon_idle(examples):
    run = Run(os.path.join(examples, 'daemon'), [])
    run.wait_for(r'^ready$')
    run.signal(signal.SIGTERM)
    return run.finish()


def daemon_forced(examples):
    run = Run(os.path.join(examples, 'daemon'), ['--slow-close', '30'])
    run.wait_for(r'^ready$')
    run.signal(signal.SIGTERM)
    run.wait_for(r'connection pool: closing')
    time.sleep(1.5)  # what the transcript says: the second signal, 1.5 s in
    run.signal(signal.SIGTERM)
    return run.finish()


def requests_in_flight(status):
    """`requests_in_flight` of the example's `/status`, on the keep-alive connection `status`."""
    status.request('GET', '/status')
    return json.loads(status.getresponse().read()).get('requests_in_flight', 0)


def axum_cut(examples):
    run = Run(os.path.join(examples, 'axum'), ['--drain-timeout', '1'])
    port = int(run.wait_for(r'^listening on 127\.0\.0\.1:(\d+)$').group(1))
    run.wait_for(r'^ready$')
    # An SSE stream, read until its first event, and a request that outlives the drain.
    sse = socket.create_connection(('127.0.0.1', port), timeout=PATIENCE)
    sse.sendall(b'GET /sse HTTP/1.1\r\nHost: localhost\r\n\r\n')
    received = b''
    while b'data: tick' not in received:
        received += sse.recv(4096)
    slow = socket.create_connection(('127.0.0.1', port), timeout=PATIENCE)
    slow.sendall(b'GET /slow?ms=5000 HTTP/1.1\r\nHost: localhost\r\n\r\n')
    # Both in flight, as `/status` says, on a keep-alive connection left open and idle through
    # the signal: the server closes it as idle. (Closed by the client before the signal, it
    # would be counted as ended before the close or as closed idle depending on whether the
    # server had read its end yet: a race a loaded machine loses.)
    status = http.client.HTTPConnection('127.0.0.1', port, timeout=PATIENCE)
    deadline = time.monotonic() + PATIENCE
    while requests_in_flight(status) < 2:
        if time.monotonic() > deadline:
            raise SystemExit('the slow request never got in flight')
        time.sleep(0.01)
    run.signal(signal.SIGTERM)
    lines, code = run.finish()
    status.close()
    sse.close()
    slow.close()
    # What the reader does meanwhile, in the transcript: after `ready`.
    at = lines.index('ready') + 1
    note = (f"(in another shell: curl -N http://127.0.0.1:{port}/sse, "
            f"curl 'http://127.0.0.1:{port}/slow?ms=5000', a GET of http://127.0.0.1:{port}/status "
            f"on a connection left open, kill -TERM)")
    return lines[:at] + [note] + lines[at:], code


# "N drained" counts what was in flight when the drain step began, and work that stops at the
# trigger races that step: the demo daemon's two workers (they stop when they see the trigger,
# often before the drain counts them, sometimes after), the HTTP example's SSE stream (it ends
# at the close). What is left is exact.
DRAINED = (re.compile(r'\d+ drained, (\d+) left'), r'N drained, \1 left')

# name -> (the command as the README shows it, the scenario, masks of its own)
SCENARIOS = {
    'daemon-idle': ('cargo run --release -p winddown-demo --example daemon', daemon_idle, []),
    'daemon-forced': ('cargo run --release -p winddown-demo --example daemon -- --slow-close 30',
                      daemon_forced, []),
    'axum-cut': ('cargo run --release --example axum --features full -- --drain-timeout 1',
                 axum_cut, []),
}

MARKER = re.compile(r'<!-- transcript: ([\w-]+) -->\n```text\n(.*?)\n```', re.S)

MASKS = [
    (re.compile(r'\d+\.\d{3}s'), 'T.TTTs'),                      # timings
    (re.compile(r'(GET /\S+)\s+\d+(\.\d+)?(ms|s)'), r'\1 AGE'),   # a request's age
    (re.compile(r'127\.0\.0\.1:\d+'), '127.0.0.1:PORT'),          # ports
    (re.compile(r'log file \S+'), 'log file PATH'),               # the log file's path
    DRAINED,
    (re.compile(r' +'), ' '),                                     # column widths
]


def mask(text, own=()):
    for pattern, replacement in list(own) + MASKS:
        text = pattern.sub(replacement, text)
    return text


def transcript(command, lines, code):
    return '\n'.join([f'$ {command}'] + lines + ['$ echo $?', str(code)])


def main():
    parser = argparse.ArgumentParser()
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument('--check', action='store_true')
    mode.add_argument('--write', action='store_true')
    parser.add_argument('--profile', default='debug')
    options = parser.parse_args()
    examples = os.path.join(ROOT, 'target', options.profile, 'examples')

    readme = open(README, encoding='utf-8').read()
    found = {name: text for name, text in MARKER.findall(readme)}
    missing = set(SCENARIOS) - set(found)
    if missing:
        raise SystemExit(f'README.md has no transcript marker for {sorted(missing)}')
    made = {}
    for name, (command, scenario, _) in SCENARIOS.items():
        lines, code = scenario(examples)
        made[name] = transcript(command, lines, code)

    if options.write:
        readme = MARKER.sub(
            lambda m: f'<!-- transcript: {m.group(1)} -->\n```text\n{made[m.group(1)]}\n```'
            if m.group(1) in made else m.group(0),
            readme)
        open(README, 'w', encoding='utf-8').write(readme)
        print(f'transcripts: {len(made)} written to README.md')
        return 0

    stale = [name for name, (_, _, own) in SCENARIOS.items()
             if mask(made[name], own) != mask(found[name], own)]
    for name in stale:
        print(f'== transcript {name}: README.md says')
        print(found[name])
        print(f'== but the example now prints')
        print(made[name])
    print(f'transcripts: {len(made)} checked, {len(stale)} no longer match'
          + (' (regenerate with `python3 .ci/transcripts.py --write`)' if stale else ''))
    return 1 if stale else 0


if __name__ == '__main__':
    sys.exit(main())
