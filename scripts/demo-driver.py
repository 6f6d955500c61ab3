#!/usr/bin/env python3
"""Drive vfio-user-vmm through qtest: one edu DMA demo row, or a library.

As a program (called by scripts/demo.sh for each row):

    demo-driver.py --vmm VMM --socket EDU_SOCKET --workdir DIR \\
                   --backend memfd|file|ram --dma-access MODE [--size BYTES]

starts the VMM with that guest RAM backend and one edu device on the
server's socket, moves SIZE bytes guest RAM -> device -> guest RAM with the
edu DMA engine (several rounds), checks every byte, asks the monitor which
access mode the map got, and prints one tab-separated line:

    backend  mode  bytes  MB/s  verified|FAILED:why

As a module (tests/functional loads it): Server, Vmm, Qtest, Monitor.
Python 3 standard library only.
"""

import argparse
import base64
import os
import re
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time

TIMEOUT = float(os.environ.get("VFU_TIMEOUT", "30"))
PROMPT = b"(vfio-user) "

ECAM_BASE = 0xB0000000
EDU_BUF = 0x40000
EDU_BUF_SIZE = 1 << 20


class DriverError(Exception):
    """Something the VMM or server did not do as expected."""


class _Drain(threading.Thread):
    """Collect a child's output so that it never blocks on a full pipe."""

    def __init__(self, stream, name, echo):
        super().__init__(daemon=True)
        self.stream, self.name, self.echo = stream, name, echo
        self.lines = []
        self.cond = threading.Condition()

    def run(self):
        for raw in iter(self.stream.readline, b""):
            line = raw.decode(errors="replace").rstrip("\n")
            if self.echo:
                print("[%s] %s" % (self.name, line), file=sys.stderr)
            with self.cond:
                self.lines.append(line)
                self.cond.notify_all()
        with self.cond:
            self.lines.append(None)     # EOF
            self.cond.notify_all()

    def wait_for(self, pattern, timeout=TIMEOUT):
        """Wait for a line containing pattern; None on EOF or timeout."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for line in self.lines:
                    if line is not None and pattern in line:
                        return line
                if None in self.lines:
                    return None
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)

    def wait_eof(self, timeout=TIMEOUT):
        """Wait until the child closed the stream; False on timeout."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while None not in self.lines:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(left)
            return True

    def close(self):
        """After the child exited: collect the rest, close the pipe."""
        self.join(TIMEOUT)
        self.stream.close()

    def text(self):
        with self.cond:
            return "\n".join(l for l in self.lines if l is not None)


class Server:
    """vfio-user-server --device DEVICE on SOCKET, ready when started."""

    def __init__(self, binary, device, sock, extra=(), echo=True):
        self.sock = sock
        self.proc = subprocess.Popen(
            [binary, "--device", device, "--socket", sock] + list(extra),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE)
        self.out = _Drain(self.proc.stdout, "server", echo)
        self.err = _Drain(self.proc.stderr, "server", echo)
        self.out.start()
        self.err.start()
        if not self.out.wait_for("listening on"):
            self.stop()
            raise DriverError("vfio-user-server did not become ready: "
                              + self.err.text())

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.out.close()
        self.err.close()
        return self.proc.returncode


