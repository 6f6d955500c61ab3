#!/usr/bin/env python3
"""The human monitor of vfio-user-vmm, with a real edu server: what
`info pci` and `info vfio-user` say, xp, device_del, quit, and a monitor on
stdio as someone at a terminal would use it."""

import os
import re
import subprocess
import unittest

from vfutest import TIMEOUT, VMM, VfuTestCase, driver

RAM = ["-m", "64M", "-object", "memory-backend-memfd,id=ram0,size=64M",
       "-machine", "memory-backend=ram0"]


class Monitor(VfuTestCase):

    def start_edu(self, backend_args=RAM, access="auto"):
        srv = self.start_server("edu")
        vmm = self.start_vmm(backend_args + [
            "-device", "vfio-user-pci,socket=%s,id=edu0,dma-access=%s"
            % (srv.sock, access)])
        return srv, vmm

    def test_info_pci(self):
        _, vmm = self.start_edu()
        out = vmm.monitor.cmd("info pci")
        self.assertIn("Host bridge: PCI device 1b36:0008", out)
        self.assertIn("Class 0255: PCI device 1234:11e8", out)    # edu
        self.assertIn('id "edu0"', out)
        m = re.search(r"device +1, function 0:.*?BAR0: 32 bit memory "
                      r"at (0x[0-9a-f]+) \[(0x[0-9a-f]+)\]", out, re.S)
        self.assertIsNotNone(m, out)
        # the BAR the monitor shows is the one the guest sees
        bar = driver.edu_bar0(vmm.qtest)
        self.assertEqual(int(m.group(1), 16), bar)
        self.assertEqual(int(m.group(2), 16), bar + 0xfffff)
        self.assertRegex(out, r"IRQ 17, pin A")
        self.assertEqual(vmm.quit(), 0)

    def test_info_vfio_user(self):
        srv, vmm = self.start_edu()
        out = vmm.monitor.cmd("info vfio-user")
        self.assertIn("edu0: vfio-user-pci at 00:01.0, socket %s, "
                      "state connected" % srv.sock, out)
        self.assertIn("dma-access auto", out)
        self.assertEqual(driver.map_mode(out), "mmap")
        self.assertRegex(out, r"ram0: iova 0x0 size 0x4000000 mode mmap")
        self.assertEqual(vmm.quit(), 0)

    def test_message_mode_counters(self):
        ram = ["-m", "64M", "-object", "memory-backend-ram,id=ram0,size=64M",
               "-machine", "memory-backend=ram0"]
        _, vmm = self.start_edu(ram)
        q = vmm.qtest
        self.assertEqual(driver.map_mode(vmm.monitor.cmd("info vfio-user")),
                         "message")
        bar = driver.edu_bar0(q)
        q.memwrite(0x10000, bytes(range(256)) * 16)
        driver.edu_dma(q, bar, 0x10000, driver.EDU_BUF, 4096, False)
        driver.edu_dma(q, bar, driver.EDU_BUF, 0x20000, 4096, True)
        self.assertEqual(q.memread(0x20000, 4096), bytes(range(256)) * 16)
        out = vmm.monitor.cmd("info vfio-user")
        self.assertRegex(out, r"served read 4096 written 4096 bytes")
        self.assertEqual(vmm.quit(), 0)

    def test_interrupt_mode(self):
        _, vmm = self.start_edu()
        q = vmm.qtest
        bar = driver.edu_bar0(q)
        self.assertIn("interrupts INTx", vmm.monitor.cmd("info vfio-user"))
        # MSI capability of 00:01.0: address, data, then enable
        cfg = driver.ECAM_BASE + (1 << 15)
        cap = q.readl(cfg + 0x34) & 0xFC
        while cap and q.readl(cfg + cap) & 0xFF != 0x05:
            cap = (q.readl(cfg + cap) >> 8) & 0xFC
        self.assertNotEqual(cap, 0, "no MSI capability")
        ctrl = q.readl(cfg + cap) >> 16
        q.writel(cfg + cap + 4, 0xFEE00000)
        data_off = 0xC if ctrl & 0x80 else 0x8
        if ctrl & 0x80:
            q.writel(cfg + cap + 8, 0)
        q.writel(cfg + cap + data_off, 0x31)
        q.writel(cfg + cap, (q.readl(cfg + cap) & 0xFFFF) |
                 ((ctrl | 1) << 16))
        self.assertIn("interrupts MSI", vmm.monitor.cmd("info vfio-user"))
        q.writel(bar + 0x60, 1)                 # edu: raise interrupt
        self.assertEqual(q.msi_wait(int(TIMEOUT * 1000)), (0xFEE00000, 0x31))
        self.assertEqual(q.irqs, [])            # not INTx as well
        q.writel(bar + 0x64, 1)
        self.assertEqual(vmm.quit(), 0)

    def test_xp(self):
        _, vmm = self.start_edu()
        vmm.qtest.writel(0x1000, 0xdeadbeef)
        vmm.qtest.writel(0x1004, 0x0badf00d)
        out = vmm.monitor.cmd("xp /2xw 0x1000")
        self.assertIn("0xdeadbeef", out)
        self.assertIn("0x0badf00d", out)
        self.assertEqual(vmm.quit(), 0)

    def test_device_del_and_next_client(self):
        srv, vmm = self.start_edu()
        self.assertEqual(vmm.monitor.cmd("device_del edu0").strip(), "")
        self.assertNotIn("edu0", vmm.monitor.cmd("info vfio-user"))
        pci = vmm.monitor.cmd("info pci")
        self.assertIn("Host bridge: PCI device 1b36:0008", pci)
        self.assertNotIn("PCI device 1234:11e8", pci)
        self.assertEqual(vmm.quit(), 0)
        # the server is still there for the next VMM
        self.assertIsNone(srv.proc.poll())
        vmm2 = self.start_vmm(RAM + ["-device", "vfio-user-pci,socket=%s,"
                                     "id=edu1" % srv.sock])
        driver.edu_bar0(vmm2.qtest)
        self.assertEqual(vmm2.quit(), 0)

    def test_pidfile_and_logfile(self):
        srv = self.start_server("edu", ["--legacy-dma-map"])
        pidfile, log = self.path("vmm.pid"), self.path("vmm.log")
        vmm = self.start_vmm(RAM + [
            "-device", "vfio-user-pci,socket=%s,id=edu0" % srv.sock,
            "-pidfile", pidfile, "-D", log])
        with open(pidfile) as f:
            self.assertEqual(int(f.read()), vmm.proc.pid)
        driver.edu_bar0(vmm.qtest)
        self.assertEqual(vmm.quit(), 0)
        self.assertFalse(os.path.exists(pidfile))
        # the fallback to legacy DMA_MAP is logged to the -D file only
        with open(log) as f:
            self.assertIn("legacy DMA_MAP", f.read())
        self.assertNotIn("legacy DMA_MAP", vmm.err.text())

    def test_unknown_command(self):
        _, vmm = self.start_edu()
        self.assertIn("vfio-user-vmm monitor", vmm.monitor.banner)
        self.assertIn("frob", vmm.monitor.cmd("frob"))
        self.assertIn("device_del", vmm.monitor.cmd("help"))
        self.assertEqual(vmm.quit(), 0)

    def test_stdio_monitor(self):
        srv = self.start_server("edu")
        proc = subprocess.run(
            [VMM] + RAM + ["-device", "vfio-user-pci,socket=%s,id=edu0"
                           % srv.sock, "-monitor", "stdio"],
            input="info pci\ninfo vfio-user\nquit\n", capture_output=True,
            text=True, timeout=TIMEOUT)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("(vfio-user) ", proc.stdout)
        self.assertIn("PCI device 1234:11e8", proc.stdout)
        self.assertIn("state connected", proc.stdout)


class QtestStdio(VfuTestCase):
    """qtest on stdin/stdout, as someone poking at the machine by hand."""

    def test_qtest_stdio(self):
        srv = self.start_server("edu")
        proc = subprocess.run(
            [VMM] + RAM + ["-device", "vfio-user-pci,socket=%s,id=edu0"
                           % srv.sock, "-qtest", "stdio", "-monitor", "none"],
            input="endianness\nreadl 0xb0000000\nreadl 0xb0008000\n"
                  "writeq 0x1000 0x1122334455667788\nreadq 0x1000\n"
                  "frobnicate\n",
            capture_output=True, text=True, timeout=TIMEOUT)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stdout.splitlines(), [
            "OK little",
            "OK 0x0000000000081b36",        # host bridge
            "OK 0x0000000011e81234",        # edu
            "OK",
            "OK 0x1122334455667788",
            "FAIL Unknown command 'frobnicate'",
        ])


if __name__ == "__main__":
    unittest.main()
