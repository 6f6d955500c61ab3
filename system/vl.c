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
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <glib-unix.h>
#include "hw/pci/pci_host.h"
#include "hw/vfio-user/pci.h"
#include "system/machine.h"
#include "system/monitor.h"
#include "system/options.h"
#include "system/qtest.h"
#include "system/runstate.h"
#include "vfio-user/error.h"

static FILE *log_file; /* -D; written by whichever thread logs */

static GLogWriterOutput vmm_log_writer(GLogLevelFlags level,
                                       const GLogField *fields, gsize n_fields,
                                       gpointer data)
{
    g_autofree char *line = NULL;
    const char *domain = NULL;

    (void)data;
    if (!log_file) {
        return g_log_writer_default(level, fields, n_fields, NULL);
    }
    for (gsize i = 0; i < n_fields; i++) {
        if (!strcmp(fields[i].key, "GLIB_DOMAIN")) {
            domain = fields[i].value;
        }
    }
    if (g_log_writer_default_would_drop(level, domain)) {
        return G_LOG_WRITER_HANDLED;
    }
    line = g_log_writer_format_fields(level, fields, n_fields, false);
    fprintf(log_file, "%s\n", line);
    fflush(log_file);
    return G_LOG_WRITER_HANDLED;
}

static bool vmm_open_log(const char *path, GError **errp)
{
    log_file = fopen(path, "a");
    if (!log_file) {
        return vfu_error_set(errp, errno, "-D %s: %s", path, g_strerror(errno));
    }
    setvbuf(log_file, NULL, _IOLBF, 0);
    g_log_set_writer_func(vmm_log_writer, NULL, NULL);
    return true;
}

static bool vmm_write_pidfile(const char *path, GError **errp)
{
    g_autofree char *pid = g_strdup_printf("%d\n", (int)getpid());

    return g_file_set_contents(path, pid, -1, errp);
}

static gboolean vmm_signal(gpointer p)
{
    (void)p;
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

static bool vmm_add_devices(VmmOptions *o, Machine *m, GError **errp)
{
    for (guint i = 0; i < o->devices->len; i++) {
        if (!vfio_user_pci_realize(m, g_ptr_array_index(o->devices, i), i + 1,
                                   errp)) {
            return false;
        }
    }
    pci_host_firmware_init(m->pci);
    return true;
}

static int vmm_run(VmmOptions *o, GError **errp)
{
    g_autoptr(GPtrArray) backends = g_ptr_array_new_with_free_func(
        (GDestroyNotify)host_memory_backend_free);
    Machine *m = vmm_build_machine(o, backends, errp);
    QTestServer *qt = NULL;
    Monitor *mon = NULL;
    bool ok = m && vmm_add_devices(o, m, errp);

    if (ok && o->pidfile) {
        ok = vmm_write_pidfile(o->pidfile, errp);
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
    monitor_free(mon);
    qtest_server_free(qt);
    machine_free(m);
    if (o->pidfile && ok) {
        unlink(o->pidfile);
    }
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    VmmOptions o;
    GError *err = NULL;
    int ret = 0;

    signal(SIGPIPE, SIG_IGN);
    vmm_options_init(&o);
    if (!vmm_parse_args(&o, argc, argv, &err) ||
        (o.logfile && !o.print && !vmm_open_log(o.logfile, &err))) {
        ret = 1;
    } else if (o.print) {
        fputs(o.print->str, stdout);
    } else {
        ret = vmm_run(&o, &err);
    }
    if (err) {
        g_printerr("vfio-user-vmm: %s\n", err->message);
        g_error_free(err);
    }
    vmm_options_clear(&o);
    if (log_file) {
        FILE *f = log_file;

        log_file = NULL;
        fclose(f);
    }
    return ret;
}
