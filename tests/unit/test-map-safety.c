/*
 * Access-mode safety of the container's map planning (hw/vfio-user/
 * container.c, container-probe.c) against the fake server of
 * fake-dma-server.c, with the real client library:
 *
 * - /proc/self/mem is never sent before the server has shown that it
 *   understands access modes (a legacy server, or one that gives no clear
 *   answer, never receives it);
 * - the legacy decision comes from an unambiguous probe: a modern server
 *   that refuses one map with EINVAL for its own reasons is reported as
 *   such and later maps keep their mode bits;
 * - the mmap probe uses the protection the server will use (a write-
 *   sealed memfd or an O_RDONLY file is not planned as a writable mmap);
 * - dma-access=auto steps down mmap -> file-io -> messages when the server
 *   refuses a mode with EACCES/EPERM/ENODEV, logging each step once.
 *
 * Every case checks that the test process holds no more fds after it.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "hw/vfio-user/container.h"
#include "vfio-user/error.h"
#include "fake-dma-server.h"
#include "vfu-test.h"

#define PG 4096u
#define F_RW (VFIO_USER_DMA_MAP_F_READ | VFIO_USER_DMA_MAP_F_WRITE)
#define F_MMAP VFIO_USER_DMA_MAP_F_MODE_MMAP
#define F_FILE VFIO_USER_DMA_MAP_F_MODE_FILE_IO

typedef struct Env {
    FakeServer *fs;
    VFIOUserProxy *proxy;
    VFIOUserContainer *c;
    int fds_before;
} Env;

/* The device as vfio_user_pci_label() names it: log lines start with it. */
#define DEV_LABEL "vfio-user-pci 'dev0'"

static void env_init(Env *e, const FakeConfig *cfg, VFIOUserDMAAccess policy)
{
    VFIOUserProxyOptions opts;
    g_autoptr(GError) err = NULL;
    int sock;

    e->fds_before = vut_count_fds();
    e->fs = fake_server_new(cfg, &sock);
    vfio_user_proxy_options_init(&opts);
    opts.label = DEV_LABEL;
    e->proxy = vfio_user_proxy_new_from_fd(sock, &opts, &err);
    g_assert_no_error(err);
    e->c = vfio_user_container_new(e->proxy, policy);
}

static void env_fini(Env *e)
{
    vfio_user_container_free(e->c);
    vfio_user_proxy_close(e->proxy);
    fake_server_free(e->fs);
    g_assert_cmpint(vut_count_fds(), ==, e->fds_before);
}

static VFIOUserDMASection section(const char *name, uint64_t iova, void *host,
                                  int fd, bool readonly)
{
    return (VFIOUserDMASection){
        .name = name,
        .iova = iova,
        .size = PG,
        .host = host,
        .fd = fd,
        .readonly = readonly,
    };
}

