/*
 * Shared support for the unit tests (see vfu-test.h): counters read from
 * /proc/self, the loader of recorded sessions, temporary socket
 * directories, resource limits and small synchronisation helpers.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "vfio-user/transport.h"

#include "vfu-test.h"

#if defined(__SANITIZE_ADDRESS__)
#define VUT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VUT_ASAN 1
#endif
#endif

void vut_init_keep_going(int *argc, char ***argv)
{
    static char *args[64];
    char **argp = args;

    g_assert_cmpint(*argc, <, (int)G_N_ELEMENTS(args) - 1);
    memcpy(args, *argv, *argc * sizeof(char *));
    args[(*argc)++] = (char *)"--keep-going";
    g_test_init(argc, &argp, NULL);
    *argv = argp;
}

/*
 * Entries of a /proc directory, "." and ".." excluded.  getdents64() into
 * a stack buffer rather than GDir or opendir(), whose allocations (32 KiB
 * under ASan) made this the costliest step of a fuzzer's input.
 */
static unsigned count_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    uint8_t buf[4096] __attribute__((aligned(8)));
    unsigned n = 0;
    ssize_t len;

    g_assert_cmpint(fd, >=, 0);
    while ((len = getdents64(fd, buf, sizeof(buf))) > 0) {
        for (ssize_t off = 0; off < len;) {
            const struct dirent64 *e = (const void *)(buf + off);

            n += e->d_name[0] != '.';
            off += e->d_reclen;
        }
    }
    g_assert_cmpint(len, ==, 0);
    close(fd);
    return n;
}

unsigned vut_count_fds(void)
{
    return count_dir("/proc/self/fd") - 1; /* count_dir()'s own fd */
}

unsigned vut_count_threads(void)
{
    return count_dir("/proc/self/task");
}

unsigned vut_count_maps(void)
{
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;
    unsigned n = 0;

    g_assert_true(g_file_get_contents("/proc/self/maps", &text, NULL, NULL));
    lines = g_strsplit(text, "\n", -1);
    for (char **l = lines; *l; l++) {
#ifdef VUT_ASAN
        g_auto(GStrv) f = g_strsplit_set(*l, " ", -1);
        unsigned fields = 0;

        for (char **t = f; *t; t++) {
            fields += **t != 0;
        }
        n += fields >= 6;
#else
        n += **l != 0;
#endif
    }
    return n;
}

static void record_free(gpointer p)
{
    VutRecord *r = p;

    g_bytes_unref(r->payload);
    g_free(r);
}

static GBytes *unhex(const char *s)
{
    size_t n = strlen(s) / 2;
    guint8 *b = g_malloc(n + 1);

    for (size_t i = 0; i < n; i++) {
        b[i] = g_ascii_xdigit_value(s[2 * i]) << 4 |
               g_ascii_xdigit_value(s[2 * i + 1]);
    }
    return g_bytes_new_take(b, n);
}

static VutRecord *record_parse(const char *line)
{
    g_autoptr(JsonParser) p = json_parser_new();
    VutRecord *r = g_new0(VutRecord, 1);
    JsonObject *o;
    uint32_t flags;

    g_assert_true(json_parser_load_from_data(p, line, -1, NULL));
    o = json_node_get_object(json_parser_get_root(p));
    r->c2s = !strcmp(json_object_get_string_member(o, "dir"), "c2s");
    flags = !strcmp(json_object_get_string_member(o, "type"), "reply")
                ? VFIO_USER_F_TYPE_REPLY
                : 0;
    if (json_object_get_boolean_member(o, "no_reply")) {
        flags |= VFIO_USER_F_NO_REPLY;
    }
    if (json_object_get_boolean_member(o, "error_flag")) {
        flags |= VFIO_USER_F_ERROR;
    }
    vfio_user_hdr_init(&r->hdr, json_object_get_int_member(o, "id"),
                       json_object_get_int_member(o, "cmd"),
                       json_object_get_int_member(o, "size"), flags);
    r->hdr.error = json_object_get_int_member(o, "errno");
    r->payload = unhex(json_object_get_string_member(o, "payload_hex"));
    r->truncated = json_object_has_member(o, "payload_len");
    r->payload_len = r->truncated
                         ? (size_t)json_object_get_int_member(o, "payload_len")
                         : g_bytes_get_size(r->payload);
    r->nfds = json_object_get_int_member(o, "nfds");
    return r;
}

