# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (c) 2026 vfio-user-client developers
"""What count-syscalls.py and count-instructions.py share: run one
"vfu-bench --op" under a tracing tool that writes one file per process or
thread, and sum what each file says for the client and the server."""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

OPS = ["region-read", "region-write", "posted-write", "fence", "bare-read",
       "dma-read-message-1m", "dma-write-message-1m"]


def run_sides(tool, argv, bench, op, n, parse, zero):
    """Run argv(tmpdir) + [bench, --op, op, --count, n]; for each file the
    tool wrote, parse(path) gives a value added to the client's or the
    server's side (zero() makes an empty one)."""
    tmp = tempfile.mkdtemp(prefix=f"vfu-{tool}-")
    try:
        res = subprocess.run(
            argv(tmp) + [bench, "--op", op, "--count", str(n)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            timeout=900, check=False)
        m = re.search(r"server pid (\d+)", res.stderr)
        if res.returncode != 0 or not m:
            sys.exit(f"{tool}: {op}: vfu-bench failed: {res.stderr}")
        sides = {"client": zero(), "server": zero()}
        for name in os.listdir(tmp):
            pid = name.split(".")[-1]
            side = "server" if pid == m.group(1) else "client"
            sides[side] += parse(os.path.join(tmp, name))
        return sides
    finally:
        shutil.rmtree(tmp)


def parse_args(doc, count, program):
    """--bench, --count, OP...; exits when @program is not installed."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--bench", default="build-release/bench/vfu-bench")
    ap.add_argument("--count", type=int, default=count)
    ap.add_argument("ops", nargs="*", default=OPS)
    args = ap.parse_args()
    if not shutil.which(program):
        sys.exit(f"{program} is not installed")
    return args
