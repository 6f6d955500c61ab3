#!/usr/bin/env python3
"""The info commands of the human monitor, against real sample servers:
`info` alone, `info pci` read by a strict parser of QEMU's layout, `info
qtree`, `info mtree`, `info status`, `info version`; and device_add's
default id when dev<slot> is taken."""

import re
import unittest

from vfutest import VMM, VfuTestCase, driver, run

RAM = ["-m", "64M", "-object", "memory-backend-memfd,id=ram0,size=64M",
       "-machine", "memory-backend=ram0"]

# QEMU's hmp_info_pci() layout (hw/pci/pci-hmp-cmds.c at 06c1600b5571),
# one regular expression per kind of line.  Any other line is an error.
QEMU_PCI_LINES = [
    ("dev", r"  Bus +(?P<bus>\d+), device +(?P<slot>\d+), "
            r"function (?P<fn>\d+):"),
    ("class", r"    (?:Class (?P<num>\d{4})|(?P<desc>[^:]+)): PCI device "
              r"(?P<vendor>[0-9a-f]{4}):(?P<device>[0-9a-f]{4})"),
    ("subsys", r"      PCI subsystem (?P<vendor>[0-9a-f]{4}):"
               r"(?P<device>[0-9a-f]{4})"),
    ("irq", r"      IRQ (?P<irq>\d+), pin (?P<pin>[A-D])"),
    ("mem", r"      BAR(?P<bar>\d): (?P<bits>32|64) bit(?P<pf> prefetchable)?"
            r" memory at 0x(?P<lo>[0-9a-f]{8,}) \[0x(?P<hi>[0-9a-f]{8,})\]"),
    ("mem-off", r"      BAR(?P<bar>\d): (?P<bits>32|64) bit"
                r"(?P<pf> prefetchable)? memory \(not mapped\)"),
    ("io", r"      BAR(?P<bar>\d): I/O at 0x(?P<lo>[0-9a-f]{4,}) "
           r"\[0x(?P<hi>[0-9a-f]{4,})\]"),
    ("io-off", r"      BAR(?P<bar>\d): I/O \(not mapped\)"),
    ("id", r"      id \"(?P<id>[^\"]*)\""),
]


def parse_qemu_info_pci(text):
    """Devices of QEMU-layout `info pci` text; AssertionError if any line
    is not one of QEMU's or comes out of order."""
    devs = []
    for line in text.splitlines():
        for kind, rx in QEMU_PCI_LINES:
            m = re.fullmatch(rx, line)
            if m:
                break
        else:
            raise AssertionError("not QEMU's info pci layout: %r" % line)
        g = m.groupdict()
        if kind == "dev":
            devs.append({"slot": int(g["slot"]), "bus": int(g["bus"]),
                         "fn": int(g["fn"]), "bars": {}})
            continue
        if not devs or "id" in devs[-1]:
            raise AssertionError("%r outside a device" % line)
        d = devs[-1]
        if kind == "class":
            d["class"] = int(g["num"]) if g["num"] else g["desc"]
            d["ids"] = (int(g["vendor"], 16), int(g["device"], 16))
        elif kind == "subsys":
            d["subsys"] = (int(g["vendor"], 16), int(g["device"], 16))
        elif kind == "irq":
            d["irq"] = (int(g["irq"]), g["pin"])
        elif kind == "id":
            d["id"] = g["id"]
        else:
            bar = {"kind": kind.split("-")[0], "mapped": "-" not in kind}
            if g.get("bits"):
                bar["bits"], bar["prefetch"] = int(g["bits"]), bool(g["pf"])
            if bar["mapped"]:
                bar["addr"] = int(g["lo"], 16)
                bar["size"] = int(g["hi"], 16) - bar["addr"] + 1
            d["bars"][int(g["bar"])] = bar
    return {d["slot"]: d for d in devs}


MTREE_LINE = re.compile(r"(?P<ind> *)(?P<lo>[0-9a-f]{16})-(?P<hi>[0-9a-f]{16})"
                        r" \(prio (?P<prio>-?\d+), (?P<type>[a-z/]+)\): "
                        r"(?P<name>.*)")


