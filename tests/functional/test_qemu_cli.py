#!/usr/bin/env python3
"""QEMU's spellings of the command line, as a QEMU user or QEMU's libqtest
would type them: the JSON -device form with a SocketAddress, libqtest's
launch options, -trace and debug output kept off stdout, -pidfile locking,
-numa, share=on, the hugetlbfs path check and error prefixes as typed.
Each of these failed on main 91edc6a (issue 15)."""

import json
import os
import socket
import subprocess
import unittest

from vfutest import TIMEOUT, VMM, VfuTestCase, run

QTEST_READ_ID = "readl 0xb0008000\n"          # vendor/device of 01.0
EDU_ID = "OK 0x0000000011e81234"


class QemuCli(VfuTestCase):

    def vmm_stdio(self, args, stdin, env=None, **kw):
        """Run the VMM with stdin as input, to completion."""
        return subprocess.run([VMM] + args, input=stdin, capture_output=True,
                              text=True, timeout=TIMEOUT, env=env, **kw)

    def monitor(self, args, cmds, **kw):
        r = self.vmm_stdio(args + ["-monitor", "stdio"], cmds + "quit\n",
                           **kw)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r

    def test_device_json_socket_address(self):
        srv = self.start_server("edu")
        dev = json.dumps({"driver": "vfio-user-pci", "id": "edu0",
                          "socket": {"type": "unix", "path": srv.sock}})
        r = self.monitor(["-device", dev], "info vfio-user\n")
        self.assertIn("edu0: vfio-user-pci at 00:01.0, socket %s, state "
                      "connected" % srv.sock, r.stdout)

    def test_device_dotted_socket_and_addr(self):
        srv = self.start_server("edu")
        r = self.monitor(["-device", "vfio-user-pci,socket.type=unix,"
                          "socket.path=%s,id=e,addr=0x5" % srv.sock],
                         "info vfio-user\n")
        self.assertIn("e: vfio-user-pci at 00:05.0", r.stdout)

    def test_device_socket_fd(self):
        srv = self.start_server("edu")
        s = socket.socket(socket.AF_UNIX)
        self.addCleanup(s.close)
        s.connect(srv.sock)
        dev = json.dumps({"driver": "vfio-user-pci", "id": "edu0",
                          "socket": {"type": "fd", "str": str(s.fileno())}})
        r = self.monitor(["-device", dev], "info vfio-user\n",
                         pass_fds=[s.fileno()])
        self.assertIn("socket fd:%d, state connected" % s.fileno(), r.stdout)

    def test_device_json_errors(self):
        for dev, msg in [
                ('{"driver": "vfio-user-pci", "socket": ', "JSON parse error"),
                ('{"driver": "foo"}', "foo: unknown device type"),
                ('{"socket": "/x"}', "'driver' is missing"),
                ('{"driver": "vfio-user-pci", "socket": [1]}',
                 "socket: expected a string"),
                ('{"driver": "vfio-user-pci", "socket": {"type": "inet"}}',
                 "only unix and fd are supported"),
                ('{"driver": "vfio-user-pci", "socket": {"type": "unix"}}',
                 "needs path"),
                ('{"driver": "vfio-user-pci", "socket": {"type": "fd", '
                 '"str": "x"}}', "needs str=N"),
                ("vfio-user-pci,socket=/x,addr=0x20", "addr: expected a slot"),
                ("vfio-user-pci,socket=/x,addr=3.1", "only function 0")]:
            r = run([VMM, "-device", dev])
            self.assertEqual(r.returncode, 1, dev)
            self.assertIn(msg, r.stderr, dev)

    def test_libqtest_launch_options(self):
        srv = self.start_server("edu")
        log = self.path("qtest.log")
        # QEMU's libqtest line, with stdio in place of its sockets
        r = self.vmm_stdio(["-qtest", "stdio", "-qtest-log", log,
                            "-display", "none", "-audio", "none",
                            "-run-with", "exit-with-parent=on",
                            "-nodefaults", "-nographic", "-S",
                            "-name", "guest=t1", "-net", "none",
                            "-machine", "accel=qtest", "-accel", "qtest",
                            "-device", "vfio-user-pci,socket=%s" % srv.sock],
                           QTEST_READ_ID)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), EDU_ID)
        with open(log) as f:
            text = f.read()
        self.assertRegex(text, r"\[R \+[0-9.]+\] readl 0xb0008000")
        self.assertRegex(text, r"\[S \+[0-9.]+\] " + EDU_ID)
        r = run([VMM, "-accel", "kvm"])
        self.assertEqual(r.returncode, 1)
        self.assertIn("only -accel qtest", r.stderr)
        r = run([VMM, "-display", "gtk"])
        self.assertIn("only -display none", r.stderr)

    def listener(self, name):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(s.close)
        s.bind(self.path(name))
        s.listen(1)
        s.settimeout(TIMEOUT)
        return s

    def test_libqtest_sockets(self):
        """QEMU's libqtest exactly: it listens on a qtest and a QMP socket
        and the VMM connects to both as a client; it negotiates QMP, asks
        for the endianness, drives qtest, then stops the VMM with SIGTERM."""
        srv = self.start_server("edu")
        qtest_l = self.listener("qtest.sock")
        qmp_l = self.listener("qtest.qmp")
        proc = subprocess.Popen(
            [VMM, "-qtest", "unix:" + self.path("qtest.sock"),
             "-qtest-log", "/dev/null",
             "-chardev", "socket,path=%s,id=char0" % self.path("qtest.qmp"),
             "-mon", "chardev=char0,mode=control", "-display", "none",
             "-audio", "none", "-run-with", "exit-with-parent=on", "-S",
             "-m", "64M", "-device", "vfio-user-pci,socket=%s" % srv.sock,
             "-accel", "qtest"], stderr=subprocess.PIPE, text=True)
        self.addCleanup(proc.kill)
        qtest, _ = qtest_l.accept()
        qmp, _ = qmp_l.accept()
        with qtest, qmp, qtest.makefile("rw") as qt, \
                qmp.makefile("rw") as qm:
            self.assertIn("QMP", json.loads(qm.readline()))
            qm.write('{"execute": "qmp_capabilities"}\n')
            qm.flush()
            self.assertEqual(json.loads(qm.readline()), {"return": {}})
            qt.write("endianness\n")
            qt.flush()
            self.assertEqual(qt.readline().strip(), "OK little")
            qt.write(QTEST_READ_ID)
            qt.flush()
            self.assertEqual(qt.readline().strip(), EDU_ID)
            proc.terminate()
            self.assertEqual(proc.wait(TIMEOUT), 0)
        self.assert_sane("vmm", proc.stderr.read())

    def test_chardev_mon_readline(self):
        r = self.vmm_stdio(["-chardev", "stdio,id=c0",
                            "-mon", "chardev=c0,mode=readline"],
                           "info memory\nquit\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("backend ram (memory-backend-ram)", r.stdout)
        r = run([VMM, "-mon", "chardev=nope"])
        self.assertIn("no -chardev with that id", r.stderr)

    def test_debug_output_not_on_stdout(self):
        srv = self.start_server("edu")
        env = dict(os.environ, G_MESSAGES_DEBUG="all")
        r = self.vmm_stdio(["-qtest", "stdio", "-device",
                            "vfio-user-pci,socket=%s" % srv.sock],
                           QTEST_READ_ID, env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), EDU_ID)   # only the reply
        self.assertIn("vfio-user-proxy-DEBUG", r.stderr)
        # Nor into a monitor on stdio.
        r = self.monitor(["-device", "vfio-user-pci,socket=%s" % srv.sock],
                         "info status\n", env=env)
        self.assertEqual(r.stdout.splitlines()[1:],
                         ["(vfio-user) VM status: running",
                          "(vfio-user) (vfio-user) "])
        self.assertIn("vfio-user-proxy-DEBUG", r.stderr)

    def test_trace(self):
        srv = self.start_server("edu")
        r = self.vmm_stdio(["-qtest", "stdio", "-trace", "enable=vfio_user_pr*",
                            "-device", "vfio-user-pci,socket=%s" % srv.sock],
                           QTEST_READ_ID)
        self.assertEqual(r.stdout.strip(), EDU_ID)
        self.assertIn("vfio-user-proxy-DEBUG", r.stderr)
        self.assertNotIn("vfio-user-dma-DEBUG", r.stderr)
        log = self.path("trace.log")
        r = self.vmm_stdio(["-qtest", "stdio", "-trace",
                            "vfio-user-dma,file=%s" % log, "-device",
                            "vfio-user-pci,socket=%s" % srv.sock],
                           QTEST_READ_ID)
        self.assertNotIn("DEBUG", r.stderr)
        with open(log) as f:
            self.assertIn("vfio-user-dma-DEBUG", f.read())
        r = run([VMM, "-trace", "help"])
        self.assertEqual(r.returncode, 0)
        for d in ("vfio-user-proxy", "vfio-user-dma", "vfio-user-device",
                  "vfio-user-vmm"):
            self.assertIn(d, r.stdout)
        r = run([VMM, "-trace", "nomatch", "-version"])
        self.assertIn("matches no trace point or domain", r.stderr)

    def test_log_file_gets_startup_errors(self):
        log = self.path("vmm.log")
        r = run([VMM, "-D", log, "-device", "vfio-user-pci,socket=%s"
                 % self.path("nobody.sock")])
        self.assertEqual(r.returncode, 1)
        with open(log) as f:
            self.assertIn("cannot connect: ", f.read())

    def test_error_prefix_as_typed(self):
        arg = "vfio-user-pci,socket=%s" % self.path("nobody.sock")
        r = run([VMM, "-device", arg])
        self.assertEqual(r.returncode, 1)
        self.assertIn("-device %s: " % arg, r.stderr)
        self.assertNotIn("id=dev1", r.stderr)
        # The option that named the backend or the machine, as typed.
        for args, prefix in [
                (["-numa", "node,memdev=zz"], "-numa node,memdev=zz: "),
                (["-machine", "memory-backend=zz"],
                 "-machine memory-backend=zz: "),
                (["-M", "memory-backend=zz"], "-M memory-backend=zz: "),
                (["-m", "32M", "-object", "memory-backend-memfd,id=b,"
                  "size=64M", "-numa", "node,memdev=b"],
                 "-numa node,memdev=b: backend size"),
                (["-M", "q35"], "-M: unknown machine type 'q35'"),
                (["-machine", "pc,accel=kvm"],
                 "-machine: unknown machine type 'pc'")]:
            r = run([VMM] + args)
            self.assertEqual(r.returncode, 1, args)
            self.assertIn("vfio-user-vmm: " + prefix, r.stderr, args)

    def test_pidfile_locked(self):
        pidfile = self.path("vmm.pid")
        vmm = self.start_vmm(["-pidfile", pidfile])
        with open(pidfile) as f:
            self.assertEqual(int(f.read()), vmm.proc.pid)
        r = run([VMM, "-pidfile", pidfile])
        self.assertEqual(r.returncode, 1)
        self.assertIn("cannot lock it", r.stderr)
        with open(pidfile) as f:
            self.assertEqual(int(f.read()), vmm.proc.pid)   # untouched
        self.assertEqual(vmm.quit(), 0)
        self.assertFalse(os.path.exists(pidfile))

    def test_numa_memdev_and_shared_ram(self):
        srv = self.start_server("edu")
        r = self.monitor(["-object", "memory-backend-ram,id=m,size=64M,"
                          "share=on", "-numa", "node,memdev=m", "-device",
                          "vfio-user-pci,socket=%s" % srv.sock],
                         "info memory\ninfo vfio-user\n")
        self.assertIn("backend m (memory-backend-ram)", r.stdout)
        # share=on anonymous RAM is a memfd: the server maps it
        self.assertIn("m: iova 0x0 size 0x4000000 mode mmap", r.stdout)
        r = self.monitor(["-object", "memory-backend-ram,id=m,size=64M"], "")
        self.assertIn("memory backend not used as guest RAM", r.stderr)

    def test_numa_and_machine_backend_conflict(self):
        """One NUMA node: two different RAM backends are refused, in
        either order, and the same one twice is fine."""
        objs = ["-object", "memory-backend-ram,id=a,size=64M",
                "-object", "memory-backend-ram,id=b,size=64M"]
        for order, msg in (
                (["-numa", "node,memdev=a", "-machine", "memory-backend=b"],
                 "-machine memory-backend=b: the machine has one NUMA node "
                 "and its RAM is already 'a' (-numa node,memdev)"),
                (["-machine", "memory-backend=a", "-numa", "node,memdev=b"],
                 "-numa node,memdev=b: the machine has one NUMA node and "
                 "its RAM is already 'a'")):
            r = run([VMM, "-m", "64M"] + objs + order + ["-version"])
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn(msg, r.stderr)
        r = run([VMM, "-m", "64M", "-object",
                 "memory-backend-ram,id=a,size=64M", "-numa", "node,memdev=a",
                 "-machine", "memory-backend=a", "-version"])
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_hugetlbfs_path_checked(self):
        path = self.path("hugepages")           # not mounted: absent
        r = run([VMM, "-m", "64M", "-object", "memory-backend-file,id=m,"
                 "size=64M,mem-path=%s,share=on" % path,
                 "-machine", "memory-backend=m", "-monitor", "none"])
        self.assertEqual(r.returncode, 1)
        self.assertIn("does not exist (is hugetlbfs mounted there?)",
                      r.stderr)
        self.assertFalse(os.path.exists(path))


if __name__ == "__main__":
    unittest.main()
