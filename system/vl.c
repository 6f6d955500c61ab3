/*
 * vfio-user-vmm: main().  Parses the command line, builds the machine
 * (memory backends, RAM, PCI host, vfio-user-pci devices), runs firmware
 * PCI setup, opens qtest and the monitor, and runs the main loop until
 * quit, a signal, or the end of qtest/monitor input.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <glib-unix.h>
#include "hw/pci/pci_host.h"
#include "hw/vfio-user/pci.h"
#include "system/hotplug.h"
#include "system/log.h"
#include "system/machine.h"
#include "system/monitor.h"
#include "system/options.h"
#include "system/qmp.h"
#include "system/qtest.h"
#include "system/runstate.h"
#include "vfio-user/error.h"

/* -pidfile: created, locked and written; the fd keeps the lock. */
static int vmm_write_pidfile(const char *path, GError **errp)
{
    g_autofree char *pid = g_strdup_printf("%d\n", (int)getpid());
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);

    if (fd < 0) {
        vfio_user_error_set(errp, errno, "-pidfile %s: %s", path,
                            g_strerror(errno));
        return -1;
    }
    if (lockf(fd, F_TLOCK, 0) < 0) {
        int e = errno;

        close(fd);
        // clang-format off
        vfio_user_error_set(errp, e, "-pidfile %s: cannot lock it (is another vfio-user-vmm using it?): %s", path, g_strerror(e));
        // clang-format on
        return -1;
    }
    if (ftruncate(fd, 0) < 0 ||
        write(fd, pid, strlen(pid)) != (ssize_t)strlen(pid)) {
        int e = errno;

        close(fd);
        vfio_user_error_set(errp, e, "-pidfile %s: %s", path, g_strerror(e));
        return -1;
    }
    return fd;
}

static gboolean vmm_signal(gpointer p)
{
    (void)p;
    if (!vmm_quitting()) {
        JsonObject *cause = json_object_new();

        json_object_set_boolean_member(cause, "guest", false);
        json_object_set_string_member(cause, "reason", "host-signal");
        qmp_event_send("SHUTDOWN", cause);
    }
    vmm_request_quit();
    return G_SOURCE_CONTINUE;
}

/* Memory backends of -object, then the machine's RAM. */
static Machine *vmm_build_machine(VmmOptions *o, GPtrArray *backends,
                                  GError **errp)
{
    HostMemoryBackend *ram = NULL;
    bool owned = false;
    Machine *m;

    for (guint i = 0; i < o->objects->len; i++) {
        HostMemoryOptions *mo = g_ptr_array_index(o->objects, i);
        HostMemoryBackend *b = host_memory_backend_new(mo, errp);

        if (!b) {
            g_prefix_error(errp,
                           "-object %s,id=%s: ", host_mem_type_name(mo->type),
                           mo->id);
            return NULL;
        }
        g_ptr_array_add(backends, b);
        if (!g_strcmp0(mo->id, o->machine_backend)) {
            ram = b;
        }
    }
    if (!ram) {
        HostMemoryOptions def = {
            .type = HOSTMEM_RAM,
            .id = (char *)"ram",
            .size = o->ram_size,
        };

        ram = host_memory_backend_new(&def, errp);
        if (!ram) {
            g_prefix_error(errp, "-m: ");
            return NULL;
        }
        owned = true;
    }
    m = machine_new(ram, owned, errp);
    if (!m && owned) {
        host_memory_backend_free(ram);
    }
    return m;
}

/*
 * The id= of every -device, NULL-terminated (borrowed): no device without
 * one may be named so.
 */
static GPtrArray *vmm_device_ids(VmmOptions *o)
{
    GPtrArray *ids = g_ptr_array_new();

    for (guint i = 0; i < o->devices->len; i++) {
        VFIOUserPCIOptions *d = g_ptr_array_index(o->devices, i);

        if (d->id) {
            g_ptr_array_add(ids, d->id);
        }
    }
    g_ptr_array_add(ids, NULL);
    return ids;
}

