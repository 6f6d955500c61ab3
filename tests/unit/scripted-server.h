/*
 * A scriptable fake vfio-user server for the malicious-server tests.
 *
 * The fake runs a script on its own thread against one end of a
 * socketpair; the client library under test gets the other end.  A script
 * is a list of steps appended with the fake_*() calls below before
 * fake_start(): expect a request, reply to it (with any header field
 * overridden: wrong command or id, bad size, error flag), send raw bytes
 * and fds, send DMA_READ / DMA_WRITE requests and capture the client's
 * replies, flood the client, hang up, stall until the client goes away.
 *
 * Every receive in the fake is bounded (5 s), so a broken test fails
 * instead of hanging.  A step that goes wrong records why; fake_join()
 * returns that message (NULL when the script ran to its end).
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef SCRIPTED_SERVER_H
#define SCRIPTED_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>
#include "vfio-user/protocol.h"

typedef struct FakeServer FakeServer;

/* Header overrides for a reply or a raw message; zero fields = default. */
typedef struct FakeHdr {
    bool set_id;
    uint16_t id;
    bool set_cmd;
    uint16_t cmd;
    bool set_size;
    uint32_t size;
    bool set_flags;
    uint32_t flags;
    uint32_t error;
} FakeHdr;

/* One message the fake received from the client. */
typedef struct FakeMsg {
    VFIOUserHdr hdr;
    uint8_t *payload;
    size_t len;
    size_t nfds;
} FakeMsg;

FakeServer *fake_new(void);
/* The client end of the socketpair; whoever takes it closes it. */
int fake_client_fd(FakeServer *fs);
void fake_start(FakeServer *fs);
/*
 * Wait for the script to end (at most 10 s), close the server end and
 * free.  Returns NULL or the first failure of the script (g_free it).
 */
char *fake_join(FakeServer *fs);

/* ---- steps ---- */

/* Receive one request from the client; @cmd 0 accepts any command. */
void fake_expect(FakeServer *fs, uint16_t cmd);
/* Reply to the last expected request. */
void fake_reply(FakeServer *fs, const void *payload, size_t len);
void fake_reply_error(FakeServer *fs, int errnum);
void fake_reply_ex(FakeServer *fs, const FakeHdr *h, const void *payload,
                   size_t len, const int *fds, size_t nfds);
/* Send bytes exactly as given (fds with the first byte, then kept open by
 * the caller: the fake sends copies). */
void fake_send_raw(FakeServer *fs, const void *bytes, size_t len,
                   const int *fds, size_t nfds);
/* Send a whole message of our own (a request to the client, or anything). */
void fake_send_msg(FakeServer *fs, const FakeHdr *h, uint16_t cmd,
                   uint32_t flags, const void *payload, size_t len);
/*
 * Send DMA_READ/DMA_WRITE for [addr, addr + count) with @data (DMA_WRITE)
 * and capture the client's reply (fake_captured()).
 */
void fake_dma(FakeServer *fs, uint16_t cmd, uint64_t addr, uint64_t count,
              const void *data, size_t data_len);
/* Receive one message of any kind and record it (fake_captured()). */
void fake_capture(FakeServer *fs);
/* Expect VERSION and answer 0.1 with @json (the usual caps when NULL). */
void fake_version(FakeServer *fs, const char *json);
/* Answer @n DMA_MAP requests with success. */
void fake_accept_maps(FakeServer *fs, unsigned n);
/*
 * Send @n DMA_READ requests of @count bytes at @addr from a second thread
 * while this one reads the replies; client requests meanwhile are answered
 * with @reply (a canned payload).  Records successes and error replies.
 */
void fake_dma_flood(FakeServer *fs, unsigned n, uint64_t addr, uint64_t count,
                    const void *reply, size_t reply_len);
/* Answer every request with its own payload as the reply until EOF. */
void fake_echo_until_eof(FakeServer *fs);
/* Close the connection now. */
void fake_hangup(FakeServer *fs);
/* Do nothing until the client closes the connection (EOF). */
void fake_stall(FakeServer *fs);
/* Stop reading too (the client's sends fill the socket) until it closes. */
void fake_freeze(FakeServer *fs);
/* Block until the test calls fake_go(). */
void fake_wait_go(FakeServer *fs);
void fake_go(FakeServer *fs);
/* Tell the test (fake_wait_notify()) that the steps before this one ran. */
void fake_notify(FakeServer *fs);
/* Wait (at most 10 s) for the next fake_notify() step; false on timeout. */
bool fake_wait_notify(FakeServer *fs);

/* From the test thread: shut the fake's end down now (both ways). */
void fake_kill(FakeServer *fs);

/* ---- results ---- */

/* Messages recorded by fake_capture()/fake_dma(), in order. */
const FakeMsg *fake_captured(FakeServer *fs, unsigned i);
/* Flood results. */
unsigned fake_flood_ok(FakeServer *fs);
unsigned fake_flood_errors(FakeServer *fs);
unsigned fake_flood_answered(FakeServer *fs);

/* ---- process measurements ---- */

/* Resident set size in KiB (VmRSS). */
size_t hs_rss_kb(void);
/* Payload of a VERSION with @json (g_free'd by the caller). */
void *hs_version_payload(uint16_t major, const char *json, bool nul,
                         size_t *len);

#endif /* SCRIPTED_SERVER_H */
