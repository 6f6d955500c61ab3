/*
 * qtest server: drives the CPU-less machine with QEMU's qtest text
 * protocol (see include/system/qtest.h for the commands).
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include "hw/pci/pci_host.h"
#include "system/chardev.h"
#include "system/machine.h"
#include "system/qtest.h"
#include "system/runstate.h"

#define QTEST_MAX_XFER (16u * 1024 * 1024)

/* Main-thread only. */
struct QTestServer {
    Machine *m;
    CharLine *chr;
    bool intercept;
    uint64_t clock_ns;
    guint wait_src; /* msi_wait timeout, 0 when not waiting */
};

static bool qtest_num(const char *s, uint64_t *out)
{
    char *end;

    if (!s || !g_ascii_isdigit(*s)) {
        return false;
    }
    errno = 0;
    *out = strtoull(s, &end, 0);
    return !errno && !*end;
}

static unsigned qtest_width(char c)
{
    return c == 'b' ? 1 : c == 'w' ? 2 : c == 'l' ? 4 : c == 'q' ? 8 : 0;
}

static void qtest_reply_msi(QTestServer *q)
{
    MSIRecord r;

    if (machine_msi_pop(q->m, &r)) {
        char_line_printf(q->chr, "OK 0x%" PRIx64 " 0x%" PRIx32 "\n", r.addr,
                         r.data);
    } else {
        char_line_write(q->chr, "OK none\n");
    }
}

static gboolean qtest_wait_timeout(gpointer p)
{
    QTestServer *q = p;

    q->wait_src = 0;
    qtest_reply_msi(q);
    char_line_pause(q->chr, false);
    return G_SOURCE_REMOVE;
}

static void qtest_msi_arrived(void *opaque)
{
    QTestServer *q = opaque;

    if (q->wait_src) {
        g_source_remove(q->wait_src);
        q->wait_src = 0;
        qtest_reply_msi(q);
        char_line_pause(q->chr, false);
    }
}

static void qtest_irq(int irq, bool level, void *opaque)
{
    QTestServer *q = opaque;

    if (q->intercept) {
        char_line_printf(q->chr, "IRQ %s %d\n", level ? "raise" : "lower", irq);
    }
}

static void qtest_hex_read(QTestServer *q, uint64_t addr, uint64_t len)
{
    g_autofree uint8_t *buf = g_malloc(len);
    GString *s = g_string_sized_new(2 * len + 8);

    machine_rw(q->m, addr, buf, len, false);
    g_string_append(s, "OK 0x");
    for (uint64_t i = 0; i < len; i++) {
        g_string_append_printf(s, "%02x", buf[i]);
    }
    g_string_append_c(s, '\n');
    char_line_write(q->chr, s->str);
    g_string_free(s, true);
}

static bool qtest_hex_write(QTestServer *q, uint64_t addr, uint64_t len,
                            const char *hex)
{
    g_autofree uint8_t *buf = g_malloc0(len);
    size_t digits;

    if (!g_str_has_prefix(hex, "0x")) {
        return false;
    }
    hex += 2;
    digits = strlen(hex);
    for (size_t i = 0; i < len && 2 * i + 1 < digits; i++) {
        int hi = g_ascii_xdigit_value(hex[2 * i]);
        int lo = g_ascii_xdigit_value(hex[2 * i + 1]);

        if (hi < 0 || lo < 0) {
            return false;
        }
        buf[i] = hi << 4 | lo;
    }
    machine_rw(q->m, addr, buf, len, true);
    return true;
}

static void qtest_b64(QTestServer *q, bool is_write, uint64_t addr,
                      uint64_t len, const char *b64)
{
    g_autofree uint8_t *buf = g_malloc0(len);

    if (is_write) {
        gsize n = 0;
        g_autofree guchar *data = g_base64_decode(b64, &n);

        memcpy(buf, data, MIN(n, len));
        machine_rw(q->m, addr, buf, len, true);
        char_line_write(q->chr, "OK\n");
    } else {
        g_autofree char *enc = NULL;

        machine_rw(q->m, addr, buf, len, false);
        enc = g_base64_encode(buf, len);
        char_line_printf(q->chr, "OK %s\n", enc);
    }
}