def parse_qemu_mtree(text):
    """{"address-space: X" or "memory-region: X": [(depth, lo, hi, prio,
    type, name)]} of QEMU-layout `info mtree` text."""
    trees, cur = {}, None
    for line in text.splitlines():
        if not line:
            cur = None
            continue
        m = MTREE_LINE.fullmatch(line)
        if m:
            assert cur is not None, "region outside a tree: %r" % line
            assert len(m["ind"]) % 2 == 0 and m["ind"], line
            cur.append((len(m["ind"]) // 2, int(m["lo"], 16),
                        int(m["hi"], 16), int(m["prio"]), m["type"],
                        m["name"]))
            continue
        assert re.fullmatch(r"(address-space|memory-region): \S.*", line), line
        cur = trees.setdefault(line, [])
    return trees


def region(tree, name):
    found = [r for r in tree if r[5] == name]
    if len(found) != 1:
        raise AssertionError("%d regions named %r" % (len(found), name))
    return found[0]


class InfoCommands(VfuTestCase):

    def start_three(self, extra=()):
        """edu (32-bit BAR), ram (64-bit prefetchable), pio (I/O BAR)."""
        srvs = [self.start_server(dev) for dev in ("edu", "ram", "pio")]
        args = list(RAM)
        for srv, name in zip(srvs, ("edu0", "ram0dev", "pio0")):
            args += ["-device", "vfio-user-pci,socket=%s,id=%s"
                     % (srv.sock, name)]
        return srvs, self.start_vmm(args + list(extra))

    def test_info_lists_subcommands(self):
        _, vmm = self.start_three()
        out = vmm.monitor.cmd("info")
        names = []
        for line in out.splitlines():
            m = re.fullmatch(r"info (\S+) +-- \S.*", line)
            self.assertIsNotNone(m, line)
            names.append(m.group(1))
        for want in ("pci", "qtree", "mtree", "status", "version", "memory",
                     "vfio-user"):
            self.assertIn(want, names)
        for name in names:      # every one listed exists
            self.assertNotIn("unknown command",
                             vmm.monitor.cmd("info " + name))
        self.assertEqual(vmm.monitor.cmd("help info"), out)
        self.assertIn("unknown command: 'info frob'",
                      vmm.monitor.cmd("info frob"))
        self.assertEqual(vmm.quit(), 0)

    def test_info_pci_parses_as_qemu(self):
        _, vmm = self.start_three()
        q = vmm.qtest
        devs = parse_qemu_info_pci(vmm.monitor.cmd("info pci"))
        self.assertEqual(sorted(devs), [0, 1, 2, 3])
        host = devs[0]
        self.assertEqual((host["class"], host["ids"], host["id"]),
                         ("Host bridge", (0x1b36, 0x0008), ""))
        edu = devs[1]
        self.assertEqual((edu["bus"], edu["fn"], edu["id"]), (0, 0, "edu0"))
        self.assertEqual(edu["class"], 255)         # 0x00ff, no name
        self.assertEqual(edu["ids"], (0x1234, 0x11e8))
        self.assertEqual(edu["irq"], (17, "A"))
        self.assertEqual(edu["bars"][0], {
            "kind": "mem", "mapped": True, "bits": 32, "prefetch": False,
            "addr": driver.edu_bar0(q), "size": 1 << 20})
        ram_bar = devs[2]["bars"][0]
        self.assertEqual((ram_bar["bits"], ram_bar["prefetch"]), (64, True))
        cfg = driver.ECAM_BASE + (2 << 15)
        lo, hi = q.readl(cfg + 0x10), q.readl(cfg + 0x14)
        self.assertEqual(ram_bar["addr"], (hi << 32) | (lo & ~0xF))
        pio = devs[3]["bars"][0]
        self.assertEqual((pio["kind"], pio["size"]), ("io", 8))
        cfg3 = driver.ECAM_BASE + (3 << 15)
        self.assertEqual(pio["addr"], q.readl(cfg3 + 0x10) & ~0x3)
        # Decoding off: QEMU's "(not mapped)" forms.
        q.writel(cfg + 0x4, 0)
        q.writel(cfg3 + 0x4, 0)
        devs = parse_qemu_info_pci(vmm.monitor.cmd("info pci"))
        self.assertEqual(devs[2]["bars"][0],
                         {"kind": "mem", "mapped": False, "bits": 64,
                          "prefetch": True})
        self.assertEqual(devs[3]["bars"][0], {"kind": "io", "mapped": False})
        self.assertEqual(vmm.quit(), 0)

    def test_info_qtree(self):
        srvs, vmm = self.start_three()
        out = vmm.monitor.cmd("info qtree")
        lines = out.splitlines()
        self.assertEqual(lines[:5], [
            "bus: main-system-bus", "  type System",
            '  dev: pci-host, id ""', "    bus: pci.0", "      type PCI"])
        devs = {}
        for line in lines[5:]:
            m = re.fullmatch(r'      dev: (\S+), id "([^"]*)"', line)
            if m:
                cur = devs.setdefault(m.group(2) or m.group(1), [m.group(1)])
                continue
            self.assertRegex(line, r"^        \S")
            cur.append(line.strip())
        self.assertEqual(sorted(devs),
                         ["edu0", "pci-host-bridge", "pio0", "ram0dev"])
        edu = devs["edu0"]
        self.assertEqual(edu[0], "vfio-user-pci")
        self.assertIn('socket = "%s"' % srvs[0].sock, edu)
        self.assertIn('dma-access = "auto"', edu)
        self.assertIn("x-msg-timeout = 5000 (0x1388)", edu)
        self.assertIn("addr = 01.0", edu)
        self.assertIn("class Class 0255, addr 00:01.0, pci id 1234:11e8 "
                      "(sub 1af4:1100)", edu)
        bar = driver.edu_bar0(vmm.qtest)
        self.assertIn("bar 0: mem at 0x%x [0x%x]" % (bar, bar + (1 << 20) - 1),
                      edu)
        self.assertIn("addr = 00.0", devs["pci-host-bridge"])
        self.assertEqual(vmm.monitor.cmd("device_del pio0"), "")
        self.assertNotIn("pio0", vmm.monitor.cmd("info qtree"))
        self.assertEqual(vmm.quit(), 0)

    def test_info_mtree(self):
        _, vmm = self.start_three()
        q = vmm.qtest
        trees = parse_qemu_mtree(vmm.monitor.cmd("info mtree"))
        self.assertEqual(sorted(trees), ["address-space: I/O",
                                         "address-space: memory",
                                         "memory-region: ram0"])
        mem = trees["address-space: memory"]
        self.assertEqual(mem[0], (1, 0, 2**64 - 1, 0, "i/o", "system"))
        ram = [r for r in mem if r[5].startswith("alias ram-below-4g @ram0 ")]
        self.assertEqual([r[1:5] for r in ram],
                         [(0, (64 << 20) - 1, 0, "ram")])
        bar = driver.edu_bar0(q)
        self.assertEqual(region(mem, "edu0 BAR 0"),
                         (3, bar, bar + (1 << 20) - 1, 1, "i/o", "edu0 BAR 0"))
        self.assertEqual(region(mem, "pci-ecam")[1:3],
                         (driver.ECAM_BASE, driver.ECAM_BASE + (256 << 20) - 1))
        self.assertEqual(region(mem, "msi")[1:3], (0xfee00000, 0xfeefffff))
        io = trees["address-space: I/O"]
        port = q.readl(driver.ECAM_BASE + (3 << 15) + 0x10) & ~0x3
        self.assertEqual(region(io, "pio0 BAR 0")[1:3], (port, port + 7))
        self.assertEqual(region(io, "pci-conf-idx")[1:3], (0xcf8, 0xcfb))
        self.assertEqual(trees["memory-region: ram0"],
                         [(1, 0, (64 << 20) - 1, 0, "ram", "ram0")])
        # A BAR that stops decoding leaves the tree.
        q.writel(driver.ECAM_BASE + (1 << 15) + 0x4, 0)
        mem = parse_qemu_mtree(vmm.monitor.cmd("info mtree"))[
            "address-space: memory"]
        self.assertFalse([r for r in mem if r[5] == "edu0 BAR 0"])
        self.assertEqual(vmm.quit(), 0)

    def test_info_mtree_high_ram(self):
        srv = self.start_server("edu")
        vmm = self.start_vmm([
            "-m", "3G", "-object", "memory-backend-memfd,id=big,size=3G",
            "-machine", "memory-backend=big",
            "-device", "vfio-user-pci,socket=%s" % srv.sock])
        mem = parse_qemu_mtree(vmm.monitor.cmd("info mtree"))[
            "address-space: memory"]
        low, high = 0xb0000000, (3 << 30) - 0xb0000000
        self.assertIn((2, 0, low - 1, 0, "ram",
                       "alias ram-below-4g @big 0000000000000000-%016x"
                       % (low - 1)), mem)
        self.assertIn((2, 1 << 32, (1 << 32) + high - 1, 0, "ram",
                       "alias ram-above-4g @big %016x-%016x"
                       % (low, (3 << 30) - 1)), mem)
        self.assertEqual(vmm.quit(), 0)

    def test_info_status(self):
        srv = self.start_server("edu")
        dev = ["-device", "vfio-user-pci,socket=%s" % srv.sock]
        vmm = self.start_vmm(RAM + dev)
        self.assertEqual(vmm.monitor.cmd("info status"),
                         "VM status: running\n")
        self.assertEqual(vmm.quit(), 0)
        vmm = self.start_vmm(RAM + dev + ["-S"])
        self.assertEqual(vmm.monitor.cmd("info status"),
                         "VM status: paused (prelaunch)\n")
        self.assertEqual(vmm.quit(), 0)

    def test_info_version(self):
        _, vmm = self.start_three()
        version = run([VMM, "--version"]).stdout.split()[-1]
        self.assertRegex(version, r"^\d+\.\d+\.\d+$")
        self.assertEqual(vmm.monitor.cmd("info version"), version + "\n")
        self.assertEqual(vmm.quit(), 0)


