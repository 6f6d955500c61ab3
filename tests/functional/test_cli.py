#!/usr/bin/env python3
"""The command lines of vfio-user-vmm and vfio-user-server as a user meets
them: help texts, and errors that name what was wrong."""

import os
import re
import unittest

from vfutest import SERVER, SOURCE_DIR, VMM, VfuTestCase, run

MAN_PAGE = os.path.join(SOURCE_DIR, "docs", "man", "vfio-user-vmm.rst")
# QEMU's spellings accepted with nothing to do (system/options-char.c).
NO_OPS = ["-nographic", "-nodefaults", "-no-user-config", "-no-shutdown",
          "-no-reboot", "-no-hpet", "-enable-fips", "-accel qtest",
          "-display none", "-audio none", "-net none", "-nic none",
          "-vga none", "-serial none", "-parallel none",
          "-machine accel=qtest", "-M vfio-user-vmm", "-name x", "-S",
          "-run-with exit-with-parent=on"]


class VmmCommandLine(VfuTestCase):

    def test_help(self):
        r = run([VMM, "-help"])
        self.assertEqual(r.returncode, 0, r.stderr)
        for opt in ("-m", "-object", "-machine", "-device", "-qtest",
                    "-monitor", "vfio-user-pci", "memory-backend"):
            self.assertIn(opt, r.stdout)

    def test_man_page_lists_every_option(self):
        with open(MAN_PAGE) as f:
            man = set(re.findall(r"``(-[A-Za-z][A-Za-z-]*)", f.read()))
        r = run([VMM, "-help"])
        usage = r.stdout.split("\n\n")[1]    # the option list
        listed = set(re.findall(r"(?:^|[ ,|])(-[A-Za-z][A-Za-z-]*)", usage,
                                re.M))
        self.assertGreater(len(listed), 20)
        self.assertEqual(sorted(listed - man), [])
        for spelling in NO_OPS:
            self.assertIn(spelling.split()[0], man)
            self.assertIn(spelling.split()[0], listed)
            r = run([VMM] + spelling.split() + ["-version"])
            self.assertEqual(r.returncode, 0, spelling + ": " + r.stderr)

    def test_device_help(self):
        r = run([VMM, "-device", "vfio-user-pci,help"])
        self.assertEqual(r.returncode, 0, r.stderr)
        for prop in ("socket", "dma-access", "x-msg-timeout",
                     "x-no-posted-writes", "x-pci-vendor-id"):
            self.assertIn(prop, r.stdout)
        for mode in ("auto", "mmap", "file-io", "message"):
            self.assertIn(mode, r.stdout)

    def test_unknown_option(self):
        r = run([VMM, "-frobnicate"])
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("-frobnicate", r.stderr)

    def test_unknown_device_property(self):
        r = run([VMM, "-device",
                 "vfio-user-pci,socket=%s,colour=blue" % self.path("x")])
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("colour", r.stderr)

    def test_bad_dma_access(self):
        r = run([VMM, "-device",
                 "vfio-user-pci,socket=%s,dma-access=telepathy"
                 % self.path("x")])
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("telepathy", r.stderr)

    def test_missing_socket_property(self):
        r = run([VMM, "-device", "vfio-user-pci,id=edu0"])
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("socket", r.stderr)

    def test_no_server_listening(self):
        sock = self.path("nobody-home.sock")
        r = run([VMM, "-device", "vfio-user-pci,socket=%s,id=edu0" % sock])
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(sock, r.stderr)

    def test_bad_memory_size(self):
        r = run([VMM, "-object", "memory-backend-memfd,id=ram0,size=lots"])
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("size", r.stderr)


class ServerCommandLine(VfuTestCase):

    def test_help(self):
        r = run([SERVER, "--help"])
        self.assertEqual(r.returncode, 0, r.stderr)
        for word in ("--device", "--socket", "--legacy-dma-map", "--once",
                     "edu", "ram"):
            self.assertIn(word, r.stdout)

    def test_unknown_device(self):
        r = run([SERVER, "--device", "toaster", "--socket",
                 self.path("s.sock")])
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("toaster", r.stderr)

    def test_ready_line(self):
        srv = self.start_server("edu")
        self.assertIn("vfio-user-server: listening on %s (device edu)"
                      % srv.sock, srv.out.text())
        self.assertEqual(srv.stop(), 0)


if __name__ == "__main__":
    unittest.main()
