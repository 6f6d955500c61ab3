"""The backend program conventions of the vfio-user specification.

A management layer starts a device server with --socket-path=PATH, or
creates the UNIX socket itself and passes it with --fd=FDNUM, and finds the
program through its JSON description.  Each test does exactly that with
vfio-user-server and then speaks VERSION to it over the socket, as a client
would.
"""

import json
import os
import select
import signal
import socket
import struct
import subprocess
import time

from vfutest import BUILD_DIR, SERVER, TIMEOUT, VfuTestCase

HDR = struct.Struct("<HHIII")  # id, cmd, size, flags, error
VERSION = 1
F_REPLY = 1


def version_exchange(sock):
    """Send VERSION as a client would; the decoded reply capabilities."""
    body = struct.pack("<HH", 0, 1) + b'{"capabilities":{}}\0'
    sock.settimeout(TIMEOUT)
    sock.sendall(HDR.pack(0, VERSION, HDR.size + len(body), 0, 0) + body)
    hdr = b""
    while len(hdr) < HDR.size:
        chunk = sock.recv(HDR.size - len(hdr))
        if not chunk:
            raise AssertionError("server closed before the VERSION reply")
        hdr += chunk
    _, cmd, size, flags, _ = HDR.unpack(hdr)
    data = b""
    while len(data) < size - HDR.size:
        chunk = sock.recv(size - HDR.size - len(data))
        if not chunk:
            raise AssertionError("VERSION reply cut short")
        data += chunk
    if cmd != VERSION or flags & 0xf != F_REPLY or flags & 0x20:
        raise AssertionError("bad VERSION reply: cmd %d flags 0x%x"
                             % (cmd, flags))
    major, _ = struct.unpack("<HH", data[:4])
    if major != 0:
        raise AssertionError("VERSION reply major %d" % major)
    return json.loads(data[4:].rstrip(b"\0"))["capabilities"]


class BackendConventions(VfuTestCase):
    def spawn(self, args, pass_fds=()):
        proc = subprocess.Popen([SERVER, "--device", "ram"] + args,
                                stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, pass_fds=pass_fds)

        def stop():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            try:
                _, err = proc.communicate(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                _, err = proc.communicate()
            self.assert_sane("vfio-user-server", err.decode(errors="replace"))
        self.addCleanup(stop)
        return proc

    def ready_line(self, proc):
        """The first stdout line, within TIMEOUT (the program is ready)."""
        deadline = time.monotonic() + TIMEOUT
        line = b""
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([proc.stdout], [], [], left)[0]:
                self.fail("no ready line from vfio-user-server")
            c = os.read(proc.stdout.fileno(), 1)
            if not c:
                self.fail("vfio-user-server exited: %s"
                          % proc.stderr.read().decode(errors="replace"))
            line += c
        return line.decode()

    def test_socket_path(self):
        path = self.path("ram.sock")
        proc = self.spawn(["--socket-path=" + path])
        self.assertIn("listening on " + path, self.ready_line(proc))
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.connect(path)
            caps = version_exchange(s)
        self.assertIn("max_data_xfer_size", caps)
        # SIGTERM ends it cleanly (the convention asks to honour it).
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(TIMEOUT), 0)

    def test_fd_listening(self):
        """The parent binds and listens, the server accepts on the fd."""
        path = self.path("parent.sock")
        lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(lsock.close)
        lsock.bind(path)
        lsock.listen(1)
        fd = lsock.fileno()
        proc = self.spawn(["--fd=%d" % fd], pass_fds=(fd,))
        self.assertIn("listening on fd %d" % fd, self.ready_line(proc))
        for _ in range(2):  # clients one after another
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.connect(path)
                version_exchange(s)
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(TIMEOUT), 0)
        # The socket file belongs to the parent: not removed.
        self.assertTrue(os.path.exists(path))

    def test_fd_connected(self):
        """The parent passes one end of a socketpair: served, then exit."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(ours.close)
        fd = theirs.fileno()
        proc = self.spawn(["--fd=%d" % fd], pass_fds=(fd,))
        theirs.close()
        self.assertIn("serving on fd %d" % fd, self.ready_line(proc))
        version_exchange(ours)
        ours.close()
        self.assertEqual(proc.wait(TIMEOUT), 0)

    def test_fd_errors(self):
        path = self.path("x.sock")
        r = subprocess.run([SERVER, "--device", "ram", "--socket-path=" + path,
                            "--fd=3"], capture_output=True, text=True,
                           timeout=TIMEOUT)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("--fd cannot be used with --socket-path", r.stderr)
        rd, wr = os.pipe()
        self.addCleanup(os.close, rd)
        self.addCleanup(os.close, wr)
        r = subprocess.run([SERVER, "--device", "ram", "--fd=%d" % rd],
                           capture_output=True, text=True, timeout=TIMEOUT,
                           pass_fds=(rd,))
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("is not a UNIX stream socket", r.stderr)

    def test_json_description(self):
        path = os.path.join(BUILD_DIR, "contrib", "vfio-user-server",
                            "vfio-user-server.json")
        with open(path, encoding="utf-8") as f:
            desc = json.load(f)
        self.assertEqual(desc["type"], "pci")
        self.assertTrue(desc["binary"].endswith("/vfio-user-server"))
        self.assertIsInstance(desc["description"], str)
        self.assertEqual(sorted(desc["x-vfu-devices"]), ["edu", "ram"])
