/*
 * The scriptable fake server of test-hostile-server-*.c (see its header) and
 * the process measurements the malicious-server tests compare.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "scripted-server.h"
#include "vfio-user/error.h"
#include "vfio-user/transport.h"
#include "vfu-test.h"

#define FAKE_RECV_MS 5000
#define FAKE_MAX_MSG (1u << 24)
#define FAKE_STEP_FDS 128

typedef enum FakeOp {
    OP_EXPECT,
    OP_REPLY,
    OP_SEND_RAW,
    OP_SEND_MSG,
    OP_DMA,
    OP_CAPTURE,
    OP_FLOOD,
    OP_ECHO,
    OP_HANGUP,
    OP_STALL,
    OP_FREEZE,
    OP_WAIT_GO,
    OP_NOTIFY,
} FakeOp;

typedef struct FakeStep {
    FakeOp op;
    uint16_t cmd;
    uint32_t flags;
    FakeHdr h;
    uint8_t *data;
    size_t len;
    int fds[FAKE_STEP_FDS];
    size_t nfds;
    uint64_t addr, count; /* OP_DMA, OP_FLOOD */
    unsigned n;           /* OP_FLOOD */
} FakeStep;

/*
 * Locking: @lock guards @go and the flood counters read by the test; the
 * script state (@last, @captured, @steps) belongs to the fake's thread
 * between fake_start() and fake_join().
 */
struct FakeServer {
    int sv[2]; /* [0] client end, [1] ours */
    GPtrArray *steps;
    GPtrArray *captured; /* FakeMsg* */
    GThread *thread;
    VFIOUserHdr last; /* last expected request */
    uint16_t next_id;
    char *fail;
    GMutex send_lock; /* one writer at a time (the flood has two) */
    GMutex lock;
    GCond cond;
    bool go;
    unsigned notified, notify_seen;
    unsigned flood_ok, flood_err, flood_answered;
};

static void fake_msg_free(gpointer p)
{
    FakeMsg *m = p;

    g_free(m->payload);
    g_free(m);
}

static void fake_step_free(gpointer p)
{
    FakeStep *s = p;

    vfio_user_close_fds(s->fds, s->nfds);
    g_free(s->data);
    g_free(s);
}

FakeServer *fake_new(void)
{
    FakeServer *fs = g_new0(FakeServer, 1);

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fs->sv),
                    ==, 0);
    fs->steps = g_ptr_array_new_with_free_func(fake_step_free);
    fs->captured = g_ptr_array_new_with_free_func(fake_msg_free);
    fs->next_id = 0x7000;
    g_mutex_init(&fs->lock);
    g_mutex_init(&fs->send_lock);
    g_cond_init(&fs->cond);
    return fs;
}

int fake_client_fd(FakeServer *fs)
{
    return fs->sv[0];
}

static FakeStep *fake_add(FakeServer *fs, FakeOp op, const void *data,
                          size_t len, const int *fds, size_t nfds)
{
    FakeStep *s = g_new0(FakeStep, 1);

    g_assert_cmpuint(nfds, <=, FAKE_STEP_FDS);
    s->op = op;
    s->data = len ? g_memdup2(data, len) : NULL;
    s->len = len;
    for (size_t i = 0; i < nfds; i++) {
        s->fds[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 0);
        g_assert_cmpint(s->fds[i], >=, 0);
    }
    s->nfds = nfds;
    g_ptr_array_add(fs->steps, s);
    return s;
}

void fake_expect(FakeServer *fs, uint16_t cmd)
{
    fake_add(fs, OP_EXPECT, NULL, 0, NULL, 0)->cmd = cmd;
}

void fake_reply_ex(FakeServer *fs, const FakeHdr *h, const void *payload,
                   size_t len, const int *fds, size_t nfds)
{
    FakeStep *s = fake_add(fs, OP_REPLY, payload, len, fds, nfds);

    if (h) {
        s->h = *h;
    }
}

void fake_reply(FakeServer *fs, const void *payload, size_t len)
{
    fake_reply_ex(fs, NULL, payload, len, NULL, 0);
}

void fake_reply_error(FakeServer *fs, int errnum)
{
    FakeHdr h = {
        .set_flags = true,
        .flags = VFIO_USER_F_TYPE_REPLY | VFIO_USER_F_ERROR,
        .error = errnum,
    };

    fake_reply_ex(fs, &h, NULL, 0, NULL, 0);
}

