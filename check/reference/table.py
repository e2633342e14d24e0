#!/usr/bin/env python3
"""Writes the table of servers and checks (from run.sh's JSON scorecards) into a markdown
file, between the lines `<!-- check-table:start -->` and `<!-- check-table:end -->`.

    python3 check/reference/table.py target/check README.md
"""
import json
import os
import subprocess
import sys

SERVERS = [
    ("winddown-axum", "winddown `examples/axum.rs`"),
    ("winddown-http_smol", "winddown `examples/http_smol.rs`"),
    ("axum-with_graceful_shutdown", "axum 0.8 `with_graceful_shutdown`"),
    ("hyper-util-GracefulShutdown", "hyper-util `GracefulShutdown`"),
    ("go-net-http-Shutdown", "Go net/http `Server.Shutdown`"),
]
MARK = {"passed": "pass", "failed": "**FAIL**", "skipped": "-"}


def main(out_dir, markdown):
    cards = []
    for name, label in SERVERS:
        path = os.path.join(out_dir, name + ".json")
        if os.path.exists(path):
            with open(path) as f:
                cards.append((label, json.load(f)))
    if not cards:
        sys.exit("no scorecards in " + out_dir)
    checks = [check["name"] for check in cards[0][1]["checks"]]
    lines = ["| check | " + " | ".join(label for label, _ in cards) + " |",
             "|---" * (len(cards) + 1) + "|"]
    for check in checks:
        row = []
        for _, card in cards:
            status = next((c["status"] for c in card["checks"] if c["name"] == check), "skipped")
            row.append(MARK[status])
        lines.append("| `" + check + "` | " + " | ".join(row) + " |")
    exits = []
    for _, card in cards:
        exit = card["exit"]
        if exit["killed"]:
            exits.append("killed at %g s" % card["budget_seconds"])
        elif exit["code"] is not None:
            exits.append("%d after %.2f s" % (exit["code"], exit["seconds"]))
        else:
            exits.append("signal %s" % exit["signal"])
    lines.append("| exit status | " + " | ".join(exits) + " |")
    lines.append("")
    lines.append("What fails, in the checker's words:")
    lines.append("")
    for label, card in cards:
        failed = [c for c in card["checks"] if c["status"] == "failed"]
        for check in failed:
            lines.append("- %s, `%s`: %s" % (label, check["name"], check["detail"]))
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    lines.append("")
    lines.append("(`bash check/reference/run.sh` at %s: `--escalate`, and `--budget 15` for the "
                 "reference servers.)" % (commit or "?"))
    with open(markdown) as f:
        text = f.read()
    text = replace(text, "check-table", "\n".join(lines))
    with open(os.path.join(out_dir, "winddown-axum.txt")) as f:
        scorecard = f.read()
    command = "$ winddown-check --escalate -- target/debug/examples/axum --port {port} --pre-stop 1"
    text = replace(text, "check-output", "```text\n" + command + "\n" + scorecard + "```")
    with open(markdown, "w") as f:
        f.write(text)


def replace(text, name, body):
    """The text with what is between `<!-- NAME:start -->` and `<!-- NAME:end -->` replaced."""
    start, end = "<!-- %s:start -->\n" % name, "<!-- %s:end -->" % name
    before, rest = text.split(start, 1)
    _, after = rest.split(end, 1)
    return before + start + body + "\n" + end + after


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
