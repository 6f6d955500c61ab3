#!/usr/bin/env python3
"""vmm-scale: one vfio-user-vmm with N edu devices, measured from outside.

    vmm-scale.py [--devices N (1..31, default 31)] [--build DIR] [--dma-access MODE[,MODE...]]
                 [--rounds K] [--repeat R] [--quick] [--json]
    vmm-scale.py --smoke [options]   (run the above with --json, check it)

Starts N sample servers (vfio-user-server --device edu), all at once, and
waits for each one's ready line.  Then, for each access mode asked for,
starts one vfio-user-vmm with 1 GiB of memfd guest RAM and N vfio-user-pci
devices, and measures:

  start-up   from starting the VMM until its qtest connection is up, and
             until every device answers with 1234:11e8 in config space
             (slot S at ECAM 0xb0000000 + (S << 15)) and edu's
             identification register in BAR0;
  footprint  the VMM's VmRSS, file descriptors and threads after start-up
             (and VmRSS again after the DMA runs, guest RAM then touched);
  DMA        K rounds of 1 MiB guest RAM -> edu buffer -> guest RAM, first
             on one device, then on all N devices at once (each device its
             own source and destination in guest RAM), R times each; every
             destination is checked byte for byte afterwards.

How "at once" works: BAR writes are posted (the client does not wait for
a reply), so the script sends the register writes of every round of every
device in one pipelined burst of qtest lines (round-robin over devices) and
only then reads each device's command register.  Each server runs its DMA
while the VMM goes on with the next device's writes; the read of a device's
command register returns once that server has worked through the writes
before it (a server handles a connection's messages in order), and its
start bit then reads 0.  Whether the transfers really overlapped is judged
from CPU time: the servers' (and, for message DMA, the VMM's receive
threads') CPU seconds during the run divided by its wall time is how many
of them were busy at the same time on average.

Python 3 standard library only; the qtest/monitor client is
scripts/demo-driver.py.  Every child process and the temporary directory
are removed on exit, also on an error or a signal.
"""

import argparse
import importlib.util
import json
import os
import selectors
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

SOURCE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TIMEOUT = float(os.environ.get("VFU_TIMEOUT", "60"))
MIB = 1 << 20
GUEST_RAM = "1G"
EDU_ID = 0x11E81234           # device id << 16 | vendor id
EDU_IDENT = 0x010000ED        # BAR0 register 0x00
EDU_SRC, EDU_DST, EDU_COUNT, EDU_CMD = 0x80, 0x88, 0x90, 0x98
CMD_START, CMD_TO_RAM, CMD_ERROR = 0x1, 0x2, 0x80000000
XFER = MIB                    # bytes per DMA command (edu's buffer)
GUEST_BASE = 0x1000000        # device i: src at base + 2 MiB * i, dst +1 MiB
PIPELINE = 512                # qtest lines in flight at most
MAX_DEVICES = 31              # PCI bus 0 without the host bridge in slot 0


