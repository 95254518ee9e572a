"""Run the project's test suites one after another and end with a verdict: what `make test` prints last.

    python tests/run_suites.py NAME COMMAND [NAME COMMAND ...]

Each COMMAND runs in a shell with its output passed through as it comes; its summary lines (pytest's
"N passed ... in Ns", node --test's "# pass N" / "# fail N") are kept. Every suite runs even when an
earlier one failed, so one run shows every failure; the exit status is 1 if any suite failed.
"""

from __future__ import annotations

import re
import subprocess
import sys

PYTEST_SUMMARY = re.compile(r"^=+ (.+ in [\d.]+s(?: \([\d:]+\))?) =+$")
NODE_COUNT = re.compile(r"^# (pass|fail|cancelled|skipped|todo) (\d+)$")


def run(name: str, command: str) -> tuple[int, list[str]]:
    """Run one suite; (its exit status, its summary lines)."""
    print(f"\n>>> {name}: {command}", flush=True)
    process = subprocess.Popen(command, shell=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               errors="replace", bufsize=1)
    assert process.stdout is not None
    summaries: list[str] = []
    counts: dict[str, int] = {}
    for line in process.stdout:
        sys.stdout.write(line)
        text = line.strip()
        if match := PYTEST_SUMMARY.match(text):
            summaries.append(match.group(1))
        elif match := NODE_COUNT.match(text):
            counts[match.group(1)] = counts.get(match.group(1), 0) + int(match.group(2))
    status = process.wait()
    if counts:
        summaries.append(", ".join(f"{counts[key]} {'passed' if key == 'pass' else 'failed' if key == 'fail' else key}"
                                   for key in ("pass", "fail", "cancelled", "skipped", "todo") if counts.get(key)))
    return status, summaries


def main(argv: list[str]) -> int:
    if not argv or len(argv) % 2:
        print(__doc__, file=sys.stderr)
        return 2
    results = [(name, *run(name, command)) for name, command in zip(argv[::2], argv[1::2])]
    width = max(len(name) for name, _, _ in results)
    print("\n" + "=" * 30 + " verdict " + "=" * 30)
    for name, status, summaries in results:
        verdict = "ok" if status == 0 else f"FAILED (exit {status})"
        print(f"{name:<{width}}  {verdict:<6}  {'; '.join(summaries) or 'no summary line found'}")
    failed = [name for name, status, _ in results if status != 0]
    print(f"failed: {', '.join(failed)}" if failed else "every suite passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
