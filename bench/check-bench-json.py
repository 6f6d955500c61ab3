#!/usr/bin/env python3
# bench-smoke: run "vfu-bench --quick --json" and check that it ran and
# printed valid JSON with every section, machine facts and targets.  No
# timing is asserted: test machines vary too much.
#
# Copyright (c) 2026 vfio-user-client developers
# SPDX-License-Identifier: GPL-2.0-or-later
import json
import subprocess
import sys

SECTIONS = ("limits", "dma", "region", "memory", "scale")
# The figures behind the bounds printed under the targets (one CPU).
BOUNDS = ("region.posted_ceiling.same", "region.rtt_floor.same")


def fail(msg):
    print("bench-smoke: " + msg, file=sys.stderr)
    sys.exit(1)


def main():
    if len(sys.argv) != 2:
        fail("usage: check-bench-json.py PATH-TO-VFU-BENCH")
    proc = subprocess.run([sys.argv[1], "--quick", "--json"],
                          stdout=subprocess.PIPE, timeout=110, check=False)
    if proc.returncode != 0:
        fail("vfu-bench exited with %d" % proc.returncode)
    try:
        doc = json.loads(proc.stdout)
    except ValueError as e:
        fail("output is not JSON: %s" % e)
    for key in ("machine", "sections", "targets", "errors"):
        if key not in doc:
            fail("no '%s' in the output" % key)
    for name in SECTIONS:
        figures = doc["sections"].get(name)
        if not figures:
            fail("section '%s' is missing or empty" % name)
        for f in figures:
            for key in ("key", "label", "unit", "value"):
                if key not in f:
                    fail("a figure of '%s' has no '%s'" % (name, key))
    keys = {f["key"] for name in SECTIONS for f in doc["sections"][name]}
    for key in BOUNDS:
        if key not in keys:
            fail("no figure '%s'" % key)
    if not doc["targets"]:
        fail("no targets")
    for t in doc["targets"]:
        if t.get("met") is None:
            fail("target '%s' was not measured" % t.get("name"))
    if doc["errors"]:
        fail("errors: %s" % doc["errors"])
    print("bench-smoke: %d figures, %d targets" % (
        sum(len(doc["sections"][s]) for s in SECTIONS), len(doc["targets"])))


main()