GPtrArray *vut_load_session(const char *name)
{
    g_autofree char *path = g_path_is_absolute(name)
                                ? g_strdup(name)
                                : g_build_filename(TEST_DATA_DIR, name, NULL);
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;
    GPtrArray *recs = g_ptr_array_new_with_free_func(record_free);

    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    lines = g_strsplit(text, "\n", -1);
    for (char **l = lines; *l; l++) {
        if (**l) {
            g_ptr_array_add(recs, record_parse(*l));
        }
    }
    return recs;
}

char *vut_sock_dir_new(const char *prefix)
{
    g_autofree char *tmpl = g_strdup_printf("%s-XXXXXX", prefix);
    GError *err = NULL;
    char *dir = g_dir_make_tmp(tmpl, &err);

    g_assert_no_error(err);
    g_assert_nonnull(dir);
    return dir;
}

bool vut_sock_dir_remove(const char *dir, const char *path)
{
    if (path) {
        g_unlink(path);
    }
    return g_rmdir(dir) == 0;
}

static int unix_socket(const char *path, struct sockaddr_un *sa)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpuint(strlen(path), <, sizeof(sa->sun_path));
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    g_strlcpy(sa->sun_path, path, sizeof(sa->sun_path));
    return fd;
}

int vut_unix_bind(const char *path)
{
    struct sockaddr_un sa;
    int fd = unix_socket(path, &sa);

    g_assert_cmpint(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
    return fd;
}

int vut_unix_connect(const char *path)
{
    struct sockaddr_un sa;
    int fd = unix_socket(path, &sa);

    g_assert_cmpint(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
    return fd;
}

#ifndef VUT_ASAN
static struct rlimit saved_as;
#endif

void vut_limit_address_space(void)
{
#ifndef VUT_ASAN
    g_autofree char *text = NULL;
    struct rlimit r;
    const char *p;

    g_assert_true(g_file_get_contents("/proc/self/status", &text, NULL, NULL));
    p = strstr(text, "VmSize:");
    g_assert_nonnull(p);
    g_assert_cmpint(getrlimit(RLIMIT_AS, &saved_as), ==, 0);
    r = saved_as;
    r.rlim_cur = (strtoull(p + 7, NULL, 10) << 10) + (512u << 20);
    g_assert_cmpint(setrlimit(RLIMIT_AS, &r), ==, 0);
#endif
}

void vut_unlimit_address_space(void)
{
#ifndef VUT_ASAN
    g_assert_cmpint(setrlimit(RLIMIT_AS, &saved_as), ==, 0);
#endif
}

void vut_event_init(VutEvent *e)
{
    g_mutex_init(&e->lock);
    g_cond_init(&e->cond);
    e->set = false;
}

void vut_event_set(VutEvent *e)
{
    g_mutex_lock(&e->lock);
    e->set = true;
    g_cond_broadcast(&e->cond);
    g_mutex_unlock(&e->lock);
}

bool vut_event_wait(VutEvent *e, unsigned ms)
{
    gint64 deadline = vut_deadline_ms(ms);
    bool set;

    g_mutex_lock(&e->lock);
    while (!e->set && g_cond_wait_until(&e->cond, &e->lock, deadline)) {
    }
    set = e->set;
    g_mutex_unlock(&e->lock);
    return set;
}

void vut_event_clear(VutEvent *e)
{
    g_cond_clear(&e->cond);
    g_mutex_clear(&e->lock);
}

gint64 vut_deadline_ms(unsigned ms)
{
    return g_get_monotonic_time() + (gint64)ms * G_TIME_SPAN_MILLISECOND;
}

bool vut_readable(int fd, int ms)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    int r;

    do {
        r = poll(&pfd, 1, ms);
    } while (r < 0 && errno == EINTR);
    return r > 0;
}