class DefaultId(VfuTestCase):

    def test_device_add_picks_free_default_id(self):
        """The device in slot 2 would be "dev2", a name a user gave the
        device in slot 1: device_add finds another instead of failing."""
        edu, ram = self.start_server("edu"), self.start_server("ram")
        vmm = self.start_vmm(RAM + [
            "-device", "vfio-user-pci,socket=%s,id=dev2" % edu.sock])
        self.assertEqual(
            vmm.monitor.cmd("device_add vfio-user-pci,socket=%s" % ram.sock),
            "")
        devs = parse_qemu_info_pci(vmm.monitor.cmd("info pci"))
        self.assertEqual((devs[1]["id"], devs[2]["id"]), ("dev2", "dev2-1"))
        self.assertEqual(vmm.monitor.cmd("device_del dev2-1"), "")
        self.assertEqual(sorted(parse_qemu_info_pci(
            vmm.monitor.cmd("info pci"))), [0, 1])
        # An id= the user typed that is taken is still refused.
        self.assertIn("duplicate device id 'dev2'", vmm.monitor.cmd(
            "device_add vfio-user-pci,socket=%s,id=dev2" % ram.sock))
        self.assertEqual(vmm.quit(), 0)


    def test_default_id_avoids_later_id(self):
        """At start-up the device in slot 1 would be "dev1", the id a later
        -device asks for: the one without id= takes another name."""
        edu, ram = self.start_server("edu"), self.start_server("ram")
        vmm = self.start_vmm(RAM + [
            "-device", "vfio-user-pci,socket=%s" % edu.sock,
            "-device", "vfio-user-pci,socket=%s,id=dev1" % ram.sock])
        devs = parse_qemu_info_pci(vmm.monitor.cmd("info pci"))
        self.assertEqual((devs[1]["id"], devs[2]["id"]), ("dev1-1", "dev1"))
        self.assertEqual(vmm.quit(), 0)


if __name__ == "__main__":
    unittest.main()
