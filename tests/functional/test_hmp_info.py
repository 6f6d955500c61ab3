#!/usr/bin/env python3
"""The info commands of the human monitor, against real sample servers:
`info pci` read by a strict parser of QEMU's layout."""

import re
import unittest

from vfutest import VfuTestCase, driver

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


class InfoCommands(VfuTestCase):

    def start_three(self, extra=()):
        """edu (32-bit BAR), ram (64-bit prefetchable), pio (I/O BAR)."""
        srvs = [self.start_server(dev) for dev in ("edu", "ram", "pio")]
        args = list(RAM)
        for srv, name in zip(srvs, ("edu0", "ram0dev", "pio0")):
            args += ["-device", "vfio-user-pci,socket=%s,id=%s"
                     % (srv.sock, name)]
        return srvs, self.start_vmm(args + list(extra))

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


if __name__ == "__main__":
    unittest.main()
