"""Shared pieces of the functional tests (Python 3 standard library only).

The tests start the real programs as a user would.  meson passes where
they are through the environment: VFU_VMM, VFU_SERVER, VFU_BUILD_DIR and
VFU_SOURCE_DIR.  The qtest/monitor client is scripts/demo-driver.py,
loaded here as a module so that the demo and the tests share it.
"""

import importlib.util
import os
import shutil
import subprocess
import tempfile
import unittest

SOURCE_DIR = os.environ.get(
    "VFU_SOURCE_DIR",
    os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))))
BUILD_DIR = os.environ.get("VFU_BUILD_DIR", os.path.join(SOURCE_DIR,
                                                         "build"))
VMM = os.environ.get("VFU_VMM",
                     os.path.join(BUILD_DIR, "system", "vfio-user-vmm"))
SERVER = os.environ.get("VFU_SERVER",
                        os.path.join(BUILD_DIR, "contrib", "vfio-user-server",
                                     "vfio-user-server"))
TIMEOUT = float(os.environ.get("VFU_TIMEOUT", "30"))
# What sanitizers and GLib print when something went badly wrong.
REPORTS = ("runtime error:", "AddressSanitizer", "LeakSanitizer",
           "CRITICAL **", "ERROR **")


def _load_driver():
    path = os.path.join(SOURCE_DIR, "scripts", "demo-driver.py")
    spec = importlib.util.spec_from_file_location("demo_driver", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


driver = _load_driver()


def run(args, **kw):
    """Run a program to completion; CompletedProcess with text output."""
    return subprocess.run(args, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=TIMEOUT,
                          **kw)


class VfuTestCase(unittest.TestCase):
    """A test with a scratch directory and programs that must exist."""

    def setUp(self):
        for prog in (VMM, SERVER):
            if not os.access(prog, os.X_OK):
                self.fail("%s is not built" % prog)
        self.dir = tempfile.mkdtemp(prefix="vfu-func-")
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.dir, name)

    def assert_sane(self, name, stderr_text):
        """No sanitizer or GLib error report in a child's stderr."""
        for marker in REPORTS:
            self.assertNotIn(marker, stderr_text,
                             "%s reported a problem" % name)

    def start_server(self, device="edu", extra=()):
        srv = driver.Server(SERVER, device, self.path(device + ".sock"),
                            extra)

        def stop():
            srv.stop()
            self.assert_sane("vfio-user-server", srv.err.text())
        self.addCleanup(stop)
        return srv

    def start_vmm(self, args):
        vmm = driver.Vmm(VMM, args, self.dir)

        def stop():
            vmm.kill()
            self.assert_sane("vfio-user-vmm", vmm.err.text())
        self.addCleanup(stop)
        return vmm