def _listen(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.listen(1)
    s.settimeout(TIMEOUT)
    return s


class _Lines:
    """Line reader over a socket with a deadline on every read."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def send(self, text):
        self.sock.sendall(text.encode() + b"\n")

    def read_until(self, marker, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        while marker not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise DriverError("timed out waiting for %r (got %r)"
                                  % (marker, self.buf[-200:]))
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(1 << 20)
            except socket.timeout:
                continue
            if not chunk:
                raise DriverError("the VMM closed the connection")
            self.buf += chunk
        head, _, self.buf = self.buf.partition(marker)
        return head.decode(errors="replace")


class Qtest(_Lines):
    """The qtest protocol: a command line, then one OK/FAIL reply line."""

    def __init__(self, sock):
        super().__init__(sock)
        self.irqs = []      # ("raise"|"lower", n)

    def _async(self, line):
        m = re.match(r"IRQ (raise|lower) (\d+)$", line)
        if m:
            self.irqs.append((m.group(1), int(m.group(2))))
            return True
        return False

    def cmd(self, text, timeout=TIMEOUT):
        self.send(text)
        while True:
            line = self.read_until(b"\n", timeout)
            if not self._async(line):
                break
        if not line.startswith("OK"):
            raise DriverError("qtest '%s' -> '%s'" % (text[:60], line))
        return line[2:].strip()

    def msi_wait(self, ms):
        """(addr, data) of the next MSI, None if none came within ms."""
        r = self.cmd("msi_wait %d" % ms, ms / 1000 + TIMEOUT)
        if r == "none":
            return None
        addr, data = r.split()
        return int(addr, 0), int(data, 0)

    def readl(self, addr):
        return int(self.cmd("readl 0x%x" % addr), 0)

    def writel(self, addr, val):
        self.cmd("writel 0x%x 0x%x" % (addr, val))

    def writeq(self, addr, val):
        self.cmd("writeq 0x%x 0x%x" % (addr, val))

    def memwrite(self, addr, data):
        self.cmd("b64write 0x%x 0x%x %s" % (addr, len(data),
                                           base64.b64encode(data).decode()))

    def memread(self, addr, size):
        return base64.b64decode(self.cmd("b64read 0x%x 0x%x" % (addr, size)))

    def memset(self, addr, size, val):
        self.cmd("memset 0x%x 0x%x 0x%x" % (addr, size, val))


class Monitor(_Lines):
    """The human monitor: a command, its output up to the next prompt."""

    def __init__(self, sock):
        super().__init__(sock)
        self.banner = self.read_until(PROMPT)

    def cmd(self, text):
        self.send(text)
        out = self.read_until(PROMPT)
        if out.startswith(text + "\n"):     # an echoing monitor
            out = out[len(text) + 1:]
        return out


class Vmm:
    """vfio-user-vmm ARGS with qtest and monitor sockets in workdir."""

    def __init__(self, binary, args, workdir, echo=True):
        qpath = os.path.join(workdir, "qtest.sock")
        mpath = os.path.join(workdir, "monitor.sock")
        for p in (qpath, mpath):
            if os.path.exists(p):
                os.unlink(p)
        lq, lm = _listen(qpath), _listen(mpath)
        self.proc = subprocess.Popen(
            [binary] + list(args) + ["-qtest", "unix:" + qpath,
                                     "-monitor", "unix:" + mpath],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE)
        self.out = _Drain(self.proc.stdout, "vmm", echo)
        self.err = _Drain(self.proc.stderr, "vmm", echo)
        self.out.start()
        self.err.start()
        try:
            self.qtest = Qtest(self._accept(lq))
            self.monitor = Monitor(self._accept(lm))
            self.qtest.cmd("irq_intercept_in ioapic")
        except BaseException:
            self.kill()
            raise
        finally:
            lq.close()
            lm.close()

    def _accept(self, lsock):
        sel = selectors.DefaultSelector()
        sel.register(lsock, selectors.EVENT_READ)
        deadline = time.monotonic() + TIMEOUT
        try:
            while time.monotonic() < deadline:
                if sel.select(0.1):
                    conn, _ = lsock.accept()
                    return conn
                if self.proc.poll() is not None:
                    self.err.wait_eof(TIMEOUT)    # its last words
                    raise DriverError("vfio-user-vmm exited (%d): %s" % (
                        self.proc.returncode, self.err.text()))
        finally:
            sel.close()
        raise DriverError("vfio-user-vmm did not connect")

    def quit(self):
        """quit over the monitor; returns the exit status."""
        try:
            self.monitor.send("quit")
        except OSError:
            pass
        try:
            self.proc.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._close()
        return self.proc.returncode

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self._close()

    def _close(self):
        for name in ("qtest", "monitor"):
            if hasattr(self, name):
                getattr(self, name).sock.close()
        self.out.close()
        self.err.close()


def edu_bar0(q, slot=1):
    """Address firmware gave BAR0 of the edu in slot (checks identity)."""
    cfg = ECAM_BASE + (slot << 15)
    if q.readl(cfg) != 0x11E81234:
        raise DriverError("no edu at 00:%02x.0" % slot)
    bar = q.readl(cfg + 0x10) & ~0xF
    if q.readl(bar) != 0x010000ED:
        raise DriverError("edu identification register is wrong")
    return bar


def edu_dma(q, bar, src, dst, count, to_ram):
    """Run one edu DMA; seconds the command took."""
    q.writeq(bar + 0x80, src)
    q.writeq(bar + 0x88, dst)
    q.writeq(bar + 0x90, count)
    t0 = time.perf_counter()
    q.writel(bar + 0x98, 0x3 if to_ram else 0x1)
    cmd = q.readl(bar + 0x98)
    took = time.perf_counter() - t0
    if cmd & 1 or cmd & 0x80000000:
        raise DriverError("edu DMA failed (command register 0x%x)" % cmd)
    return took


def map_mode(info, name="ram0"):
    """Access mode of DMA map name in `info vfio-user` output."""
    m = re.search(r"^\s*%s: iova .* mode (\S+)(.*)$" % re.escape(name),
                  info, re.M)
    if not m:
        raise DriverError("no map %s in info vfio-user:\n%s" % (name, info))
    return m.group(1) + (" /proc/self/mem" if "/proc/self/mem" in m.group(2)
                         else "")


def backend_args(backend, workdir, size_mb):
    obj = {
        "memfd": "memory-backend-memfd,id=ram0,size=%dM" % size_mb,
        "ram": "memory-backend-ram,id=ram0,size=%dM" % size_mb,
        "file": "memory-backend-file,id=ram0,size=%dM,mem-path=%s,"
                "offset=2M,share=on" % (size_mb, os.path.join(workdir,
                                                             "guest-ram")),
    }[backend]
    return ["-m", "%dM" % size_mb, "-object", obj,
            "-machine", "memory-backend=ram0"]


def demo_row(args):
    """One row: (mode, bytes moved, MB/s); raises DriverError."""
    vmm = Vmm(args.vmm, backend_args(args.backend, args.workdir, 64) +
              ["-device", "vfio-user-pci,socket=%s,id=edu0,dma-access=%s"
               % (args.socket, args.dma_access)], args.workdir,
              echo=args.verbose)
    try:
        q = vmm.qtest
        bar = edu_bar0(q)
        mode = map_mode(vmm.monitor.cmd("info vfio-user"))
        src, dst, size = 0x100000, 0x800000, args.size
        total, took = 0, 0.0
        for rnd in range(args.rounds):
            data = os.urandom(size)
            q.memwrite(src, data)
            q.memset(dst, size, rnd & 0xFF)
            took += edu_dma(q, bar, src, EDU_BUF, size, False)
            took += edu_dma(q, bar, EDU_BUF, dst, size, True)
            total += 2 * size
            if q.memread(dst, size) != data:
                raise DriverError("data mismatch after round %d" % rnd)
        status = vmm.quit()
        if status != 0:
            raise DriverError("vfio-user-vmm exited with %d" % status)
        return mode, total, total / took / 1e6
    finally:
        vmm.kill()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vmm", required=True)
    ap.add_argument("--socket", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--backend", choices=("memfd", "file", "ram"),
                    required=True)
    ap.add_argument("--dma-access", default="auto")
    ap.add_argument("--expect", help="access mode the map must get")
    ap.add_argument("--size", type=int, default=EDU_BUF_SIZE)
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    if not 0 < args.size <= EDU_BUF_SIZE:
        ap.error("--size must be 1..%d" % EDU_BUF_SIZE)
    try:
        mode, total, mbps = demo_row(args)
        verdict = "verified"
        if args.expect and mode != args.expect:
            verdict = "FAILED:expected %s" % args.expect
    except (DriverError, OSError) as e:
        print("demo-driver: %s/%s: %s" % (args.backend, args.dma_access, e),
              file=sys.stderr)
        mode, total, mbps, verdict = "-", 0, 0.0, "FAILED"
    print("%s\t%s\t%d\t%.1f\t%s" % (args.backend, mode, total, mbps,
                                    verdict))
    return 0 if verdict == "verified" else 1


if __name__ == "__main__":
    sys.exit(main())