/* read/write/b64read/b64write/memset: ADDR SIZE [ARG] */
static void qtest_block(QTestServer *q, char **w, unsigned n)
{
    uint64_t addr, len, val = 0;
    bool needs_arg = strcmp(w[0], "read") && strcmp(w[0], "b64read");

    if (n != (needs_arg ? 4u : 3u) || !qtest_num(w[1], &addr) ||
        !qtest_num(w[2], &len) ||
        (!strcmp(w[0], "memset") && !qtest_num(w[3], &val))) {
        char_line_printf(q->chr, "FAIL usage: %s ADDR SIZE%s\n", w[0],
                         needs_arg ? " DATA" : "");
    } else if (len == 0 || len > QTEST_MAX_XFER) {
        char_line_printf(q->chr, "FAIL size must be 1..%u\n", QTEST_MAX_XFER);
    } else if (!strcmp(w[0], "read")) {
        qtest_hex_read(q, addr, len);
    } else if (!strcmp(w[0], "write")) {
        char_line_write(q->chr, qtest_hex_write(q, addr, len, w[3])
                                    ? "OK\n"
                                    : "FAIL data must be 0x<hex>\n");
    } else if (!strcmp(w[0], "memset")) {
        g_autofree uint8_t *buf = g_malloc(len);

        memset(buf, (uint8_t)val, len);
        machine_rw(q->m, addr, buf, len, true);
        char_line_write(q->chr, "OK\n");
    } else {
        qtest_b64(q, !strcmp(w[0], "b64write"), addr, len, w[3]);
    }
}

/* readX ADDR / writeX ADDR VAL */
static void qtest_rw(QTestServer *q, char **w, unsigned n, bool is_write)
{
    unsigned size = qtest_width(w[0][is_write ? 5 : 4]);
    uint64_t addr, val = 0;

    if (n != (is_write ? 3u : 2u) || !qtest_num(w[1], &addr) ||
        (is_write && !qtest_num(w[2], &val))) {
        char_line_printf(q->chr, "FAIL usage: %s ADDR%s\n", w[0],
                         is_write ? " VALUE" : "");
    } else if (is_write) {
        machine_stq(q->m, addr, val, size);
        char_line_write(q->chr, "OK\n");
    } else {
        char_line_printf(q->chr, "OK 0x%016" PRIx64 "\n",
                         machine_ldq(q->m, addr, size));
    }
}

/* inb|inw|inl PORT / outb|outw|outl PORT VAL, replies as QEMU's qtest. */
static void qtest_pio(QTestServer *q, char **w, unsigned n, bool is_write)
{
    unsigned size = qtest_width(w[0][is_write ? 3 : 2]);
    uint64_t port, val = 0;

    if (n != (is_write ? 3u : 2u) || !qtest_num(w[1], &port) ||
        (is_write && !qtest_num(w[2], &val))) {
        char_line_printf(q->chr, "FAIL usage: %s PORT%s\n", w[0],
                         is_write ? " VALUE" : "");
    } else if (port > 0xffff) {
        char_line_write(q->chr, "FAIL port must be 0..0xffff\n");
    } else if (is_write) {
        machine_outl(q->m, port, (uint32_t)val, size);
        char_line_write(q->chr, "OK\n");
    } else {
        char_line_printf(q->chr, "OK 0x%04x\n", machine_inl(q->m, port, size));
    }
}

static bool qtest_is_pio(const char *cmd, const char *prefix)
{
    size_t n = strlen(prefix);

    return !strncmp(cmd, prefix, n) && strlen(cmd) == n + 1 &&
           qtest_width(cmd[n]) && cmd[n] != 'q';
}

static void qtest_msi_wait(QTestServer *q, char **w, unsigned n)
{
    uint64_t ms;

    if (n != 2 || !qtest_num(w[1], &ms) || ms > 3600000) {
        char_line_write(q->chr, "FAIL usage: msi_wait MILLISECONDS\n");
    } else if (machine_msi_pending(q->m) || ms == 0) {
        qtest_reply_msi(q);
    } else {
        char_line_pause(q->chr, true);
        q->wait_src = g_timeout_add(ms, qtest_wait_timeout, q);
    }
}