void fake_send_raw(FakeServer *fs, const void *bytes, size_t len,
                   const int *fds, size_t nfds)
{
    fake_add(fs, OP_SEND_RAW, bytes, len, fds, nfds);
}

void fake_send_msg(FakeServer *fs, const FakeHdr *h, uint16_t cmd,
                   uint32_t flags, const void *payload, size_t len)
{
    FakeStep *s = fake_add(fs, OP_SEND_MSG, payload, len, NULL, 0);

    s->cmd = cmd;
    s->flags = flags;
    if (h) {
        s->h = *h;
    }
}

void fake_dma(FakeServer *fs, uint16_t cmd, uint64_t addr, uint64_t count,
              const void *data, size_t data_len)
{
    FakeStep *s = fake_add(fs, OP_DMA, data, data_len, NULL, 0);

    s->cmd = cmd;
    s->addr = addr;
    s->count = count;
}

void fake_capture(FakeServer *fs)
{
    fake_add(fs, OP_CAPTURE, NULL, 0, NULL, 0);
}

void fake_version(FakeServer *fs, const char *json)
{
    size_t len;
    g_autofree void *p = hs_version_payload(
        0,
        json
            ? json
            : "{\"capabilities\":{\"max_msg_fds\":8,\"max_data_xfer_size\":65536,\"pgsizes\":4096}}",
        true, &len);

    fake_expect(fs, VFIO_USER_VERSION);
    fake_reply(fs, p, len);
}

void fake_accept_maps(FakeServer *fs, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        fake_expect(fs, VFIO_USER_DMA_MAP);
        fake_reply(fs, NULL, 0);
    }
}

void fake_dma_flood(FakeServer *fs, unsigned n, uint64_t addr, uint64_t count,
                    const void *reply, size_t reply_len)
{
    FakeStep *s = fake_add(fs, OP_FLOOD, reply, reply_len, NULL, 0);

    s->n = n;
    s->addr = addr;
    s->count = count;
}

void fake_echo_until_eof(FakeServer *fs)
{
    fake_add(fs, OP_ECHO, NULL, 0, NULL, 0);
}

void fake_hangup(FakeServer *fs)
{
    fake_add(fs, OP_HANGUP, NULL, 0, NULL, 0);
}

void fake_stall(FakeServer *fs)
{
    fake_add(fs, OP_STALL, NULL, 0, NULL, 0);
}

void fake_freeze(FakeServer *fs)
{
    fake_add(fs, OP_FREEZE, NULL, 0, NULL, 0);
}

void fake_wait_go(FakeServer *fs)
{
    fake_add(fs, OP_WAIT_GO, NULL, 0, NULL, 0);
}

void fake_go(FakeServer *fs)
{
    g_mutex_lock(&fs->lock);
    fs->go = true;
    g_cond_broadcast(&fs->cond);
    g_mutex_unlock(&fs->lock);
}

void fake_notify(FakeServer *fs)
{
    fake_add(fs, OP_NOTIFY, NULL, 0, NULL, 0);
}

bool fake_wait_notify(FakeServer *fs)
{
    gint64 deadline = vut_deadline_ms(10000);
    bool ok = true;

    g_mutex_lock(&fs->lock);
    while (fs->notified == fs->notify_seen && ok) {
        ok = g_cond_wait_until(&fs->cond, &fs->lock, deadline);
    }
    if (ok) {
        fs->notify_seen++;
    }
    g_mutex_unlock(&fs->lock);
    return ok;
}

void fake_kill(FakeServer *fs)
{
    shutdown(fs->sv[1], SHUT_RDWR);
}

/* ---- the script thread ---- */

static bool fake_failf(FakeServer *fs, const char *fmt, ...)
    G_GNUC_PRINTF(2, 3);

static bool fake_failf(FakeServer *fs, const char *fmt, ...)
{
    va_list ap;

    if (!fs->fail) {
        va_start(ap, fmt);
        fs->fail = g_strdup_vprintf(fmt, ap);
        va_end(ap);
    }
    return false;
}