def load_driver():
    sys.dont_write_bytecode = True      # no __pycache__ in the source tree
    path = os.path.join(SOURCE_DIR, "scripts", "demo-driver.py")
    spec = importlib.util.spec_from_file_location("demo_driver", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


driver = load_driver()
Error = driver.DriverError


class Qtest(driver.Qtest):
    """demo-driver's qtest client plus pipelined batches of commands."""

    def batch(self, cmds, timeout=TIMEOUT):
        """Send cmds, PIPELINE lines at a time; their OK values in order."""
        out = []
        for i in range(0, len(cmds), PIPELINE):
            chunk = cmds[i:i + PIPELINE]
            self.sock.sendall(("\n".join(chunk) + "\n").encode())
            for text in chunk:
                line = self.read_until(b"\n", timeout)
                while self._async(line):
                    line = self.read_until(b"\n", timeout)
                if not line.startswith("OK"):
                    raise Error("qtest '%s' -> '%s'" % (text[:60], line))
                out.append(line[2:].strip())
        return out


class Child:
    """A started program whose output is collected by two threads."""

    def __init__(self, argv, name):
        self.name = name
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.out = driver._Drain(self.proc.stdout, name, False)
        self.err = driver._Drain(self.proc.stderr, name, False)
        self.out.start()
        self.err.start()

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.out.close()
        self.err.close()

    def cpu_seconds(self):
        """CPU seconds of the main thread, and of all other threads."""
        main = other = 0.0
        pid = self.proc.pid
        for tid in os.listdir("/proc/%d/task" % pid):
            t = task_cpu("/proc/%d/task/%s" % (pid, tid))
            if int(tid) == pid:
                main += t
            else:
                other += t
        return main, other


def task_cpu(task):
    """CPU seconds a thread ran: the scheduler's nanosecond count where
    the kernel shows it, else utime + stime in clock ticks."""
    try:
        with open(task + "/sched") as f:
            for line in f:
                if line.startswith("se.sum_exec_runtime"):
                    return float(line.split(":")[1]) / 1e3
        with open(task + "/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except FileNotFoundError:       # a thread that just ended
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_status(pid):
    """VmRSS, RssAnon, RssShmem (KiB), Threads and fd count of pid."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, val = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssFile", "RssShmem"):
                out[key.lower() + "_kib"] = int(val.split()[0])
            elif key == "Threads":
                out["threads"] = int(val)
    out["fds"] = len(os.listdir("/proc/%d/fd" % pid))
    return out


def start_servers(binary, workdir, n):
    """n edu servers started together; (servers, seconds until all ready)."""
    t0 = time.perf_counter()
    servers = []
    try:
        for i in range(n):
            sock = os.path.join(workdir, "ed%d.sock" % i)
            servers.append(Child([binary, "--device", "edu", "--socket",
                                  sock], "server%d" % i))
            servers[-1].sock = sock
        for s in servers:
            if not s.out.wait_for("listening on", TIMEOUT):
                raise Error("%s did not become ready: %s"
                            % (s.name, s.err.text()))
    except BaseException:
        for s in servers:
            s.stop()
        raise
    return servers, time.perf_counter() - t0


def accept(lsock, child):
    """The VMM's connection to lsock; fails when the VMM exits first."""
    sel = selectors.DefaultSelector()
    sel.register(lsock, selectors.EVENT_READ)
    deadline = time.monotonic() + TIMEOUT
    try:
        while time.monotonic() < deadline:
            if sel.select(0.1):
                return lsock.accept()[0]
            if child.proc.poll() is not None:
                child.err.wait_eof(TIMEOUT)
                raise Error("vfio-user-vmm exited (%d): %s"
                            % (child.proc.returncode, child.err.text()))
    finally:
        sel.close()
    raise Error("vfio-user-vmm did not connect to qtest within %gs" % TIMEOUT)


def connect_monitor(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(TIMEOUT)
    s.connect(path)
    return driver.Monitor(s)


def vmm_argv(binary, servers, mode, qpath, mpath):
    argv = [binary, "-m", GUEST_RAM, "-object",
            "memory-backend-memfd,id=ram0,size=" + GUEST_RAM,
            "-machine", "memory-backend=ram0"]
    for i, s in enumerate(servers):
        argv += ["-device", "vfio-user-pci,socket=%s,id=edu%d,dma-access=%s,"
                 "x-msg-timeout=60000" % (s.sock, i, mode)]
    return argv + ["-qtest", "unix:" + qpath,
                   "-monitor", "unix:%s,server,nowait" % mpath]


class Vmm:
    """One started VMM: its qtest and monitor, and the devices' BAR0s."""

    def __init__(self, binary, servers, mode, workdir):
        qpath = os.path.join(workdir, "qtest.sock")
        mpath = os.path.join(workdir, "monitor.sock")
        for p in (qpath, mpath):
            if os.path.exists(p):
                os.unlink(p)
        lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        lsock.bind(qpath)
        lsock.listen(1)
        self.qtest = self.monitor = None
        t0 = time.perf_counter()
        self.child = Child(vmm_argv(binary, servers, mode, qpath, mpath),
                           "vmm")
        try:
            self.qtest = Qtest(accept(lsock, self.child))
            self.t_qtest = time.perf_counter() - t0
            self.bars = self.enumerate(len(servers))
            self.t_enum = time.perf_counter() - t0
            self.monitor = connect_monitor(mpath)
        except BaseException:
            self.close()
            raise
        finally:
            lsock.close()

    def enumerate(self, n):
        """Check every slot holds an edu; the BAR0 addresses."""
        cfg = [driver.ECAM_BASE + ((i + 1) << 15) for i in range(n)]
        ids = self.qtest.batch(["readl 0x%x" % a for a in cfg])
        for i, v in enumerate(ids):
            if int(v, 0) != EDU_ID:
                raise Error("slot %d: id 0x%x, not an edu" % (i + 1,
                                                              int(v, 0)))
        bars = [int(v, 0) & ~0xF for v in
                self.qtest.batch(["readl 0x%x" % (a + 0x10) for a in cfg])]
        for i, v in enumerate(self.qtest.batch(["readl 0x%x" % b
                                                for b in bars])):
            if int(v, 0) != EDU_IDENT:
                raise Error("edu%d: identification 0x%x" % (i, int(v, 0)))
        return bars

    def quit(self):
        """quit over the monitor; the exit status (killed if it hangs)."""
        if self.monitor:
            try:
                self.monitor.send("quit")
            except OSError:
                pass
        try:
            self.child.proc.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            pass
        self.close()
        return self.child.proc.returncode

    def close(self):
        self.child.stop(signal.SIGKILL)
        for ch in (self.qtest, self.monitor):
            if ch:
                ch.sock.close()


def src_of(i):
    return GUEST_BASE + 2 * XFER * i


def round_cmds(bar, i):
    """One round on device i: RAM -> edu buffer, then back to its dst."""
    w = "writeq 0x%x 0x%x"
    return [w % (bar + EDU_SRC, src_of(i)),
            w % (bar + EDU_DST, driver.EDU_BUF),
            w % (bar + EDU_COUNT, XFER),
            "writel 0x%x 0x%x" % (bar + EDU_CMD, CMD_START),
            w % (bar + EDU_SRC, driver.EDU_BUF),
            w % (bar + EDU_DST, src_of(i) + XFER),
            "writel 0x%x 0x%x" % (bar + EDU_CMD, CMD_START | CMD_TO_RAM)]


def wait_idle(q, bars, devs):
    """Read each device's command register until its start bit clears."""
    pending = list(devs)
    deadline = time.monotonic() + TIMEOUT
    while pending:
        vals = q.batch(["readl 0x%x" % (bars[i] + EDU_CMD) for i in pending])
        for i, v in zip(pending, vals):
            if int(v, 0) & CMD_ERROR:
                raise Error("edu%d: DMA failed (command 0x%x)" % (i,
                                                                  int(v, 0)))
        pending = [i for i, v in zip(pending, vals) if int(v, 0) & CMD_START]
        if pending and time.monotonic() > deadline:
            raise Error("DMA of edu%s did not finish" % pending)


def dma_run(vmm, servers, devs, rounds):
    """rounds on every device of devs at once; a result dict."""
    q, bars = vmm.qtest, vmm.bars
    cmds = [c for _ in range(rounds) for i in devs
            for c in round_cmds(bars[i], i)]
    srv0 = sum(sum(servers[i].cpu_seconds()) for i in devs)
    main0, rx0 = vmm.child.cpu_seconds()
    t0 = time.perf_counter()
    q.batch(cmds)
    t_issue = time.perf_counter() - t0
    wait_idle(q, bars, devs)
    wall = time.perf_counter() - t0
    srv = sum(sum(servers[i].cpu_seconds()) for i in devs) - srv0
    main, rx = vmm.child.cpu_seconds()
    main, rx = main - main0, rx - rx0
    moved = 2 * XFER * rounds * len(devs)
    return {"bytes": moved, "seconds": wall, "issue_seconds": t_issue,
            "mib_per_s": moved / MIB / wall,
            "servers_busy": srv / wall, "vmm_rx_busy": rx / wall,
            "vmm_main_busy": main / wall}


def fill(q, devs, data):
    for i in devs:
        q.memwrite(src_of(i), data[i])
        q.memset(src_of(i) + XFER, XFER, 0)


def check(q, devs, data, what):
    for i in devs:
        if q.memread(src_of(i) + XFER, XFER) != data[i]:
            raise Error("%s: edu%d: destination differs from source"
                        % (what, i))


def median_run(runs):
    """The run with the median throughput, plus best and spread."""
    runs = sorted(runs, key=lambda r: r["mib_per_s"])
    mid = dict(runs[(len(runs) - 1) // 2])
    mid["best_mib_per_s"] = runs[-1]["mib_per_s"]
    mid["worst_mib_per_s"] = runs[0]["mib_per_s"]
    mid["runs"] = len(runs)
    return mid


def map_modes(info):
    """Access mode of every device's ram0 map, counted."""
    modes = {}
    for line in info.splitlines():
        words = line.split()
        if words[:2] == ["ram0:", "iova"] and "mode" in words:
            m = words[words.index("mode") + 1]
            modes[m] = modes.get(m, 0) + 1
    return modes


def measure_dma(vmm, servers, data, args):
    q, n = vmm.qtest, len(servers)
    every = list(range(n))
    fill(q, every, data)
    dma_run(vmm, servers, every, 1)     # warm-up: fault guest RAM in
    check(q, every, data, "warm-up")
    fill(q, every, data)
    one, all_ = [], []
    for _ in range(args.repeat):
        one.append(dma_run(vmm, servers, [0], args.rounds))
        check(q, [0], data, "one device")
        fill(q, every, data)
        all_.append(dma_run(vmm, servers, every, args.rounds))
        check(q, every, data, "all devices")
        fill(q, every, data)
    one, all_ = median_run(one), median_run(all_)
    speedup = all_["mib_per_s"] / one["mib_per_s"]
    return {"one": one, "all": all_, "speedup": speedup,
            "overlap_evidence": overlap_evidence(n, all_, speedup)}


def overlap_evidence(n, res, speedup):
    """Why we know transfers of different devices ran at the same time.

    Each server is one process and each device has one receive thread in
    the VMM, so more than one CPU-second per second of servers (or of
    receive threads) means two devices' DMA ran at once at least part of
    the time; so does more data per second than one device moves alone.
    """
    why = []
    if n > 1 and res["servers_busy"] > 1.05:
        why.append("servers")
    if n > 1 and res["vmm_rx_busy"] > 1.05:
        why.append("receive threads")
    if n > 1 and speedup > 1.1:
        why.append("throughput")
    return why


def finish(vmm):
    status = vmm.quit()
    if status != 0:
        raise Error("vfio-user-vmm exited with %s: %s"
                    % (status, vmm.child.err.text()))


def startup_figures(vmm):
    return {"startup_qtest_s": vmm.t_qtest,
            "startup_enumerated_s": vmm.t_enum,
            "after_startup": proc_status(vmm.child.proc.pid)}


def run_mode(args, servers, mode, workdir, data):
    """A VMM with one device (the baseline), then one with all of them."""
    vmm = Vmm(args.vmm, servers[:1], mode, workdir)
    try:
        base = startup_figures(vmm)
        finish(vmm)
    finally:
        vmm.close()
    vmm = Vmm(args.vmm, servers, mode, workdir)
    try:
        res = {"dma_access": mode, "baseline_one_device": base}
        res.update(startup_figures(vmm))
        res["map_modes"] = map_modes(vmm.monitor.cmd("info vfio-user"))
        res.update(measure_dma(vmm, servers, data, args))
        res["after_dma"] = proc_status(vmm.child.proc.pid)
        finish(vmm)
    finally:
        vmm.close()
    n = len(servers)
    if n > 1:
        res["per_extra_device"] = {
            k: (res["after_startup"][k] - base["after_startup"][k]) / (n - 1)
            for k in ("vmrss_kib", "fds", "threads")}
    return res


def row(label, fmt, results, get):
    cells = [fmt % get(r) for r in results]
    return "%-40s" % label + "".join("%22s" % c for c in cells)


def print_table(doc):
    rs = doc["modes"]
    print("vmm-scale: %d edu devices in one vfio-user-vmm, %d CPUs, "
          "%d x 1 MiB there and back per device, median of %d"
          % (doc["devices"], doc["cpus"], doc["rounds"], doc["repeat"]))
    print("servers: %d started together, all ready after %.3f s"
          % (doc["devices"], doc["servers_ready_s"]))
    print("load average: %.2f at the start, %.2f at the end (other work "
          "on the machine skews every figure)" % tuple(doc["load_average"]))
    lines = [
        ("dma-access", "%s", lambda r: r["dma_access"]),
        ("map mode(s) of ram0", "%s", lambda r: ",".join(
            "%s*%d" % kv for kv in sorted(r["map_modes"].items()))),
        ("start-up: qtest connected (ms)", "%.1f",
         lambda r: r["startup_qtest_s"] * 1e3),
        ("start-up: all enumerated (ms)", "%.1f",
         lambda r: r["startup_enumerated_s"] * 1e3),
        ("VmRSS after start-up (KiB)", "%d",
         lambda r: r["after_startup"]["vmrss_kib"]),
        ("  of it anonymous (KiB)", "%d",
         lambda r: r["after_startup"]["rssanon_kib"]),
        ("fds after start-up", "%d", lambda r: r["after_startup"]["fds"]),
        ("threads after start-up", "%d",
         lambda r: r["after_startup"]["threads"]),
        ("1-device VMM: start-up (ms)", "%.1f",
         lambda r: r["baseline_one_device"]["startup_enumerated_s"] * 1e3),
        ("1-device VMM: VmRSS (KiB)", "%d",
         lambda r: r["baseline_one_device"]["after_startup"]["vmrss_kib"]),
        ("1-device VMM: fds / threads", "%s", lambda r: "%d / %d" % (
            r["baseline_one_device"]["after_startup"]["fds"],
            r["baseline_one_device"]["after_startup"]["threads"])),
        ("each further device: RSS (KiB)", "%.0f",
         lambda r: r.get("per_extra_device", {}).get("vmrss_kib", 0)),
        ("each further device: fds, threads", "%s",
         lambda r: "%.2f, %.2f" % (
             r.get("per_extra_device", {}).get("fds", 0),
             r.get("per_extra_device", {}).get("threads", 0))),
        ("VmRSS after DMA (KiB)", "%d",
         lambda r: r["after_dma"]["vmrss_kib"]),
        ("  of it shared guest RAM (KiB)", "%d",
         lambda r: r["after_dma"]["rssshmem_kib"]),
        ("one device (MiB/s)", "%.0f", lambda r: r["one"]["mib_per_s"]),
        ("  servers / receive threads busy", "%s", lambda r: "%.2f / %.2f"
         % (r["one"]["servers_busy"], r["one"]["vmm_rx_busy"])),
        ("  range over runs (MiB/s)", "%s", lambda r: "%.0f-%.0f" % (
            r["one"]["worst_mib_per_s"], r["one"]["best_mib_per_s"])),
        ("all devices at once (MiB/s)", "%.0f",
         lambda r: r["all"]["mib_per_s"]),
        ("  range over runs (MiB/s)", "%s", lambda r: "%.0f-%.0f" % (
            r["all"]["worst_mib_per_s"], r["all"]["best_mib_per_s"])),
        ("  aggregate / one device", "%.2f", lambda r: r["speedup"]),
        ("  wall time (ms)", "%.1f", lambda r: r["all"]["seconds"] * 1e3),
        ("  of it issuing the writes (ms)", "%.1f",
         lambda r: r["all"]["issue_seconds"] * 1e3),
        ("  servers busy at once (avg)", "%.2f",
         lambda r: r["all"]["servers_busy"]),
        ("  VMM receive threads busy (avg)", "%.2f",
         lambda r: r["all"]["vmm_rx_busy"]),
        ("  VMM main thread busy (avg)", "%.2f",
         lambda r: r["all"]["vmm_main_busy"]),
        ("  transfers overlapped (evidence)", "%s",
         lambda r: "yes: " + "+".join(r["overlap_evidence"])
         if r["overlap_evidence"] else "not shown"),
    ]
    for label, fmt, get in lines:
        print(row(label, fmt, rs, get))


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--devices", type=int, default=MAX_DEVICES)
    ap.add_argument("--build", default=os.path.join(SOURCE_DIR, "build"),
                    help="build directory holding the two programs")
    ap.add_argument("--dma-access", default="auto",
                    help="access mode(s), comma-separated: auto, mmap, "
                    "file-io, message")
    ap.add_argument("--rounds", type=int, help="rounds per device per run "
                    "(default 32, --quick 2)")
    ap.add_argument("--repeat", type=int, help="runs of each figure "
                    "(default 5, --quick 1)")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--smoke", action="store_true",
                    help="run with --json as a child, check its output")
    args = ap.parse_args(argv)
    if not 1 <= args.devices <= MAX_DEVICES:
        ap.error("--devices must be 1..%d (the free slots of PCI bus 0)"
                 % MAX_DEVICES)
    args.rounds = args.rounds or (2 if args.quick else 32)
    args.repeat = args.repeat or (1 if args.quick else 5)
    if args.rounds < 1 or args.repeat < 1:
        ap.error("--rounds and --repeat must be at least 1")
    args.modes = args.dma_access.split(",")
    args.vmm = os.path.join(args.build, "system", "vfio-user-vmm")
    args.server = os.path.join(args.build, "contrib", "vfio-user-server",
                               "vfio-user-server")
    for p in (args.vmm, args.server):
        if not os.access(p, os.X_OK):
            ap.error("%s is not built (see --build)" % p)
    return args


def smoke(argv):
    """Run this script with --json; check it ended well and printed JSON."""
    rest = [a for a in argv if a != "--smoke"]
    proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--json"]
                          + rest, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, timeout=600, check=False)
    try:
        doc = json.loads(proc.stdout)
        ok = proc.returncode == 0 and all(
            k in m for m in doc["modes"] for k in
            ("startup_enumerated_s", "after_startup", "one", "all"))
    except (ValueError, KeyError, TypeError) as e:
        print("vmm-scale: output is not the expected JSON: %s" % e,
              file=sys.stderr)
        ok = False
    print("vmm-scale smoke: exit status %d, %s"
          % (proc.returncode, "valid JSON" if ok else "FAILED"))
    return 0 if ok else 1


def run(args):
    load0 = os.getloadavg()[0]
    workdir = tempfile.mkdtemp(prefix="vmm-scale-")
    servers = []
    try:
        data = [os.urandom(XFER) for _ in range(args.devices)]
        servers, t_ready = start_servers(args.server, workdir, args.devices)
        results = [run_mode(args, servers, m, workdir, data)
                   for m in args.modes]
        for s in servers:
            s.stop()
            if s.proc.returncode != 0:
                raise Error("%s exited with %d: %s" % (
                    s.name, s.proc.returncode, s.err.text()))
    finally:
        for s in servers:
            s.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return {"devices": args.devices, "cpus": os.cpu_count(),
            "transfer_bytes": XFER, "rounds": args.rounds,
            "repeat": args.repeat, "guest_ram": GUEST_RAM,
            "servers_ready_s": t_ready,
            "load_average": [load0, os.getloadavg()[0]], "modes": results}


def main(argv):
    if "--smoke" in argv:
        parse_args(argv)            # usage errors before the child runs
        return smoke(argv)
    args = parse_args(argv)
    # A SIGTERM unwinds like an exception, so the finally blocks run.
    signal.signal(signal.SIGTERM, lambda s, f: sys.exit(128 + s))
    try:
        doc = run(args)
    except (Error, OSError) as e:
        print("vmm-scale: %s" % e, file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        print_table(doc)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