static void *anon_page(void)
{
    void *p = mmap(NULL, PG, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    g_assert(p != MAP_FAILED);
    return p;
}

static int memfd_page(unsigned seals)
{
    int fd = memfd_create("ram", MFD_CLOEXEC | MFD_ALLOW_SEALING);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(ftruncate(fd, PG), ==, 0);
    if (seals) {
        g_assert_cmpint(fcntl(fd, F_ADD_SEALS, seals), ==, 0);
    }
    return fd;
}

static VFIOUserDMAMapInfo map_info(Env *e, size_t i)
{
    VFIOUserDMAMapInfo info[8];
    size_t n = vfio_user_container_maps(e->c, info, G_N_ELEMENTS(info));

    g_assert_cmpuint(i, <, MIN(n, G_N_ELEMENTS(info)));
    return info[i];
}

/* No DMA_MAP the server got carried an fd of procfs (/proc/self/mem). */
static void assert_no_proc_mem(Env *e)
{
    struct stat proc;

    g_assert_cmpint(stat("/proc/self/mem", &proc), ==, 0);
    for (size_t i = 0; i < fake_server_nmaps(e->fs); i++) {
        FakeMap m = fake_server_map(e->fs, i);

        if (m.nfds) {
            g_assert_cmpuint(m.st.st_dev, !=, proc.st_dev);
        }
    }
}

/* 6: a legacy server never receives /proc/self/mem, and gets messages. */
static void test_proc_mem_legacy(void)
{
    FakeConfig cfg = {.legacy = true};
    void *host = anon_page();
    g_autoptr(GError) err = NULL;
    Env e;

    env_init(&e, &cfg, VFIO_USER_DMA_ACCESS_FILE_IO);
    VFIOUserDMASection s = section("ram0", 0, host, -1, false);
    g_test_expect_message(
        "vfio-user-dma", G_LOG_LEVEL_MESSAGE,
        DEV_LABEL
        ": server does not support DMA access modes; using legacy DMA_MAP");
    g_assert_true(vfio_user_container_map(e.c, &s, &err));
    g_assert_no_error(err);
    g_test_assert_expected_messages();
    assert_no_proc_mem(&e);
    g_assert_cmpint(map_info(&e, 0).mode, ==, VFIO_USER_DMA_ACCESS_MESSAGE);
    g_assert_false(map_info(&e, 0).via_proc_self_mem);
    env_fini(&e);
    munmap(host, PG);
}

/* 6: a server that gives no clear answer does not get it either. */
static void test_proc_mem_unclear(void)
{
    FakeConfig cfg = {.map_errno = ENOMEM};
    void *host = anon_page();
    g_autoptr(GError) err = NULL;
    Env e;

    env_init(&e, &cfg, VFIO_USER_DMA_ACCESS_FILE_IO);
    VFIOUserDMASection s = section("ram0", 0, host, -1, false);
    g_assert_false(vfio_user_container_map(e.c, &s, &err));
    g_test_message("%s", err->message);
    g_assert_nonnull(strstr(err->message, "/proc/self/mem is not sent"));
    assert_no_proc_mem(&e);
    g_assert_cmpuint(fake_server_nmaps(e.fs), ==, 1); /* the probe only */
    g_assert_false(vfio_user_container_legacy_server(e.c));
    env_fini(&e);
    munmap(host, PG);
}

/* 7: a modern server's own EINVAL is reported, and nothing downgraded. */
static void test_einval_not_legacy(void)
{
    FakeConfig cfg = {.fail_nth = 1, .fail_errno = EINVAL};
    int fd0 = memfd_page(0), fd1 = memfd_page(0);
    void *h0 = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd0, 0);
    void *h1 = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd1, 0);
    g_autoptr(GError) err = NULL;
    Env e;

    env_init(&e, &cfg, VFIO_USER_DMA_ACCESS_AUTO);
    VFIOUserDMASection s0 = section("ram0", 0, h0, fd0, false);
    VFIOUserDMASection s1 = section("ram1", 0x10000, h1, fd1, false);
    g_assert_false(vfio_user_container_map(e.c, &s0, &err));
    g_assert_error(err, VFIO_USER_ERROR, EINVAL);
    g_assert_nonnull(strstr(err->message, "'ram0'"));
    g_assert_nonnull(strstr(err->message, "(mmap)"));
    g_assert_false(vfio_user_container_legacy_server(e.c));
    /* the probe with the bit was accepted and unmapped again */
    g_assert_cmphex(fake_server_map(e.fs, 1).flags, ==, F_RW | F_MMAP);
    g_assert_cmpint(fake_server_map(e.fs, 1).reply_errno, ==, 0);
    g_assert_cmpuint(fake_server_nunmaps(e.fs), ==, 1);
    /* later maps keep their mode bits */
    g_assert_true(vfio_user_container_map(e.c, &s1, NULL));
    g_assert_cmphex(fake_server_map(e.fs, 2).flags, ==, F_RW | F_MMAP);
    g_assert_cmpuint(fake_server_nmaps(e.fs), ==, 3);
    g_assert_cmpint(map_info(&e, 0).mode, ==, VFIO_USER_DMA_ACCESS_MMAP);
    env_fini(&e);
    munmap(h0, PG);
    munmap(h1, PG);
    close(fd0);
    close(fd1);
}

/* 8: a write-sealed memfd maps read-only only: not a writable mmap. */
static void test_probe_write_sealed(void)
{
    int fd = memfd_page(F_SEAL_WRITE);
    void *host = mmap(NULL, PG, PROT_READ, MAP_SHARED, fd, 0);
    Env e;

    g_assert(host != MAP_FAILED);
    env_init(&e, NULL, VFIO_USER_DMA_ACCESS_AUTO);
    VFIOUserDMASection rw = section("rw", 0, host, fd, false);
    VFIOUserDMASection ro = section("ro", 0x10000, host, fd, true);
    g_assert_true(vfio_user_container_map(e.c, &rw, NULL));
    g_assert_true(vfio_user_container_map(e.c, &ro, NULL));
    g_assert_cmphex(fake_server_map(e.fs, 0).flags, ==, F_RW | F_FILE);
    /* the same file, read-only: mmap works, and the verdict is not shared */
    g_assert_cmphex(fake_server_map(e.fs, 1).flags, ==,
                    VFIO_USER_DMA_MAP_F_READ | F_MMAP);
    env_fini(&e);
    munmap(host, PG);
    close(fd);
}