/* Receive one whole message; *eof set on a clean hang-up. */
static FakeMsg *fake_recv(FakeServer *fs, bool *eof)
{
    int fds[VFIO_USER_MAX_FDS];
    GError *err = NULL;
    FakeMsg *m;

    *eof = false;
    if (!vut_readable(fs->sv[1], FAKE_RECV_MS)) {
        fake_failf(fs, "nothing from the client within %d ms", FAKE_RECV_MS);
        return NULL;
    }
    m = g_new0(FakeMsg, 1);
    if (!vfio_user_msg_recv_hdr(fs->sv[1], &m->hdr, fds, &m->nfds,
                                VFIO_USER_MAX_FDS, FAKE_MAX_MSG, &err)) {
        *eof = err->code == ECONNRESET;
        if (!*eof) {
            fake_failf(fs, "bad message from the client: %s", err->message);
        }
        g_error_free(err);
        g_free(m);
        return NULL;
    }
    vfio_user_close_fds(fds, m->nfds);
    m->len = m->hdr.size - sizeof(m->hdr);
    m->payload = g_malloc(m->len + 1);
    if (!vfio_user_msg_recv_body(fs->sv[1], m->payload, m->len, &err)) {
        fake_failf(fs, "short message from the client: %s", err->message);
        g_error_free(err);
        fake_msg_free(m);
        return NULL;
    }
    return m;
}

/*
 * sendmsg() with any number of fds (the transport stops at VFIO_USER_MAX_FDS):
 * the fds go with the first byte, the rest through the transport.
 */
static bool fake_sendv_locked(FakeServer *fs, struct iovec *iov, int iovcnt,
                              const int *fds, size_t nfds)
{
    union {
        char buf[CMSG_SPACE(sizeof(int) * FAKE_STEP_FDS)];
        struct cmsghdr align;
    } ctl;
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 1};
    struct cmsghdr *c;
    GError *err = NULL;
    ssize_t n;

    if (nfds <= VFIO_USER_MAX_FDS || iov[0].iov_len == 0) {
        if (!vfio_user_msg_sendv(fs->sv[1], iov, iovcnt, fds, nfds, &err)) {
            if (err->code == EPIPE || err->code == ECONNRESET) {
                /* The client hung up on us: its right, not our failure. */
                g_error_free(err);
                return true;
            }
            fake_failf(fs, "%s", err->message);
            g_error_free(err);
            return false;
        }
        return true;
    }
    memset(&ctl, 0, sizeof(ctl));
    msg.msg_control = ctl.buf;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
    c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
    struct iovec first = {.iov_base = iov[0].iov_base, .iov_len = 1};
    msg.msg_iov = &first;
    n = sendmsg(fs->sv[1], &msg, MSG_NOSIGNAL);
    if (n < 0 && (errno == EPIPE || errno == ECONNRESET)) {
        return true;
    }
    if (n != 1) {
        return fake_failf(fs, "sendmsg with %zu fds failed: %s", nfds,
                          g_strerror(errno));
    }
    iov[0].iov_base = (uint8_t *)iov[0].iov_base + 1;
    iov[0].iov_len--;
    return fake_sendv_locked(fs, iov, iovcnt, NULL, 0);
}

static bool fake_sendv(FakeServer *fs, struct iovec *iov, int iovcnt,
                       const int *fds, size_t nfds)
{
    bool ok;

    g_mutex_lock(&fs->send_lock);
    ok = fake_sendv_locked(fs, iov, iovcnt, fds, nfds);
    g_mutex_unlock(&fs->send_lock);
    return ok;
}

static bool fake_send(FakeServer *fs, const VFIOUserHdr *hdr,
                      const void *payload, size_t len, const int *fds,
                      size_t nfds)
{
    struct iovec iov[2] = {
        {.iov_base = (void *)hdr, .iov_len = sizeof(*hdr)},
        {.iov_base = (void *)payload, .iov_len = len},
    };

    return fake_sendv(fs, iov, len ? 2 : 1, fds, nfds);
}

static void fake_apply(VFIOUserHdr *hdr, const FakeHdr *h)
{
    if (h->set_id) {
        hdr->id = h->id;
    }
    if (h->set_cmd) {
        hdr->cmd = h->cmd;
    }
    if (h->set_size) {
        hdr->size = h->size;
    }
    if (h->set_flags) {
        hdr->flags = h->flags;
    }
    hdr->error = h->error;
}

