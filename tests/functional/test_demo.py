#!/usr/bin/env python3
"""`make demo`: scripts/demo.sh BUILD_DIR runs the edu DMA round trip in
every access mode and prints a table; every row must say verified and
report the access mode the policy promises."""

import os
import re
import subprocess
import unittest

from vfutest import BUILD_DIR, SOURCE_DIR, VfuTestCase

EXPECTED = {
    "memory-backend-memfd": "mmap",
    "memory-backend-file": "mmap",
    "memory-backend-ram": "message",
    "memory-backend-memfd (file-io)": "file-io",
    "memory-backend-ram (file-io)": "file-io /proc/self/mem",
}


class Demo(VfuTestCase):

    def test_demo_table(self):
        env = dict(os.environ, DEMO_ROUNDS="2")
        r = subprocess.run([os.path.join(SOURCE_DIR, "scripts", "demo.sh"),
                            BUILD_DIR], stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=120,
                           env=env)
        print(r.stdout)
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = {}
        for line in r.stdout.splitlines():
            cells = [c.strip() for c in line.split("|")]
            if len(cells) == 5 and cells[0].startswith("memory-backend"):
                rows[cells[0]] = cells
        self.assertEqual(set(rows), set(EXPECTED))
        for label, mode in EXPECTED.items():
            backend, got_mode, nbytes, mbps, verdict = rows[label]
            self.assertEqual(got_mode, mode, label)
            self.assertEqual(verdict, "verified", label)
            self.assertEqual(int(nbytes), 2 * 2 * 1024 * 1024, label)
            self.assertGreater(float(mbps), 0.0, label)
        self.assertIn("all access modes verified", r.stdout)

    def test_demo_needs_build(self):
        r = subprocess.run([os.path.join(SOURCE_DIR, "scripts", "demo.sh"),
                            self.path("no-build-here")],
                           stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=30)
        self.assertNotEqual(r.returncode, 0)
        self.assertTrue(re.search(r"not found: build first", r.stderr))


if __name__ == "__main__":
    unittest.main()
