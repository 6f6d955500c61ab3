#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (c) 2026 vfio-user-client developers
"""User-space instructions per operation, client and server (callgrind).

    bench/count-instructions.py [--bench build-release/bench/vfu-bench]
                                [--count N] [OP ...]

Runs "vfu-bench --op OP --count N" and "--count 2N" under valgrind's
callgrind tool (one profile per process; the client's threads are summed),
and prints (instructions with 2N - instructions with N) / N for the client
process and the server process.  Set-up and tear-down cancel out in the
difference.  Unlike a timing, the figure is the same from run to run, so a
change to the per-call path shows even when it is smaller than the noise
of "make bench".  It counts no kernel work: system calls per operation
come from bench/count-syscalls.py.
"""
import os
import re
import sys

from opcount import parse_args, run_sides

TOTAL = re.compile(r"^(?:totals|summary):\s+(\d+)", re.M)


def parse(path):
    """The instructions one callgrind profile counted."""
    with open(path, errors="replace") as f:
        t = TOTAL.search(f.read())
    if not t:
        sys.exit(f"count-instructions: {path}: no totals line")
    return int(t.group(1))


def count(bench, op, n):
    """{'client': instructions, 'server': instructions} for one run."""
    return run_sides(
        "instructions",
        lambda tmp: ["valgrind", "--tool=callgrind", "--quiet",
                     "--callgrind-out-file=" + os.path.join(tmp, "cg.%p")],
        bench, op, n, parse, int)


def main():
    args = parse_args(__doc__, 5000, "valgrind")
    print(f"{'operation':22} {'client':>8} {'server':>8}  instructions/op")
    for op in args.ops:
        n = args.count if "dma" not in op else max(1, args.count // 20)
        one, two = count(args.bench, op, n), count(args.bench, op, 2 * n)
        print(f"{op:22} {(two['client'] - one['client']) / n:8.0f} "
              f"{(two['server'] - one['server']) / n:8.0f}")


if __name__ == "__main__":
    main()