/* 8: a file opened O_RDONLY, written by the device: file-io, not mmap. */
static void test_probe_rdonly_file(void)
{
    g_autofree char *dir = g_dir_make_tmp("vfu-map-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "ram", NULL);
    void *host;
    int fd;
    Env e;

    g_assert_true(g_file_set_contents(path, "", 0, NULL));
    g_assert_cmpint(truncate(path, PG), ==, 0);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    g_assert_cmpint(fd, >=, 0);
    host = mmap(NULL, PG, PROT_READ, MAP_SHARED, fd, 0);
    g_assert(host != MAP_FAILED);
    env_init(&e, NULL, VFIO_USER_DMA_ACCESS_AUTO);
    VFIOUserDMASection ro = section("ro", 0, host, fd, true);
    VFIOUserDMASection rw = section("rw", 0x10000, host, fd, false);
    g_assert_true(vfio_user_container_map(e.c, &ro, NULL));
    g_assert_true(vfio_user_container_map(e.c, &rw, NULL));
    g_assert_cmphex(fake_server_map(e.fs, 0).flags, ==,
                    VFIO_USER_DMA_MAP_F_READ | F_MMAP);
    g_assert_cmphex(fake_server_map(e.fs, 1).flags, ==, F_RW | F_FILE);
    env_fini(&e);
    munmap(host, PG);
    close(fd);
    unlink(path);
    rmdir(dir);
}

/* The step-down lines, exactly: the device once, the section, why. */
static void count_fallback_log(const gchar *domain, GLogLevelFlags level,
                               const gchar *message, gpointer opaque)
{
    g_autofree char *mmap_line = g_strdup_printf(
        DEV_LABEL
        ": section 'ram': the server refused mmap (%s); using file-io",
        g_strerror(EACCES));
    g_autofree char *file_line = g_strdup_printf(
        DEV_LABEL
        ": section 'ram': the server refused file-io (%s); using message",
        g_strerror(ENODEV));
    int *n = opaque;

    (void)domain;
    (void)level;
    if (!strcmp(message, mmap_line)) {
        n[0]++;
    } else if (!strcmp(message, file_line)) {
        n[1]++;
    }
}

/* 8: auto steps down when the server refuses a mode; logged once each. */
static void test_auto_step_down(void)
{
    FakeConfig cfg = {.mmap_errno = EACCES, .file_io_errno = ENODEV};
    FakeConfig cfg2 = {.mmap_errno = EPERM};
    int fd = memfd_page(0);
    void *host = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    int logged[2] = {0, 0};
    guint handler;
    Env e;

    handler = g_log_set_handler("vfio-user-dma", G_LOG_LEVEL_MESSAGE,
                                count_fallback_log, logged);
    /* mmap refused, file-io refused: messages */
    env_init(&e, &cfg, VFIO_USER_DMA_ACCESS_AUTO);
    for (int i = 0; i < 2; i++) {
        VFIOUserDMASection s = section("ram", i * 0x10000, host, fd, false);

        g_assert_true(vfio_user_container_map(e.c, &s, NULL));
        g_assert_cmpint(map_info(&e, i).mode, ==, VFIO_USER_DMA_ACCESS_MESSAGE);
    }
    g_assert_cmphex(fake_server_map(e.fs, 0).flags, ==, F_RW | F_MMAP);
    g_assert_cmphex(fake_server_map(e.fs, 1).flags, ==, F_RW | F_FILE);
    g_assert_cmphex(fake_server_map(e.fs, 2).flags, ==, F_RW);
    g_assert_cmpuint(fake_server_map(e.fs, 2).nfds, ==, 0);
    g_assert_cmpint(logged[0], ==, 1);
    g_assert_cmpint(logged[1], ==, 1);
    env_fini(&e);
    /* mmap refused only: file-io */
    env_init(&e, &cfg2, VFIO_USER_DMA_ACCESS_AUTO);
    VFIOUserDMASection s = section("ram", 0, host, fd, false);
    g_assert_true(vfio_user_container_map(e.c, &s, NULL));
    g_assert_cmpint(map_info(&e, 0).mode, ==, VFIO_USER_DMA_ACCESS_FILE_IO);
    env_fini(&e);
    /* a forced mode does not step down */
    env_init(&e, &cfg2, VFIO_USER_DMA_ACCESS_MMAP);
    {
        g_autoptr(GError) err = NULL;

        g_assert_false(vfio_user_container_map(e.c, &s, &err));
        g_assert_error(err, VFIO_USER_ERROR, EPERM);
    }
    env_fini(&e);
    g_log_remove_handler("vfio-user-dma", handler);
    munmap(host, PG);
    close(fd);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/map-safety/proc-mem/legacy", test_proc_mem_legacy);
    g_test_add_func("/map-safety/proc-mem/unclear", test_proc_mem_unclear);
    g_test_add_func("/map-safety/einval-not-legacy", test_einval_not_legacy);
    g_test_add_func("/map-safety/probe/write-sealed", test_probe_write_sealed);
    g_test_add_func("/map-safety/probe/rdonly-file", test_probe_rdonly_file);
    g_test_add_func("/map-safety/auto-step-down", test_auto_step_down);
    return g_test_run();
}
