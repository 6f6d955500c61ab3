/*
 * libqtest: drive vfio-user-vmm and vfio-user-server from C tests.
 *
 * A test starts the sample server (QTestServer, ready once it printed its
 * "listening on" line), then the VMM with "-qtest unix:PATH" and
 * "-monitor unix:PATH" pointing at sockets this library listens on, and
 * talks the qtest text protocol: one command line, one "OK ..." or
 * "FAIL ..." reply line; after "irq_intercept_in" (sent at start-up),
 * "IRQ raise N" / "IRQ lower N" lines may arrive at any time and are
 * recorded; MSIs are fetched with the VMM's "msi_wait" extension.  The
 * children's stdout/stderr are read into buffers (stderr, and stdout with
 * QTEST_LOG set, echoed to our stderr) whenever the library waits, so a
 * chatty child never blocks on a full pipe.  Children die with the test.
 *
 * Every wait has a deadline (QTEST_TIMEOUT_S in the environment, 30 s by
 * default); nothing sleeps to synchronise.  Binaries are found through
 * VFU_VMM and VFU_SERVER (set by meson).  Failures abort the test through
 * g_assert/g_error after printing what the children said.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef TESTS_QTEST_LIBQTEST_H
#define TESTS_QTEST_LIBQTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <glib.h>

typedef struct QTestChild QTestChild;
typedef struct QTestServer QTestServer;
typedef struct QTestState QTestState;

/* ---- the sample server ---- */

/*
 * Start vfio-user-server --device @device on a fresh socket, with the
 * extra space-separated arguments @extra (may be NULL), and wait for its
 * ready line.
 */
QTestServer *qtest_server_start(const char *device, const char *extra);
const char *qtest_server_socket(QTestServer *srv);
/*
 * Start a new server (--device @device, @extra) on the same socket, after
 * SIGKILLing the old one if it still runs (a restart or an upgrade).
 */
void qtest_server_restart(QTestServer *srv, const char *device,
                          const char *extra);
/* Send @sig (e.g. SIGSTOP, SIGCONT) to the server. */
void qtest_server_signal(QTestServer *srv, int sig);
/* SIGKILL the server and reap it. */
void qtest_server_kill(QTestServer *srv);
/* Wait up to @timeout_ms for @needle in the server's stdout or stderr. */
bool qtest_server_wait_output(QTestServer *srv, const char *needle,
                              int timeout_ms);
/* Wait up to @timeout_ms for the server to exit; true with its wait
 * status in @status if it did. */
bool qtest_server_wait_exit(QTestServer *srv, int timeout_ms, int *status);
/*
 * SIGTERM if still running, reap, remove its socket directory; fails the
 * test on a sanitizer report or (unless qtest_server_kill() was used) a
 * non-zero exit status.
 */
void qtest_server_free(QTestServer *srv);
/* The server's process id. */
int qtest_server_pid(QTestServer *srv);
/* Wait up to @timeout_ms for @needle in the server's stderr. */
bool qtest_server_wait_stderr(QTestServer *srv, const char *needle,
                              int timeout_ms);

/* ---- the VMM ---- */

/*
 * Start vfio-user-vmm with @args (split like a shell would; printf-style)
 * plus the qtest and monitor sockets, and wait for both connections.
 */
