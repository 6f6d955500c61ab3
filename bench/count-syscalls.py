#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (c) 2026 vfio-user-client developers
"""System calls per operation, client and server, counted with strace.

    bench/count-syscalls.py [--bench build-release/bench/vfu-bench]
                            [--count N] [OP ...]

Runs "vfu-bench --op OP --count N" and "--count 2N" under "strace -f -ff"
(one output file per thread), splits the calls between the server process
(whose pid vfu-bench prints) and the client (every other thread), and
prints (calls with 2N - calls with N) / N for each side, with the calls
that make up the client's and the server's figure.  Set-up and tear-down
cancel out in the difference.  strace slows every call down, so these runs
say nothing about time.
"""
import collections
import os
import re

from opcount import parse_args, run_sides

CALL = re.compile(r"^([a-z_0-9]+)\(")


def parse(path):
    """The system calls one strace output file names."""
    calls = collections.Counter()
    with open(path, errors="replace") as f:
        for line in f:
            c = CALL.match(line)
            if c:
                calls[c.group(1)] += 1
    return calls


def count(bench, op, n):
    """{'client': Counter, 'server': Counter} for one run."""
    return run_sides(
        "syscalls",
        lambda tmp: ["strace", "-f", "-ff", "-qq", "-o",
                     os.path.join(tmp, "t")],
        bench, op, n, parse, collections.Counter)


def main():
    args = parse_args(__doc__, 2000, "strace")
    print(f"{'operation':22} {'side':7} {'calls/op':>9}  of which")
    for op in args.ops:
        n = args.count if "dma" not in op else max(1, args.count // 20)
        one, two = count(args.bench, op, n), count(args.bench, op, 2 * n)
        for side in ("client", "server"):
            diff = two[side] - one[side]
            per = {k: v / n for k, v in diff.items() if v > 0}
            total = sum(per.values())
            detail = ", ".join(f"{k} {v:.2f}" for k, v in
                               sorted(per.items(), key=lambda kv: -kv[1])
                               if v >= 0.01)
            print(f"{op:22} {side:7} {total:9.2f}  {detail}")


if __name__ == "__main__":
    main()