static bool fake_do_expect(FakeServer *fs, FakeStep *s)
{
    bool eof;
    FakeMsg *m = fake_recv(fs, &eof);

    if (!m) {
        return eof ? fake_failf(fs, "client hung up, expected %s",
                                vfio_user_cmd_name(s->cmd))
                   : false;
    }
    fs->last = m->hdr;
    if (vfio_user_hdr_is_reply(&m->hdr) || (s->cmd && m->hdr.cmd != s->cmd)) {
        fake_failf(fs, "expected a %s request, got %s (flags 0x%x)",
                   vfio_user_cmd_name(s->cmd), vfio_user_cmd_name(m->hdr.cmd),
                   m->hdr.flags);
        fake_msg_free(m);
        return false;
    }
    g_ptr_array_add(fs->captured, m);
    return true;
}

static bool fake_do_reply(FakeServer *fs, FakeStep *s)
{
    VFIOUserHdr hdr;

    vfio_user_hdr_init(&hdr, fs->last.id, fs->last.cmd, sizeof(hdr) + s->len,
                       VFIO_USER_F_TYPE_REPLY);
    fake_apply(&hdr, &s->h);
    return fake_send(fs, &hdr, s->data, s->len, s->fds, s->nfds);
}

static bool fake_do_raw(FakeServer *fs, FakeStep *s)
{
    struct iovec iov = {.iov_base = s->data, .iov_len = s->len};

    return fake_sendv(fs, &iov, 1, s->fds, s->nfds);
}

static bool fake_do_send_msg(FakeServer *fs, FakeStep *s)
{
    VFIOUserHdr hdr;

    vfio_user_hdr_init(&hdr, fs->next_id++, s->cmd, sizeof(hdr) + s->len,
                       s->flags);
    fake_apply(&hdr, &s->h);
    return fake_send(fs, &hdr, s->data, s->len, NULL, 0);
}

static bool fake_do_capture(FakeServer *fs)
{
    bool eof;
    FakeMsg *m = fake_recv(fs, &eof);

    if (!m) {
        return eof ? fake_failf(fs, "client hung up before a capture") : false;
    }
    g_ptr_array_add(fs->captured, m);
    return true;
}

static bool fake_do_dma(FakeServer *fs, FakeStep *s)
{
    VFIOUserDMARW rw = {.addr = s->addr, .count = s->count};
    g_autofree uint8_t *p = g_malloc(sizeof(rw) + s->len);
    VFIOUserHdr hdr;

    memcpy(p, &rw, sizeof(rw));
    if (s->len) {
        memcpy(p + sizeof(rw), s->data, s->len);
    }
    vfio_user_hdr_init(&hdr, fs->next_id++, s->cmd,
                       sizeof(hdr) + sizeof(rw) + s->len,
                       VFIO_USER_F_TYPE_REQUEST);
    return fake_send(fs, &hdr, p, sizeof(rw) + s->len, NULL, 0) &&
           fake_do_capture(fs);
}

/*
 * The flood has two threads: this one only writes (the requests, and the
 * replies to client requests the reader queued), the script thread only
 * reads, so neither can block the other through a full socket.
 * FloodSender.lock guards @replies and @reader_done.
 */
typedef struct FloodSender {
    FakeServer *fs;
    FakeStep *s;
    bool ok;
    GMutex lock;
    GCond cond;
    GQueue replies; /* VFIOUserHdr* of client requests to answer */
    bool reader_done;
} FloodSender;

/* Send the queued replies; with @wait, until the reader is done. */
static void flood_send_replies(FloodSender *f, bool wait)
{
    g_mutex_lock(&f->lock);
    for (;;) {
        VFIOUserHdr *req = g_queue_pop_head(&f->replies);

        if (req) {
            VFIOUserHdr hdr;

            g_mutex_unlock(&f->lock);
            vfio_user_hdr_init(&hdr, req->id, req->cmd, sizeof(hdr) + f->s->len,
                               VFIO_USER_F_TYPE_REPLY);
            f->ok =
                f->ok && fake_send(f->fs, &hdr, f->s->data, f->s->len, NULL, 0);
            g_free(req);
            g_mutex_lock(&f->lock);
        } else if (wait && !f->reader_done) {
            g_cond_wait(&f->cond, &f->lock);
        } else {
            break;
        }
    }
    g_mutex_unlock(&f->lock);
}