QTestState *qtest_init(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
/*
 * Like qtest_init, but a VMM that exits before connecting is not an
 * error: returns NULL, its stderr in *@errout and wait status in *@status.
 */
QTestState *qtest_try_init(char **errout, int *status, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);
/*
 * "quit" over the monitor, wait for exit (kill on timeout), clean up;
 * fails the test unless the VMM exited with status 0 and without a
 * sanitizer report.
 */
void qtest_quit(QTestState *s);
/*
 * Wait until the VMM's stderr contains @needle (it reaches us through a
 * pipe, some time after the VMM wrote it); false after @timeout_ms.
 */
bool qtest_vmm_wait_stderr(QTestState *s, const char *needle, int timeout_ms);
/* How often @needle occurs in what the VMM wrote to stderr so far. */
unsigned qtest_vmm_stderr_count(QTestState *s, const char *needle);
/* True while the VMM process has not exited. */
bool qtest_vmm_running(QTestState *s);

/* Send one qtest command; return the reply after "OK" (g_free it).
 * A FAIL reply fails the test. */
char *qtest_command(QTestState *s, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/* Send a command without waiting; collect its whole reply line ("OK ..."
 * or "FAIL ...") with qtest_command_recv().  One at a time. */
void qtest_command_send(QTestState *s, const char *fmt, ...)
    G_GNUC_PRINTF(2, 3);
char *qtest_command_recv(QTestState *s);

uint8_t qtest_readb(QTestState *s, uint64_t addr);
uint16_t qtest_readw(QTestState *s, uint64_t addr);
uint32_t qtest_readl(QTestState *s, uint64_t addr);
uint64_t qtest_readq(QTestState *s, uint64_t addr);
void qtest_writeb(QTestState *s, uint64_t addr, uint8_t val);
void qtest_writew(QTestState *s, uint64_t addr, uint16_t val);
void qtest_writel(QTestState *s, uint64_t addr, uint32_t val);
void qtest_writeq(QTestState *s, uint64_t addr, uint64_t val);
/* Port I/O (QEMU's inb/inw/inl/outb/outw/outl). */
uint8_t qtest_inb(QTestState *s, uint16_t port);
uint16_t qtest_inw(QTestState *s, uint16_t port);
uint32_t qtest_inl(QTestState *s, uint16_t port);
void qtest_outb(QTestState *s, uint16_t port, uint8_t val);
void qtest_outw(QTestState *s, uint16_t port, uint16_t val);
void qtest_outl(QTestState *s, uint16_t port, uint32_t val);
/* Bulk guest memory access (b64read / b64write / memset). */
void qtest_memread(QTestState *s, uint64_t addr, void *buf, size_t len);
void qtest_memwrite(QTestState *s, uint64_t addr, const void *buf, size_t len);
void qtest_memset(QTestState *s, uint64_t addr, uint8_t val, size_t len);

/* ---- interrupts ---- */

/* Current level of interrupt @irq as reported so far. */
bool qtest_irq_level(QTestState *s, int irq);
/* Number of "IRQ raise @irq" lines seen so far. */
unsigned qtest_irq_raised(QTestState *s, int irq);
/* Wait until the raise count of @irq exceeds @seen; false on timeout. */
bool qtest_wait_irq_raise(QTestState *s, int irq, unsigned seen,
                          int timeout_ms);
/* Wait for the next recorded MSI; false on timeout. */
bool qtest_wait_msi(QTestState *s, uint64_t *addr, uint32_t *data,
                    int timeout_ms);

/* ---- the monitor ---- */

/* Run a monitor command; returns its output without the prompt. */
char *qtest_hmp(QTestState *s, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/* ---- PCI on bus 0 through ECAM ---- */

uint64_t qpci_ecam_addr(int dev, int fn, uint32_t off);
uint8_t qpci_config_readb(QTestState *s, int dev, uint32_t off);
uint16_t qpci_config_readw(QTestState *s, int dev, uint32_t off);
uint32_t qpci_config_readl(QTestState *s, int dev, uint32_t off);
void qpci_config_writeb(QTestState *s, int dev, uint32_t off, uint8_t v);
void qpci_config_writew(QTestState *s, int dev, uint32_t off, uint16_t v);
void qpci_config_writel(QTestState *s, int dev, uint32_t off, uint32_t v);
/* Offset of capability @id in the list, 0 if absent. */
uint8_t qpci_find_capability(QTestState *s, int dev, uint8_t id);
/*
 * Address the firmware gave memory BAR @bar of device @dev (64-bit BARs
 * read both halves); its size in *@size when @size is not NULL (sized
 * by the usual all-ones write with decoding off, then restored).
 */
uint64_t qpci_bar_addr(QTestState *s, int dev, int bar, uint64_t *size);
/* Program MSI vector 0 of @dev to write @data at @addr and enable it. */
void qpci_msi_enable(QTestState *s, int dev, uint64_t addr, uint32_t data);
void qpci_msi_disable(QTestState *s, int dev);

/* ---- misc ---- */

/* Deadline in ms of one wait (QTEST_TIMEOUT_S or 30 s). */
int qtest_timeout_ms(void);
/* A scratch directory removed by qtest_cleanup_tmpdir(). */
char *qtest_make_tmpdir(void);
void qtest_cleanup_tmpdir(char *dir);

#endif /* TESTS_QTEST_LIBQTEST_H */
