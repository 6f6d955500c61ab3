/*
 * Qtest support: start a machine with one edu device on a given RAM
 * backend and dma-access, and the edu checks the qtests share.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef TESTS_QTEST_EDU_MACHINE_H
#define TESTS_QTEST_EDU_MACHINE_H

#include <stdbool.h>
#include <stdint.h>
#include "libqtest.h"

/* edu registers and constants (QEMU's edu, plus our 1 MiB DMA buffer). */
#define EDU_ID 0x010000edu
#define EDU_BUF 0x40000
#define EDU_BUF_SIZE (1024 * 1024)
#define EDU_BAR0_SIZE (1024 * 1024)
#define EDU_SLOT 1
#define EDU_MSI_ADDR 0xfee01000ULL
#define EDU_DEFAULT_RAM_MB 64

typedef struct EduMachine {
    QTestState *qts;
    char *dir; /* file backend's directory, or NULL */
    uint64_t bar0;
} EduMachine;

/*
 * Start a VMM with 64 MiB of @backend ("memfd", "file" (shared, with a
 * non-zero offset), "file-private" (share=off), "ram") and an edu on @srv's
 * socket with dma-access=@access and the extra device options @extra (or NULL);
 * checks enumeration.
 */
EduMachine *edu_machine_start(QTestServer *srv, const char *backend,
                              const char *access, const char *extra);
/* The same with @ram_mb MiB of RAM (above 2816 MiB: two sections). */
EduMachine *edu_machine_start_sized(QTestServer *srv, const char *backend,
                                    const char *access, const char *extra,
                                    unsigned ram_mb);
void edu_machine_stop(EduMachine *m);

void edu_check_identity(EduMachine *m);
/* Liveness, factorial and status registers. */
void edu_check_registers(EduMachine *m);
/* Run one transfer (edu command @cmd); false if the device flagged an
 * error. */
bool edu_dma_try(EduMachine *m, uint64_t src, uint64_t dst, uint64_t len,
                 uint32_t cmd);
/* @len bytes RAM(@src) -> device -> RAM(@dst), checked on the way. */
void edu_check_dma(EduMachine *m, size_t len, uint64_t src, uint64_t dst);
/* @len bytes (more than one qtest command carries) written and read
 * back at @addr, then a full-buffer DMA out of and into that range. */
void edu_check_big_memory(EduMachine *m, uint64_t addr, size_t len);
/* Interrupt raise register and DMA completion through INTx. */
void edu_check_intx(EduMachine *m);
/* DMA completion through MSI; leaves MSI disabled. */
void edu_check_msi(EduMachine *m);

/* The `info vfio-user` line of DMA map @name at iova 0 (g_free it). */
char *edu_info_map_line(QTestState *qts, const char *name);
/* Same for the map of @name starting at @iova. */
char *edu_info_map_line_at(QTestState *qts, const char *name, uint64_t iova);
void edu_assert_map_mode(const char *line, const char *mode,
                         bool proc_self_mem);
/* Message-mode bytes the client served so far. */
void edu_info_message_bytes(QTestState *qts, uint64_t *rd, uint64_t *wr);

#endif /* TESTS_QTEST_EDU_MACHINE_H */
