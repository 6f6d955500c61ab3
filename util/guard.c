/*
 * SIGBUS-safe access to peer-shrinkable mappings (see vfio-user/guard.h).
 *
 * A guarded call records a frame (a sigjmp_buf and the risky range) in a
 * thread-local pointer and runs the access.  Our SIGBUS handler, installed
 * once for the process with SA_NODEFER (so nothing stays blocked after the
 * jump) and chained to the handler found before it, jumps back to the frame
 * when the fault is the guarded thread's, inside the guarded range.
 * sigsetjmp() does not save the signal mask: it costs no system call.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include "vfio-user/guard.h"

typedef struct GuardFrame {
    sigjmp_buf jb;
    uintptr_t lo;
    size_t len;
} GuardFrame;

static __thread GuardFrame *guard_frame;
static struct sigaction guard_prev;
static pthread_once_t guard_once = PTHREAD_ONCE_INIT;
static unsigned long guard_nfaults;

static void guard_chain(int sig, siginfo_t *si, void *uc)
{
    if ((guard_prev.sa_flags & SA_SIGINFO) && guard_prev.sa_sigaction) {
        guard_prev.sa_sigaction(sig, si, uc);
    } else if (guard_prev.sa_handler != SIG_DFL &&
               guard_prev.sa_handler != SIG_IGN) {
        guard_prev.sa_handler(sig);
    } else {
        /* Default action: returning re-runs the access, which kills us. */
        signal(sig, SIG_DFL);
    }
}

static void guard_handler(int sig, siginfo_t *si, void *uc)
{
    GuardFrame *f = guard_frame;
    uintptr_t a = (uintptr_t)si->si_addr;

    if (f && a >= f->lo && a - f->lo < f->len) {
        guard_frame = NULL;
        __atomic_fetch_add(&guard_nfaults, 1, __ATOMIC_RELAXED);
        siglongjmp(f->jb, 1);
    }
    guard_chain(sig, si, uc);
}

static void guard_install(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = guard_handler;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, &guard_prev);
}

bool vfio_user_guard_call(const void *risky, size_t len, VfioUserGuardFn fn,
                          void *opaque)
{
    GuardFrame f;
    GuardFrame *outer = guard_frame;

    pthread_once(&guard_once, guard_install);
    f.lo = (uintptr_t)risky;
    f.len = len;
    if (sigsetjmp(f.jb, 0)) {
        guard_frame = outer;
        return false;
    }
    guard_frame = &f;
    fn(opaque);
    guard_frame = outer;
    return true;
}

typedef struct GuardCopy {
    void *dst;
    const void *src;
    size_t len;
} GuardCopy;

/*
 * A naturally aligned 2-, 4- or 8-byte copy is one load and one store, as
 * a register-sized access to a ring index must be: memcpy()'s small-size
 * path loads the last byte apart, so an index the peer updates meanwhile
 * would be read torn (0x06ff -> 0x0700 read as 0x07ff).
 */
static void guard_do_copy(void *opaque)
{
    GuardCopy *c = opaque;

    if (c->len >= 2 && c->len <= 8 &&
        ((uintptr_t)c->dst | (uintptr_t)c->src) % c->len == 0) {
        switch (c->len) {
        case 2:
            __atomic_store_n(
                (uint16_t *)c->dst,
                __atomic_load_n((const uint16_t *)c->src, __ATOMIC_RELAXED),
                __ATOMIC_RELAXED);
            return;
        case 4:
            __atomic_store_n(
                (uint32_t *)c->dst,
                __atomic_load_n((const uint32_t *)c->src, __ATOMIC_RELAXED),
                __ATOMIC_RELAXED);
            return;
        case 8:
            __atomic_store_n(
                (uint64_t *)c->dst,
                __atomic_load_n((const uint64_t *)c->src, __ATOMIC_RELAXED),
                __ATOMIC_RELAXED);
            return;
        }
    }
    memcpy(c->dst, c->src, c->len);
}

bool vfio_user_guard_copy(void *dst, const void *src, size_t len,
                          bool risky_src)
{
    GuardCopy c = {.dst = dst, .src = src, .len = len};

    return vfio_user_guard_call(risky_src ? src : dst, len, guard_do_copy, &c);
}

unsigned long vfio_user_guard_faults(void)
{
    return __atomic_load_n(&guard_nfaults, __ATOMIC_RELAXED);
}