static gpointer fake_flood_sender(gpointer opaque)
{
    FloodSender *f = opaque;
    VFIOUserDMARW rw = {.addr = f->s->addr, .count = f->s->count};
    VFIOUserHdr hdr;

    for (unsigned i = 0; i < f->s->n && f->ok; i++) {
        struct iovec iov[2] = {
            {.iov_base = &hdr, .iov_len = sizeof(hdr)},
            {.iov_base = &rw, .iov_len = sizeof(rw)},
        };

        vfio_user_hdr_init(&hdr, (uint16_t)i, VFIO_USER_DMA_READ,
                           sizeof(hdr) + sizeof(rw), VFIO_USER_F_TYPE_REQUEST);
        f->ok = fake_sendv(f->fs, iov, 2, NULL, 0);
        flood_send_replies(f, false);
    }
    flood_send_replies(f, true);
    return NULL;
}

static void flood_count(FakeServer *fs, const FakeMsg *m, uint64_t count)
{
    g_mutex_lock(&fs->lock);
    if (m->hdr.flags & VFIO_USER_F_ERROR) {
        fs->flood_err++;
    } else if (m->len == sizeof(VFIOUserDMARW) + count) {
        fs->flood_ok++;
    }
    g_mutex_unlock(&fs->lock);
}

/* Read flood replies; queue client requests for the canned answer. */
static bool fake_do_flood(FakeServer *fs, FakeStep *s)
{
    FloodSender f = {.fs = fs, .s = s, .ok = true};
    GThread *t;
    unsigned got = 0;
    bool ok = true;

    g_mutex_init(&f.lock);
    g_cond_init(&f.cond);
    g_queue_init(&f.replies);
    t = g_thread_new("fake-flood", fake_flood_sender, &f);
    while (ok && got < s->n) {
        bool eof;
        FakeMsg *m = fake_recv(fs, &eof);

        if (!m) {
            ok =
                eof ? fake_failf(fs, "client hung up during the flood") : false;
            break;
        }
        if (!vfio_user_hdr_is_reply(&m->hdr)) {
            g_mutex_lock(&f.lock);
            g_queue_push_tail(&f.replies, g_memdup2(&m->hdr, sizeof(m->hdr)));
            g_cond_signal(&f.cond);
            g_mutex_unlock(&f.lock);
            g_mutex_lock(&fs->lock);
            fs->flood_answered++;
            g_mutex_unlock(&fs->lock);
        } else {
            got++;
            flood_count(fs, m, s->count);
        }
        fake_msg_free(m);
    }
    if (!ok) {
        shutdown(fs->sv[1], SHUT_RDWR);
    }
    g_mutex_lock(&f.lock);
    f.reader_done = true;
    g_cond_signal(&f.cond);
    g_mutex_unlock(&f.lock);
    g_thread_join(t);
    g_queue_clear_full(&f.replies, g_free);
    g_cond_clear(&f.cond);
    g_mutex_clear(&f.lock);
    return ok && (f.ok || fake_failf(fs, "flood send failed"));
}

static bool fake_do_echo(FakeServer *fs)
{
    for (;;) {
        bool eof;
        FakeMsg *m = fake_recv(fs, &eof);
        VFIOUserHdr hdr;
        bool ok = true;

        if (!m) {
            return eof;
        }
        if (!vfio_user_hdr_is_reply(&m->hdr)) {
            vfio_user_hdr_init(&hdr, m->hdr.id, m->hdr.cmd, m->hdr.size,
                               VFIO_USER_F_TYPE_REPLY);
            ok = fake_send(fs, &hdr, m->payload, m->len, NULL, 0);
        }
        fake_msg_free(m);
        if (!ok) {
            return false;
        }
    }
}

/* Wait for EOF from the client, discarding whatever it sends. */
static bool fake_do_stall(FakeServer *fs)
{
    char buf[4096];
    gint64 deadline = vut_deadline_ms(20000);

    while (g_get_monotonic_time() < deadline) {
        ssize_t n;

        if (!vut_readable(fs->sv[1], 100)) {
            continue;
        }
        n = recv(fs->sv[1], buf, sizeof(buf), MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            return true;
        }
    }
    return fake_failf(fs, "the client never closed the connection");
}

/* Wait for the client to hang up without reading a byte (20 s at most). */
static bool fake_do_freeze(FakeServer *fs)
{
    struct pollfd pfd = {.fd = fs->sv[1], .events = POLLRDHUP};
    int r;

    do {
        r = poll(&pfd, 1, 20000);
    } while (r < 0 && errno == EINTR);
    return r > 0 || fake_failf(fs, "the client never closed the connection");
}