static void qtest_misc(QTestServer *q, char **w, unsigned n)
{
    uint64_t v = 0;

    if (!strcmp(w[0], "irq_intercept_in") ||
        !strcmp(w[0], "irq_intercept_out")) {
        q->intercept = true;
        char_line_write(q->chr, "OK\n");
    } else if (!strcmp(w[0], "clock_step") &&
               (n == 1 || (n == 2 && qtest_num(w[1], &v)))) {
        q->clock_ns += v;
        char_line_printf(q->chr, "OK %" PRIu64 "\n", q->clock_ns);
    } else if (!strcmp(w[0], "clock_set") && n == 2 && qtest_num(w[1], &v)) {
        q->clock_ns = MAX(q->clock_ns, v);
        char_line_printf(q->chr, "OK %" PRIu64 "\n", q->clock_ns);
    } else if (!strcmp(w[0], "endianness")) {
        char_line_write(q->chr, "OK little\n");
    } else if (!strcmp(w[0], "msi_pop")) {
        qtest_reply_msi(q);
    } else if (!strcmp(w[0], "msi_count")) {
        char_line_printf(q->chr, "OK %u\n", machine_msi_pending(q->m));
    } else if (!strcmp(w[0], "msi_wait")) {
        qtest_msi_wait(q, w, n);
    } else if (!strcmp(w[0], "irq_level") && n == 2 && qtest_num(w[1], &v) &&
               v < G_N_ELEMENTS(q->m->irq_level)) {
        char_line_printf(q->chr, "OK %d\n", q->m->irq_level[v]);
    } else if (!strcmp(w[0], "clock_step") || !strcmp(w[0], "clock_set") ||
               !strcmp(w[0], "irq_level")) {
        char_line_printf(q->chr, "FAIL usage: %s NUMBER\n", w[0]);
    } else {
        char_line_printf(q->chr, "FAIL Unknown command '%s'\n", w[0]);
    }
}

static void qtest_dispatch(CharLine *c, const char *line, void *opaque)
{
    QTestServer *q = opaque;
    g_auto(GStrv) w = g_strsplit_set(line, " \t", -1);
    char *words[8] = {0};
    unsigned n = 0;

    (void)c;
    for (unsigned i = 0; w[i]; i++) {
        if (*w[i] && n < G_N_ELEMENTS(words)) {
            words[n++] = w[i];
        }
    }
    if (!n) {
        return;
    }
    if (g_str_has_prefix(words[0], "read") && strlen(words[0]) == 5 &&
        qtest_width(words[0][4])) {
        qtest_rw(q, words, n, false);
    } else if (g_str_has_prefix(words[0], "write") && strlen(words[0]) == 6 &&
               qtest_width(words[0][5])) {
        qtest_rw(q, words, n, true);
    } else if (qtest_is_pio(words[0], "in")) {
        qtest_pio(q, words, n, false);
    } else if (qtest_is_pio(words[0], "out")) {
        qtest_pio(q, words, n, true);
    } else if (!strcmp(words[0], "read") || !strcmp(words[0], "write") ||
               !strcmp(words[0], "b64read") || !strcmp(words[0], "b64write") ||
               !strcmp(words[0], "memset")) {
        qtest_block(q, words, n);
    } else {
        qtest_misc(q, words, n);
    }
}

/* One command, then push out the posted writes it may have batched. */
static void qtest_line(CharLine *c, const char *line, void *opaque)
{
    QTestServer *q = opaque;

    qtest_dispatch(c, line, opaque);
    if (q->m->pci) {
        pci_host_flush(q->m->pci);
    }
}

static void qtest_closed(CharLine *c, bool final, void *opaque)
{
    QTestServer *q = opaque;

    (void)c;
    q->intercept = false;
    if (q->wait_src) {
        g_source_remove(q->wait_src);
        q->wait_src = 0;
        char_line_pause(q->chr, false);
    }
    if (final) {
        vmm_request_quit();
    }
}

static void qtest_overlong(CharLine *c, void *opaque)
{
    (void)opaque;
    char_line_write(c, "FAIL line too long\n");
}

static const CharLineOps qtest_chr_ops = {
    .line = qtest_line,
    .closed = qtest_closed,
    .overlong = qtest_overlong,
};

QTestServer *qtest_server_new(Machine *m, const CharSpec *spec, GError **errp)
{
    QTestServer *q = g_new0(QTestServer, 1);

    q->m = m;
    machine_set_irq_notify(m, qtest_irq, q);
    machine_set_msi_notify(m, qtest_msi_arrived, q);
    q->chr = char_line_new(spec, &qtest_chr_ops, q, errp);
    if (!q->chr) {
        g_prefix_error(errp, "-qtest: ");
        qtest_server_free(q);
        return NULL;
    }
    return q;
}

void qtest_server_free(QTestServer *q)
{
    if (!q) {
        return;
    }
    machine_set_irq_notify(q->m, NULL, NULL);
    machine_set_msi_notify(q->m, NULL, NULL);
    if (q->wait_src) {
        g_source_remove(q->wait_src);
    }
    char_line_free(q->chr);
    g_free(q);
}