/* Devices with addr= first, then the others in the first free slots. */
static bool vmm_add_devices(VmmOptions *o, Machine *m, GError **errp)
{
    g_autoptr(GPtrArray) ids = vmm_device_ids(o);

    for (int pass = 0; pass < 2; pass++) {
        for (guint i = 0; i < o->devices->len; i++) {
            VFIOUserPCIOptions *d = g_ptr_array_index(o->devices, i);
            int slot = g_array_index(o->device_slots, int, i);

            if ((slot >= 0) != (pass == 0)) {
                continue;
            }
            slot = hotplug_pick_slot(m, slot, errp);
            if (slot >= 0 && !d->id) {
                d->id = pci_host_default_id(m->pci, slot,
                                            (const char *const *)ids->pdata);
            }
            if (slot < 0 || !vfio_user_pci_realize(m, d, slot, errp)) {
                g_prefix_error(errp, "-device %s: ",
                               (char *)g_ptr_array_index(o->device_args, i));
                return false;
            }
        }
    }
    pci_host_firmware_init(m->pci);
    return true;
}

/* Monitors of -mon chardev=ID and -qmp: human (mode=readline) or QMP. */
static bool vmm_open_mons(VmmOptions *o, Machine *m, GPtrArray *mons,
                          GPtrArray *qmps, GError **errp)
{
    for (guint i = 0; i < o->mons->len; i++) {
        MonSpec *ms = g_ptr_array_index(o->mons, i);

        if (ms->control) {
            QmpMonitor *q = qmp_monitor_new(m, &ms->chr, ms->pretty, errp);

            if (!q) {
                return false;
            }
            g_ptr_array_add(qmps, q);
        } else {
            Monitor *mon = monitor_new(m, &ms->chr, errp);

            if (!mon) {
                return false;
            }
            g_ptr_array_add(mons, mon);
        }
    }
    return true;
}

static int vmm_run(VmmOptions *o, GError **errp)
{
    g_autoptr(GPtrArray) backends = g_ptr_array_new_with_free_func(
        (GDestroyNotify)host_memory_backend_free);
    g_autoptr(GPtrArray) mons =
        g_ptr_array_new_with_free_func((GDestroyNotify)monitor_free);
    g_autoptr(GPtrArray) qmps =
        g_ptr_array_new_with_free_func((GDestroyNotify)qmp_monitor_free);
    int pid_fd = -1;
    Machine *m = NULL;
    QTestServer *qt = NULL;
    Monitor *mon = NULL;
    bool ok = true;

    if (o->pidfile) {
        /* First, so that a second instance changes nothing. */
        ok = (pid_fd = vmm_write_pidfile(o->pidfile, errp)) >= 0;
    }
    if (ok) {
        m = vmm_build_machine(o, backends, errp);
        ok = m && vmm_add_devices(o, m, errp);
    }
    if (ok && o->start_stopped) {
        vmm_set_running(false, "prelaunch");
    }
    vmm_set_name(o->name);
    if (ok) {
        qmp_vfio_user_events_init();
        /* First: a listening socket exists before qtest connects out. */
        ok = vmm_open_mons(o, m, mons, qmps, errp);
    }
    if (ok && o->qtest) {
        ok = (qt = qtest_server_new(m, o->qtest, errp)) != NULL;
    }
    if (ok && o->monitor) {
        ok = (mon = monitor_new(m, o->monitor, errp)) != NULL;
    }
    if (ok) {
        g_unix_signal_add(SIGTERM, vmm_signal, NULL);
        g_unix_signal_add(SIGINT, vmm_signal, NULL);
        g_unix_signal_add(SIGHUP, vmm_signal, NULL);
        vmm_main_loop_run();
    }
    g_ptr_array_set_size(mons, 0);
    g_ptr_array_set_size(qmps, 0);
    monitor_free(mon);
    qtest_server_free(qt);
    machine_free(m);
    if (pid_fd >= 0) {
        unlink(o->pidfile);
        close(pid_fd);
    }
    vmm_set_name(NULL);
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    VmmOptions o;
    GError *err = NULL;
    const char *logfile;
    int ret = 0;

    signal(SIGPIPE, SIG_IGN);
    vmm_log_init();
    vmm_options_init(&o);
    if (!vmm_parse_args(&o, argc, argv, &err)) {
        ret = 1;
    } else if (o.print) {
        fputs(o.print->str, stdout);
    } else {
        logfile = o.logfile ? o.logfile : o.trace_file;
        if (logfile && !vmm_log_open(logfile, &err)) {
            ret = 1;
        } else {
            if (o.exit_with_parent) {
                prctl(PR_SET_PDEATHSIG, SIGTERM);
            }
            ret = vmm_run(&o, &err);
        }
    }
    if (err) {
        vmm_log_error(err->message);
        g_error_free(err);
    }
    vmm_options_clear(&o);
    vmm_trace_reset();
    vmm_log_close();
    return ret;
}