static bool fake_do_wait_go(FakeServer *fs)
{
    gint64 deadline = vut_deadline_ms(10000);
    bool ok = true;

    g_mutex_lock(&fs->lock);
    while (!fs->go && ok) {
        ok = g_cond_wait_until(&fs->cond, &fs->lock, deadline);
    }
    fs->go = false;
    g_mutex_unlock(&fs->lock);
    return ok || fake_failf(fs, "the test never said go");
}

static bool fake_run_step(FakeServer *fs, FakeStep *s)
{
    switch (s->op) {
    case OP_EXPECT:
        return fake_do_expect(fs, s);
    case OP_REPLY:
        return fake_do_reply(fs, s);
    case OP_SEND_RAW:
        return fake_do_raw(fs, s);
    case OP_SEND_MSG:
        return fake_do_send_msg(fs, s);
    case OP_DMA:
        return fake_do_dma(fs, s);
    case OP_CAPTURE:
        return fake_do_capture(fs);
    case OP_FLOOD:
        return fake_do_flood(fs, s);
    case OP_ECHO:
        return fake_do_echo(fs);
    case OP_HANGUP:
        shutdown(fs->sv[1], SHUT_RDWR);
        return true;
    case OP_STALL:
        return fake_do_stall(fs);
    case OP_FREEZE:
        return fake_do_freeze(fs);
    case OP_WAIT_GO:
        return fake_do_wait_go(fs);
    case OP_NOTIFY:
        g_mutex_lock(&fs->lock);
        fs->notified++;
        g_cond_broadcast(&fs->cond);
        g_mutex_unlock(&fs->lock);
        return true;
    }
    return fake_failf(fs, "unknown step %d", s->op);
}

static gpointer fake_main(gpointer opaque)
{
    FakeServer *fs = opaque;

    for (guint i = 0; i < fs->steps->len; i++) {
        if (!fake_run_step(fs, g_ptr_array_index(fs->steps, i))) {
            fake_failf(fs, "step %u failed", i);
            /* Let the client see the end instead of waiting for us. */
            shutdown(fs->sv[1], SHUT_RDWR);
            break;
        }
    }
    return NULL;
}

void fake_start(FakeServer *fs)
{
    fs->thread = g_thread_new("fake-server", fake_main, fs);
}

char *fake_join(FakeServer *fs)
{
    char *fail;

    g_thread_join(fs->thread);
    close(fs->sv[1]);
    fail = fs->fail;
    g_ptr_array_free(fs->steps, TRUE);
    g_ptr_array_free(fs->captured, TRUE);
    g_cond_clear(&fs->cond);
    g_mutex_clear(&fs->lock);
    g_mutex_clear(&fs->send_lock);
    g_free(fs);
    return fail;
}

const FakeMsg *fake_captured(FakeServer *fs, unsigned i)
{
    g_assert_cmpuint(i, <, fs->captured->len);
    return g_ptr_array_index(fs->captured, i);
}

unsigned fake_flood_ok(FakeServer *fs)
{
    unsigned n;

    g_mutex_lock(&fs->lock);
    n = fs->flood_ok;
    g_mutex_unlock(&fs->lock);
    return n;
}

unsigned fake_flood_errors(FakeServer *fs)
{
    unsigned n;

    g_mutex_lock(&fs->lock);
    n = fs->flood_err;
    g_mutex_unlock(&fs->lock);
    return n;
}

unsigned fake_flood_answered(FakeServer *fs)
{
    unsigned n;

    g_mutex_lock(&fs->lock);
    n = fs->flood_answered;
    g_mutex_unlock(&fs->lock);
    return n;
}

/* ---- measurements ---- */

size_t hs_rss_kb(void)
{
    g_autofree char *text = NULL;
    const char *p;

    g_assert_true(g_file_get_contents("/proc/self/status", &text, NULL, NULL));
    p = strstr(text, "VmRSS:");
    g_assert_nonnull(p);
    return strtoull(p + 6, NULL, 10);
}

void *hs_version_payload(uint16_t major, const char *json, bool nul,
                         size_t *len)
{
    size_t jlen = json ? strlen(json) + (nul ? 1 : 0) : 0;
    uint8_t *p = g_malloc(4 + jlen + 1);
    uint16_t v[2] = {major, 1};

    memcpy(p, v, sizeof(v));
    if (jlen) {
        memcpy(p + 4, json, jlen);
    }
    *len = 4 + jlen;
    return p;
}
