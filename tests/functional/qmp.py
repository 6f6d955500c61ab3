"""A small QMP client (Python 3 standard library only).

QmpClient(path) connects to a QMP socket and reads the greeting;
negotiate() runs qmp_capabilities; cmd(name, **args) returns the whole
reply object (with "return" or "error"); events are queued apart and
wait_event(name) takes the next one of that name.  Every read has a
deadline, so a silent VMM fails the test instead of hanging it.
"""

import json
import selectors
import socket
import time

TIMEOUT = 30.0


class QmpError(Exception):
    pass


class QmpClient:
    def __init__(self, path, timeout=TIMEOUT):
        self.timeout = timeout
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.buf = b""
        self.events = []
        self.greeting = self.read_message()

    def close(self):
        self.sock.close()

    def send_raw(self, data):
        self.sock.sendall(data)

    def read_message(self):
        """The next message (reply or event) as a dict."""
        deadline = time.monotonic() + self.timeout
        with selectors.DefaultSelector() as sel:
            sel.register(self.sock, selectors.EVENT_READ)
            while b"\n" not in self.buf:
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    raise QmpError("no QMP message within %gs" % self.timeout)
                data = self.sock.recv(65536)
                if not data:
                    raise QmpError("QMP connection closed")
                self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        line.decode("ascii")            # QMP output is ASCII only
        return json.loads(line)

    def read_reply(self):
        while True:
            msg = self.read_message()
            if "event" in msg:
                self.events.append(msg)
            else:
                return msg

    def send(self, obj):
        self.send_raw(json.dumps(obj).encode() + b"\n")

    def cmd(self, name, args=None, **kw):
        req = {"execute": name}
        if args is not None:
            req["arguments"] = args
        req.update(kw)
        self.send(req)
        return self.read_reply()

    def ok(self, name, args=None):
        """The "return" value; QmpError on an error reply."""
        r = self.cmd(name, args)
        if "return" not in r:
            raise QmpError("%s: %r" % (name, r))
        return r["return"]

    def negotiate(self):
        return self.ok("qmp_capabilities")

    def wait_event(self, name):
        deadline = time.monotonic() + self.timeout
        while True:
            for i, ev in enumerate(self.events):
                if ev["event"] == name:
                    return self.events.pop(i)
            if time.monotonic() > deadline:
                raise QmpError("no %s event" % name)
            self.events.append(self.read_message())
