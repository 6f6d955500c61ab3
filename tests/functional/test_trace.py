#!/usr/bin/env python3
"""Trace points of the catalog (trace-events), seen from the real
programs: -trace help lists every point, -trace enable=PATTERN and
G_MESSAGES_DEBUG put the matching points on stderr (never on stdout, so
-qtest stdio stays clean), -D and -trace events= work, and the sample
server's --trace and -v do the same for the server library's points."""

import os
import re
import subprocess
import unittest

from vfutest import SERVER, SOURCE_DIR, TIMEOUT, VMM, VfuTestCase, run

QTEST_READ_ID = "readl 0xb0008000\n"          # vendor/device of 01.0
EDU_ID = "OK 0x0000000011e81234"


def catalog():
    """{domain: [point names]} of trace-events."""
    out, dom = {}, None
    with open(os.path.join(SOURCE_DIR, "trace-events")) as f:
        for line in f:
            m = re.match(r'domain\s+(\S+)', line)
            if m:
                dom = m.group(1)
                out[dom] = []
            m = re.match(r'([a-z][a-z0-9_]*)\(', line)
            if m:
                out[dom].append(m.group(1))
    return out


def traced(text, name):
    """Whether the log text has a line of trace point NAME."""
    return re.search(r'-DEBUG: [0-9:.]+: %s ' % name, text) is not None


class Trace(VfuTestCase):

    def qtest_stdio(self, args, env=None):
        """The VMM on one edu server (started once per test)."""
        srv = getattr(self, "srv", None) or self.start_server("edu")
        self.srv = srv
        r = subprocess.run([VMM] + args + ["-qtest", "stdio", "-device",
                                           "vfio-user-pci,socket=%s"
                                           % srv.sock],
                           input=QTEST_READ_ID, capture_output=True,
                           text=True, timeout=TIMEOUT, env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), EDU_ID)   # only the reply
        self.assert_sane("vfio-user-vmm", r.stderr)
        return r

    def test_help_lists_the_catalog(self):
        cat = catalog()
        self.assertGreater(sum(len(p) for p in cat.values()), 50)
        for prog, opt in ((VMM, "-trace"), (SERVER, "--trace")):
            r = run([prog, opt, "help"])
            self.assertEqual(r.returncode, 0, r.stderr)
            for dom, points in cat.items():
                self.assertIn("\n" + dom + " ", r.stdout, prog)
                for p in points:
                    self.assertIn("\n  %s(" % p, r.stdout, prog)

    def test_enable_pattern_on_stderr_only(self):
        r = self.qtest_stdio(["-trace", "enable=proxy_*"])
        for p in ("proxy_negotiated", "proxy_send", "proxy_recv"):
            self.assertTrue(traced(r.stderr, p), p)
        self.assertIn("vfio-user-proxy-DEBUG", r.stderr)
        self.assertFalse(traced(r.stderr, "dma_map"))
        self.assertFalse(traced(r.stderr, "device_region"))

    def test_disable_and_domain_patterns(self):
        r = self.qtest_stdio(["-trace", "vfio_user_dev*",
                              "-trace", "-device_region"])
        self.assertFalse(traced(r.stderr, "device_region"))
        self.assertFalse(traced(r.stderr, "proxy_send"))
        r = self.qtest_stdio(["-trace", "vfio-user-device"])
        self.assertTrue(traced(r.stderr, "device_region"))

    def test_log_file_and_events_file(self):
        events, log = self.path("events"), self.path("vmm.log")
        with open(events, "w") as f:
            f.write("# DMA maps, not unmaps\ndma_*\n-dma_unmap\n")
        r = self.qtest_stdio(["-D", log, "-trace", "events=" + events])
        self.assertNotIn("DEBUG", r.stderr)
        with open(log) as f:
            text = f.read()
        self.assertTrue(traced(text, "dma_map"), text)
        self.assertFalse(traced(text, "dma_unmap"), text)

    def test_g_messages_debug(self):
        env = dict(os.environ, G_MESSAGES_DEBUG="vfio-user-pci "
                   "vfio-user-device")
        r = self.qtest_stdio([], env=env)
        self.assertTrue(traced(r.stderr, "device_region"))
        self.assertFalse(traced(r.stderr, "proxy_send"))

    def test_sample_server_trace(self):
        srv = self.start_server("edu", ["--trace", "server_recv",
                                        "--trace", "enable=server_neg*"])
        r = subprocess.run([VMM, "-qtest", "stdio", "-device",
                            "vfio-user-pci,socket=%s" % srv.sock],
                           input=QTEST_READ_ID, capture_output=True,
                           text=True, timeout=TIMEOUT)
        self.assertEqual(r.stdout.strip(), EDU_ID)
        srv.stop()
        err = srv.err.text()
        self.assertTrue(traced(err, "server_negotiated"), err)
        self.assertTrue(traced(err, "server_recv"), err)
        self.assertFalse(traced(err, "server_connected"), err)
        self.assertNotIn("DEBUG", srv.out.text())   # the ready line only

    def test_sample_server_verbose_and_errors(self):
        log = self.path("server.log")
        srv = self.start_server("edu", ["-v", "--trace", "file=" + log])
        run([VMM, "-qtest", "stdio", "-device",
             "vfio-user-pci,socket=%s" % srv.sock])
        srv.stop()
        with open(log) as f:
            text = f.read()
        self.assertTrue(traced(text, "server_connected"), text)
        self.assertNotIn("DEBUG", srv.err.text())
        r = run([SERVER, "--device", "edu", "--socket", self.path("x.sock"),
                 "--trace", "bogus=1"])
        self.assertEqual(r.returncode, 1)
        self.assertIn("--trace: unknown option 'bogus=1'", r.stderr)
        r = run([VMM, "-trace", "no_such_point", "-version"])
        self.assertIn("-trace no_such_point: matches no trace point or "
                      "domain", r.stderr)


if __name__ == "__main__":
    unittest.main()
