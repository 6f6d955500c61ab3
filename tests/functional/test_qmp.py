#!/usr/bin/env python3
"""QMP of vfio-user-vmm, driven as a management tool would: the greeting
and negotiation, every command, events, each malformed-input case (each
followed by a command that must still work), reconnecting, and both ways
to ask for it (-qmp and -chardev + -mon mode=control)."""

import json
import signal
import socket
import subprocess
import unittest

from qmp import QmpClient
from vfutest import SERVER, TIMEOUT, VMM, VfuTestCase, driver

RAM = ["-m", "64M", "-object", "memory-backend-memfd,id=ram0,size=64M",
       "-machine", "memory-backend=ram0"]


class Qmp(VfuTestCase):

    def start(self, devices=True, qmp_args=None, sock=None, connect=True):
        """The VMM (with edu0 unless not @devices); a negotiated client."""
        sock = sock or self.path("qmp.sock")
        if qmp_args is None:
            qmp_args = ["-qmp", "unix:%s,server=on,wait=off" % sock]
        args = RAM + qmp_args
        if devices:
            self.srv = self.start_server("edu")
            args += ["-device", "vfio-user-pci,socket=%s,id=edu0"
                     % self.srv.sock]
        self.vmm = self.start_vmm(args)
        return self.client(sock) if connect else None

    def client(self, sock, negotiate=True):
        c = QmpClient(sock, TIMEOUT)
        self.addCleanup(c.close)
        if negotiate:
            self.assertEqual(c.negotiate(), {})
        return c

    def assert_error(self, reply, cls, desc):
        self.assertNotIn("return", reply)
        self.assertEqual(reply["error"]["class"], cls, reply)
        self.assertEqual(reply["error"]["desc"], desc, reply)

    def assert_usable(self, c):
        self.assertEqual(c.ok("query-status")["status"], "running")

    def test_greeting_and_negotiation(self):
        self.start(devices=False, connect=False)
        c = self.client(self.path("qmp.sock"), negotiate=False)
        g = c.greeting["QMP"]
        self.assertEqual(g["capabilities"], [])
        self.assertEqual(set(g["version"]["qemu"]),
                         {"major", "minor", "micro"})
        self.assert_error(c.cmd("query-status"), "CommandNotFound",
                          "Expecting capabilities negotiation with "
                          "'qmp_capabilities'")
        self.assert_error(c.cmd("qmp_capabilities", {"enable": ["oob"]}),
                          "GenericError", "Capability 'oob' is not available")
        r = c.cmd("qmp_capabilities", id="neg-1")
        self.assertEqual(r, {"return": {}, "id": "neg-1"})
        self.assert_error(c.cmd("qmp_capabilities"), "CommandNotFound",
                          "Capabilities negotiation is already complete, "
                          "command ignored")
        self.assert_usable(c)

    def test_id_echoed(self):
        c = self.start(devices=False)
        for ident in (7, "x", {"a": [1, None]}):
            self.assertEqual(c.cmd("query-status", id=ident)["id"], ident)
        r = c.cmd("no-such-command", id=[1])
        self.assertEqual(r["id"], [1])
        self.assert_error(r, "CommandNotFound",
                          "The command no-such-command has not been found")

    def test_query_status_version_commands(self):
        c = self.start(devices=False)
        self.assertEqual(c.ok("query-status"),
                         {"running": True, "status": "running"})
        v = c.ok("query-version")
        self.assertEqual(v["qemu"], c.greeting["QMP"]["version"]["qemu"])
        self.assertIn("vfio-user-vmm", v["package"])
        names = {x["name"] for x in c.ok("query-commands")}
        self.assertEqual(names, {
            "qmp_capabilities", "query-commands", "query-status",
            "query-version", "query-pci", "query-vfio-user", "device_add",
            "device_del",
            "system_reset", "quit", "human-monitor-command"})

    def test_query_status_prelaunch(self):
        c = self.start(devices=False, qmp_args=[
            "-S", "-qmp", "unix:%s,server=on,wait=off"
            % self.path("qmp.sock")])
        self.assertEqual(c.ok("query-status"),
                         {"running": False, "status": "prelaunch"})

    def edu_info(self, c, qdev_id="edu0"):
        buses = c.ok("query-pci")
        self.assertEqual([b["bus"] for b in buses], [0])
        for d in buses[0]["devices"]:
            if d["qdev_id"] == qdev_id:
                return d
        return None

    def test_query_pci(self):
        c = self.start()
        host = self.edu_info(c, "host-bridge")
        self.assertEqual((host["slot"], host["id"]["vendor"]), (0, 0x1b36))
        d = self.edu_info(c)
        self.assertEqual((d["bus"], d["slot"], d["function"]), (0, 1, 0))
        self.assertEqual(d["id"]["vendor"], 0x1234)
        self.assertEqual(d["id"]["device"], 0x11e8)
        self.assertEqual(d["class_info"]["class"], 0x00ff)
        self.assertEqual(d["irq_pin"], 1)
        self.assertEqual(d["irq"], 17)
        bar0 = [r for r in d["regions"] if r["bar"] == 0][0]
        self.assertEqual(bar0["type"], "memory")
        self.assertEqual(bar0["size"], 0x100000)
        self.assertFalse(bar0["mem_type_64"])
        self.assertFalse(bar0["prefetch"])
        # the address QMP reports is the one the guest sees
        self.assertEqual(bar0["address"], driver.edu_bar0(self.vmm.qtest))

    def test_device_add_del(self):
        c = self.start()
        srv2 = driver.Server(SERVER, "edu", self.path("edu1.sock"))
        self.addCleanup(srv2.stop)
        # QEMU's documented form: socket as a SocketAddress object
        self.assertEqual(c.ok("device_add", {
            "driver": "vfio-user-pci", "id": "edu1", "addr": "0x5",
            "socket": {"type": "unix", "path": srv2.sock}}), {})
        d = self.edu_info(c, "edu1")
        self.assertEqual(d["slot"], 5)
        self.assertEqual(d["id"]["device"], 0x11e8)
        r = c.cmd("device_add", {"driver": "vfio-user-pci", "id": "edu1",
                                 "socket": {"type": "unix",
                                            "path": srv2.sock}})
        self.assertEqual(r["error"]["class"], "GenericError")
        self.assertIn("duplicate device id 'edu1'", r["error"]["desc"])
        self.assert_error(c.cmd("device_add", {"id": "x"}), "GenericError",
                          "Parameter 'driver' is missing")
        self.assertEqual(c.ok("device_del", {"id": "edu1"}), {})
        ev = c.wait_event("DEVICE_DELETED")
        self.assertEqual(ev["data"], {"device": "edu1",
                                      "path": "/machine/peripheral/edu1"})
        self.assertEqual(set(ev["timestamp"]), {"seconds", "microseconds"})
        self.assertIsNone(self.edu_info(c, "edu1"))
        self.assert_error(c.cmd("device_del", {"id": "edu1"}),
                          "DeviceNotFound", "Device 'edu1' not found")
        self.assertIsNotNone(self.edu_info(c))

    def vfio_user(self, c, ident="edu0"):
        return [d for d in c.ok("query-vfio-user") if d["id"] == ident][0]

    def test_query_vfio_user(self):
        c = self.start()
        d = self.vfio_user(c)
        self.assertEqual((d["slot"], d["socket"]), (1, self.srv.sock))
        self.assertEqual((d["state"], d["dma-access"]), ("connected", "auto"))
        self.assertEqual(d["caps"]["version"], {"major": 0, "minor": 1})
        self.assertGreater(d["caps"]["max-data-xfer-size"], 0)
        self.assertGreater(d["caps"]["max-msg-fds"], 0)
        [ram] = d["dma-maps"]
        self.assertEqual((ram["name"], ram["iova"], ram["size"]),
                         ("ram0", 0, 64 << 20))
        self.assertEqual(ram["access"], "mmap")     # memfd: fd passed
        self.assertTrue(ram["fd-sent"])
        self.assertGreater(d["counters"]["requests"], 0)
        self.assertEqual(d["errors"], 0)
        self.assertNotIn("last-error", d)

    def test_query_vfio_user_message_mode(self):
        ram = ["-m", "64M", "-object", "memory-backend-ram,id=ram0,size=64M",
               "-machine", "memory-backend=ram0"]
        srv = self.start_server("edu")
        self.vmm = self.start_vmm(ram + [
            "-qmp", "unix:%s,server=on,wait=off" % self.path("qmp.sock"),
            "-device", "vfio-user-pci,socket=%s,id=edu0" % srv.sock])
        c = self.client(self.path("qmp.sock"))
        q = self.vmm.qtest
        bar = driver.edu_bar0(q)
        q.memwrite(0x10000, bytes(range(256)) * 16)
        driver.edu_dma(q, bar, 0x10000, driver.EDU_BUF, 4096, False)
        [ram0] = self.vfio_user(c)["dma-maps"]
        self.assertEqual(ram0["access"], "message")
        self.assertFalse(ram0["fd-sent"])
        self.assertEqual(ram0["bytes-read"], 4096)
        self.assertGreaterEqual(
            self.vfio_user(c)["counters"]["server-requests"], 1)

    def test_server_failed_event(self):
        c = self.start()
        self.srv.proc.kill()
        ev = c.wait_event("VFIO_USER_SERVER_FAILED")
        self.assertEqual(ev["data"]["device"], "edu0")
        self.assertEqual(ev["data"]["socket"], self.srv.sock)
        self.assertIn("connection failed", ev["data"]["reason"])
        d = self.vfio_user(c)
        self.assertEqual(d["state"], "failed")
        self.assertGreaterEqual(d["errors"], 1)
        self.assertIn("connection failed", d["last-error"])
        self.assert_usable(c)

    def test_server_reconnected_event(self):
        srv = self.start_server("edu")
        sock = self.path("qmp.sock")
        self.vmm = self.start_vmm(RAM + [
            "-qmp", "unix:%s,server=on,wait=off" % sock,
            "-device", "vfio-user-pci,socket=%s,id=edu0,reconnect-ms=50"
            % srv.sock])
        c = self.client(sock)
        srv.proc.kill()
        c.wait_event("VFIO_USER_SERVER_FAILED")
        srv.proc.wait()
        srv2 = driver.Server(SERVER, "edu", srv.sock)
        self.addCleanup(srv2.stop)
        ev = c.wait_event("VFIO_USER_SERVER_RECONNECTED")
        self.assertEqual(ev["data"]["device"], "edu0")
        self.assertNotIn("VFIO_USER_SERVER_FAILED",
                         [e["event"] for e in c.events])   # once per outage
        self.assertEqual(self.vfio_user(c)["state"], "connected")

    def test_human_monitor_command(self):
        c = self.start()
        out = c.ok("human-monitor-command", {"command-line": "info pci"})
        self.assertIn("PCI device 1234:11e8", out)
        self.assertIn('id "edu0"', out)
        self.assert_error(
            c.cmd("human-monitor-command", {"command-line": "info pci",
                                            "cpu-index": 1}),
            "GenericError",
            "Parameter 'cpu-index' expects 0 (there is no other CPU)")

    def test_system_reset(self):
        c = self.start()
        q = self.vmm.qtest
        bar = driver.edu_bar0(q)
        q.writel(bar + 4, 0x12345678)           # edu's scratch register
        self.assertEqual(c.ok("system_reset"), {})
        self.assertEqual(c.events, [])          # RESET follows the reply
        ev = c.wait_event("RESET")
        self.assertEqual(ev["data"], {"guest": False,
                                      "reason": "host-qmp-system-reset"})
        self.assertEqual(driver.edu_bar0(q), bar)   # firmware ran again
        self.assert_usable(c)

    def hmp(self, c, line):
        return c.ok("human-monitor-command", {"command-line": line})

    def test_human_monitor_events(self):
        """The human monitor's device_del, system_reset and quit send the
        same events as the QMP commands, after the command's reply."""
        c = self.start()
        self.assertEqual(self.hmp(c, "device_del edu0"), "")
        ev = c.wait_event("DEVICE_DELETED")
        self.assertEqual(ev["data"], {"device": "edu0",
                                      "path": "/machine/peripheral/edu0"})
        self.assertEqual(self.hmp(c, "system_reset"), "")
        self.assertEqual(c.events, [])
        ev = c.wait_event("RESET")
        self.assertEqual(ev["data"], {"guest": False,
                                      "reason": "host-qmp-system-reset"})
        self.assertEqual(self.hmp(c, "quit"), "")
        ev = c.wait_event("SHUTDOWN")
        self.assertEqual(ev["data"], {"guest": False,
                                      "reason": "host-qmp-quit"})
        self.assertEqual(self.vmm.proc.wait(TIMEOUT), 0)

    def test_quit(self):
        c = self.start()
        self.assertEqual(c.ok("quit"), {})
        ev = c.wait_event("SHUTDOWN")
        self.assertEqual(ev["data"], {"guest": False,
                                      "reason": "host-qmp-quit"})
        self.assertEqual(self.vmm.proc.wait(TIMEOUT), 0)

    def test_quit_then_end_of_input(self):
        """-qmp stdio whose input ends right after quit: SHUTDOWN still
        follows the reply (the end of input used to close the session
        before the event went out)."""
        r = subprocess.run([VMM] + RAM + ["-qmp", "stdio"],
                           input='{"execute": "qmp_capabilities"}\n'
                                 '{"execute": "quit", "id": 7}\n',
                           capture_output=True, text=True, timeout=TIMEOUT)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = [json.loads(line) for line in r.stdout.splitlines()]
        self.assertEqual(out[2], {"return": {}, "id": 7})
        self.assertEqual(out[3]["event"], "SHUTDOWN")
        self.assertEqual(out[3]["data"], {"guest": False,
                                          "reason": "host-qmp-quit"})
        self.assertEqual(len(out), 4)

    def test_signal_shutdown(self):
        c = self.start(devices=False)
        self.vmm.proc.send_signal(signal.SIGTERM)
        ev = c.wait_event("SHUTDOWN")
        self.assertEqual(ev["data"], {"guest": False,
                                      "reason": "host-signal"})
        self.assertEqual(self.vmm.proc.wait(TIMEOUT), 0)

    def test_reconnect(self):
        c = self.start(devices=False)
        c.close()
        for _ in range(3):
            c = self.client(self.path("qmp.sock"), negotiate=False)
            # each client negotiates anew
            self.assertEqual(c.cmd("query-status")["error"]["class"],
                             "CommandNotFound")
            c.negotiate()
            self.assert_usable(c)
            c.close()

    def test_mon_control(self):
        sock = self.path("mon.sock")
        c = self.start(sock=sock, qmp_args=[
            "-chardev", "socket,id=qmp0,path=%s,server=on,wait=off" % sock,
            "-mon", "chardev=qmp0,mode=control"])
        self.assertIn("QMP", c.greeting)
        self.assertEqual(self.edu_info(c)["qdev_id"], "edu0")
        self.assertEqual(c.ok("quit"), {})
        self.assertEqual(self.vmm.proc.wait(TIMEOUT), 0)

    def test_mon_control_pretty(self):
        sock = self.path("mon.sock")
        self.start(devices=False, sock=sock, connect=False, qmp_args=[
            "-chardev", "socket,id=qmp0,path=%s,server=on,wait=off" % sock,
            "-mon", "chardev=qmp0,mode=control,pretty=on"])
        raw = socket.socket(socket.AF_UNIX)
        self.addCleanup(raw.close)
        raw.settimeout(TIMEOUT)
        raw.connect(sock)
        data = b""
        while not data.endswith(b"}\r\n"):
            data += raw.recv(4096)
        self.assertTrue(data.startswith(b'{\n    "QMP": {\n'), data)

    def test_malformed_input(self):
        c = self.start(devices=False)
        cases = [
            (b'{"execute": }\n', "JSON parse error, expecting value"),
            (b'[1, 2]\n', "QMP input must be a JSON object"),
            (b'"query-status"\n', "QMP input must be a JSON object"),
            (b'{"arguments": {}}\n', "QMP input lacks member 'execute'"),
            (b'{"execute": 1}\n',
             "QMP input member 'execute' must be a string"),
            (b'{"execute": "query-status", "arguments": []}\n',
             "QMP input member 'arguments' must be an object"),
            (b'{"execute": "query-status", "bogus": 1}\n',
             "QMP input member 'bogus' is unexpected"),
            (b'{"execute": "device_del", "arguments": {"id": 1}}\n',
             "Invalid parameter type for 'id', expected: string"),
            (b'{"execute": "device_del"}\n', "Parameter 'id' is missing"),
            (b'{"execute": "device_del", "arguments": {"id": "a", '
             b'"x": 1}}\n', "Parameter 'x' is unexpected"),
            (b'{"execute": "human-monitor-command", "arguments": '
             b'{"command-line": "help", "cpu-index": "0"}}\n',
             "Invalid parameter type for 'cpu-index', expected: integer"),
            (b'{"execute": "qmp_capabilities", "arguments": '
             b'{"enable": "oob"}}\n',
             "Capabilities negotiation is already complete, command "
             "ignored"),
        ]
        for data, desc in cases:
            with self.subTest(data=data):
                c.send_raw(data)
                r = c.read_reply()
                self.assertEqual(r["error"]["desc"], desc, r)
                self.assertIn(r["error"]["class"],
                              ("GenericError", "CommandNotFound"))
                self.assert_usable(c)

    def test_garbage_then_recovery(self):
        c = self.start(devices=False)
        # half a value, then a control character resets the reader
        c.send_raw(b'{"execute": "query-st\x01')
        r = c.read_reply()
        self.assertEqual(r["error"]["class"], "GenericError")
        self.assertTrue(r["error"]["desc"].startswith("JSON parse error, "))
        c.send_raw(b"\xff")
        self.assertTrue(c.read_reply()["error"]["desc"].startswith(
            "JSON parse error, "))
        self.assert_usable(c)
        c.send_raw(b'}\n')
        self.assertEqual(c.read_reply()["error"]["class"], "GenericError")
        self.assert_usable(c)

    def test_oversized_input(self):
        c = self.start(devices=False)
        c.send_raw(b'{"execute": "' + b"x" * (2 * 1024 * 1024) + b'"}\n')
        r = c.read_reply()
        self.assertEqual(r["error"]["class"], "GenericError")
        self.assertTrue(r["error"]["desc"].startswith("JSON parse error, "))
        self.assert_usable(c)


if __name__ == "__main__":
    unittest.main()
