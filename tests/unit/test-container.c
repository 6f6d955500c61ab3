/*
 * Unit tests for hw/vfio-user/container.c: the access-mode policy as the
 * server sees it in DMA_MAP, the legacy-server fallback, local checks, and
 * serving (and refusing) DMA_READ / DMA_WRITE, against the fake server in
 * fake-dma-server.c over a socketpair.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/mman.h>

#include "hw/vfio-user/container.h"
#include "vfio-user/error.h"
#include "fake-dma-server.h"
#include "vfu-test.h"

#define PG 4096u
#define MAX_XFER 65536u
#define F_RW (VFIO_USER_DMA_MAP_F_READ | VFIO_USER_DMA_MAP_F_WRITE)
#define F_MMAP VFIO_USER_DMA_MAP_F_MODE_MMAP
#define F_FILE VFIO_USER_DMA_MAP_F_MODE_FILE_IO

/* The device as vfio_user_pci_label() names it: log lines start with it. */
#define DEV_LABEL "vfio-user-pci 'dev0'"

typedef struct Env {
    FakeServer *fs;
    VFIOUserProxy *proxy;
    VFIOUserContainer *c;
} Env;

static void env_init(Env *e, const FakeConfig *cfg, VFIOUserDMAAccess policy)
{
    VFIOUserProxyOptions opts;
    g_autoptr(GError) err = NULL;
    int sock;

    e->fs = fake_server_new(cfg, &sock);
    vfio_user_proxy_options_init(&opts);
    opts.label = DEV_LABEL;
    e->proxy = vfio_user_proxy_new_from_fd(sock, &opts, &err);
    g_assert_no_error(err);
    g_assert_cmpuint(vfio_user_proxy_caps(e->proxy)->max_data_xfer_size, ==,
                     cfg && cfg->max_xfer ? cfg->max_xfer : MAX_XFER);
    e->c = vfio_user_container_new(e->proxy, policy);
}

static void env_fini(Env *e)
{
    vfio_user_container_free(e->c);
    vfio_user_proxy_close(e->proxy);
    fake_server_free(e->fs);
}

static void *anon_ram(size_t size, uint8_t seed)
{
    uint8_t *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    g_assert(p != MAP_FAILED);
    for (size_t i = 0; i < size; i++) {
        p[i] = (uint8_t)(seed + i * 7);
    }
    return p;
}

static VFIOUserDMASection section(const char *name, uint64_t iova,
                                  uint64_t size, void *host, int fd,
                                  uint64_t fd_offset)
{
    return (VFIOUserDMASection){
        .name = name,
        .iova = iova,
        .size = size,
        .host = host,
        .fd = fd,
        .fd_offset = fd_offset,
    };
}

static void map_ok(Env *e, const VFIOUserDMASection *s)
{
    g_autoptr(GError) err = NULL;

    g_assert_true(vfio_user_container_map(e->c, s, &err));
    g_assert_no_error(err);
}

static void map_fails(Env *e, const VFIOUserDMASection *s, int code,
                      const char *needle)
{
    g_autoptr(GError) err = NULL;

    g_assert_false(vfio_user_container_map(e->c, s, &err));
    g_assert_error(err, VFIO_USER_ERROR, code);
    g_assert_nonnull(strstr(err->message, needle));
}

static VFIOUserDMAMapInfo map_info(Env *e, size_t i)
{
    VFIOUserDMAMapInfo info[8];
    size_t n = vfio_user_container_maps(e->c, info, G_N_ELEMENTS(info));

    g_assert_cmpuint(i, <, MIN(n, G_N_ELEMENTS(info)));
    return info[i];
}

static void test_access_names(void)
{
    g_autoptr(GError) err = NULL;
    VFIOUserDMAAccess a;

    for (int i = VFIO_USER_DMA_ACCESS_AUTO; i <= VFIO_USER_DMA_ACCESS_MESSAGE;
         i++) {
        g_assert_true(
            vfio_user_dma_access_parse(vfio_user_dma_access_name(i), &a, &err));
        g_assert_cmpint(a, ==, i);
    }
    g_assert_cmpstr(vfio_user_dma_access_name(VFIO_USER_DMA_ACCESS_FILE_IO), ==,
                    "file-io");
    g_assert_false(vfio_user_dma_access_parse("fileio", &a, &err));
    g_assert_error(err, VFIO_USER_ERROR, EINVAL);
    g_assert_nonnull(strstr(err->message, "fileio"));
}

static void test_memfd_mmap(void)
{
    int fd = memfd_create("ram0", MFD_CLOEXEC);
    struct stat st;
    Env e;
    void *host;

    g_assert_cmpint(ftruncate(fd, 4 * PG), ==, 0);
    g_assert_cmpint(fstat(fd, &st), ==, 0);
    host = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    env_init(&e, NULL, VFIO_USER_DMA_ACCESS_AUTO);
    VFIOUserDMASection s = section("ram0", 0x100000, 4 * PG, host, fd, 0);
    map_ok(&e, &s);

    g_assert_cmpuint(fake_server_nmaps(e.fs), ==, 1);
    FakeMap m = fake_server_map(e.fs, 0);
    g_assert_cmphex(m.flags, ==, F_RW | F_MMAP);
    g_assert_cmpuint(m.nfds, ==, 1);
    g_assert_cmpuint(m.st.st_ino, ==, st.st_ino);
    g_assert_cmpuint(m.st.st_dev, ==, st.st_dev);
    g_assert_cmphex(m.offset, ==, 0);
    g_assert_cmphex(m.addr, ==, 0x100000);
    g_assert_cmphex(m.size, ==, 4 * PG);
    VFIOUserDMAMapInfo info = map_info(&e, 0);
    g_assert_cmpint(info.mode, ==, VFIO_USER_DMA_ACCESS_MMAP);
    g_assert_true(info.sent_fd);
    g_assert_cmpstr(info.name, ==, "ram0");
    env_fini(&e);
    munmap(host, 4 * PG);
    close(fd);
}

static void test_file_offset(void)
{
    g_autofree char *dir = g_dir_make_tmp("container-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "ram", NULL);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    struct stat st;
    Env e;
    void *host;

    g_assert_cmpint(ftruncate(fd, 3 * PG), ==, 0);
    g_assert_cmpint(fstat(fd, &st), ==, 0);
    host = mmap(NULL, 2 * PG, PROT_READ, MAP_SHARED, fd, PG);
    g_assert(host != MAP_FAILED);
    env_init(&e, NULL, VFIO_USER_DMA_ACCESS_AUTO);
    VFIOUserDMASection s = section("rom", 0x4000, 2 * PG, host, fd, PG);
    s.readonly = true;
    map_ok(&e, &s);

    FakeMap m = fake_server_map(e.fs, 0);
    g_assert_cmphex(m.flags, ==, VFIO_USER_DMA_MAP_F_READ | F_MMAP);
    g_assert_cmphex(m.offset, ==, PG);
    g_assert_cmpuint(m.nfds, ==, 1);
    g_assert_cmpuint(m.st.st_ino, ==, st.st_ino);
    env_fini(&e);
    munmap(host, 2 * PG);
    close(fd);
    g_assert_cmpint(unlink(path), ==, 0);
    g_assert_cmpint(rmdir(dir), ==, 0);
}

static void test_anon_message(void)
{
    void *host = anon_ram(2 * PG, 1);
    Env e;

    env_init(&e, NULL, VFIO_USER_DMA_ACCESS_AUTO);
    VFIOUserDMASection s = section("ram0", 0, 2 * PG, host, -1, 0);
    map_ok(&e, &s);
    FakeMap m = fake_server_map(e.fs, 0);
    g_assert_cmphex(m.flags, ==, F_RW);
    g_assert_cmpuint(m.nfds, ==, 0);
    g_assert_cmphex(m.offset, ==, 0);
    VFIOUserDMAMapInfo info = map_info(&e, 0);
    g_assert_cmpint(info.mode, ==, VFIO_USER_DMA_ACCESS_MESSAGE);
    g_assert_false(info.sent_fd);
    env_fini(&e);
    munmap(host, 2 * PG);
}

static void test_pipe_file_io(void)
{
    void *host = anon_ram(PG, 2);
    int p[2];
    Env e;

    g_assert_cmpint(pipe2(p, O_CLOEXEC), ==, 0);
    env_init(&e, NULL, VFIO_USER_DMA_ACCESS_AUTO);
    VFIOUserDMASection s = section("pipe", 0, PG, host, p[0], 2 * PG);
    map_ok(&e, &s);
    FakeMap m = fake_server_map(e.fs, 0);
    g_assert_cmphex(m.flags, ==, F_RW | F_FILE);
    g_assert_cmpuint(m.nfds, ==, 1);
    g_assert_true(S_ISFIFO(m.st.st_mode));
    g_assert_cmphex(m.offset, ==, 2 * PG);
    g_assert_cmpint(map_info(&e, 0).mode, ==, VFIO_USER_DMA_ACCESS_FILE_IO);
    env_fini(&e);
    close(p[0]);
    close(p[1]);
    munmap(host, PG);
}

static void test_file_io_proc_mem(void)
{
    uint8_t *a = anon_ram(2 * PG, 3), *b = anon_ram(PG, 4);
    uint8_t buf[256];
    int fds_before = vut_count_fds();
    Env e;

    env_init(&e, NULL, VFIO_USER_DMA_ACCESS_FILE_IO);
    VFIOUserDMASection sa = section("ram0", 0, 2 * PG, a, -1, 0);
    VFIOUserDMASection sb = section("ram1", 0x10000, PG, b, -1, 0);
    map_ok(&e, &sa);
    map_ok(&e, &sb);
    /* first a throw-away map shows the server understands modes */
    FakeMap probe = fake_server_map(e.fs, 0);
    g_assert_cmphex(probe.flags, ==, F_RW | F_FILE);
    g_assert_cmpuint(probe.size, ==, PG);
    g_assert_cmpuint(fake_server_nunmaps(e.fs), ==, 1);
    g_assert_cmpuint(fake_server_nmaps(e.fs), ==, 3);
    FakeMap ma = fake_server_map(e.fs, 1), mb = fake_server_map(e.fs, 2);
    g_assert_cmphex(ma.flags, ==, F_RW | F_FILE);
    g_assert_cmpuint(probe.st.st_ino, !=, ma.st.st_ino);
    g_assert_cmpuint(ma.nfds, ==, 1);
    g_assert_cmphex(ma.offset, ==, (uint64_t)(uintptr_t)a);
    g_assert_cmphex(mb.offset, ==, (uint64_t)(uintptr_t)b);
    /* one /proc/self/mem for the container, shared by both maps */
    g_assert_cmpuint(ma.st.st_ino, ==, mb.st.st_ino);
    g_assert_true(map_info(&e, 0).via_proc_self_mem);
    g_assert_cmpint(map_info(&e, 1).mode, ==, VFIO_USER_DMA_ACCESS_FILE_IO);

    /* the server reads guest RAM with one pread at offset + (addr - base) */
    g_assert_cmpint(pread(ma.fd, buf, sizeof(buf), ma.offset + PG + 100), ==,
                    sizeof(buf));
    g_assert_cmpmem(buf, sizeof(buf), a + PG + 100, sizeof(buf));
    memset(buf, 0x5a, sizeof(buf));
    g_assert_cmpint(pwrite(mb.fd, buf, 16, mb.offset + 8), ==, 16);
    g_assert_cmpmem(b + 8, 16, buf, 16);
    env_fini(&e);
    g_assert_cmpint(vut_count_fds(), ==, fds_before);
    munmap(a, 2 * PG);
    munmap(b, PG);
}

static void test_mmap_forced(void)
{
    void *host = anon_ram(PG, 5);
    int p[2];
    Env e;

    g_assert_cmpint(pipe2(p, O_CLOEXEC), ==, 0);
    env_init(&e, NULL, VFIO_USER_DMA_ACCESS_MMAP);
    VFIOUserDMASection s = section("ram0", 0, PG, host, -1, 0);
    map_fails(&e, &s, EINVAL,
              "section 'ram0': dma-access=mmap needs RAM with an fd to share");
    s = section("piped", 0, PG, host, p[0], 0);
    map_fails(&e, &s, EINVAL, "'piped'");
    g_assert_cmpuint(fake_server_nmaps(e.fs), ==, 0);
    env_fini(&e);
    close(p[0]);
    close(p[1]);
    munmap(host, PG);
}

static void test_message_forced(void)
{
    int fd = memfd_create("ram0", MFD_CLOEXEC);
    void *host;
    Env e;

    g_assert_cmpint(ftruncate(fd, PG), ==, 0);
    host = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    env_init(&e, NULL, VFIO_USER_DMA_ACCESS_MESSAGE);
    VFIOUserDMASection s = section("ram0", 0, PG, host, fd, 0);
    map_ok(&e, &s);
    FakeMap m = fake_server_map(e.fs, 0);
    g_assert_cmphex(m.flags, ==, F_RW);
    g_assert_cmpuint(m.nfds, ==, 0);
    g_assert_cmpint(map_info(&e, 0).mode, ==, VFIO_USER_DMA_ACCESS_MESSAGE);
    env_fini(&e);
    munmap(host, PG);
    close(fd);
}

/* Counts the "legacy DMA_MAP" messages of the container: the device
 * once, then what happened (no socket path). */
static void count_legacy_log(const gchar *domain, GLogLevelFlags level,
                             const gchar *message, gpointer opaque)
{
    g_assert_cmpstr(domain, ==, "vfio-user-dma");
    g_assert_cmpint(level & G_LOG_LEVEL_MASK, ==, G_LOG_LEVEL_MESSAGE);
    g_assert_cmpstr(
        message, ==,
        DEV_LABEL
        ": server does not support DMA access modes; using legacy DMA_MAP");
    (*(int *)opaque)++;
}

static void test_legacy(void)
{
    FakeConfig cfg = {.legacy = true};
    int fd = memfd_create("ram0", MFD_CLOEXEC), p[2];
    uint8_t *host, *b = anon_ram(PG, 6), buf[64];
    guint handler;
    int logged;
    Env e;

    g_assert_cmpint(ftruncate(fd, PG), ==, 0);
    g_assert_cmpint(pipe2(p, O_CLOEXEC), ==, 0);
    host = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    env_init(&e, &cfg, VFIO_USER_DMA_ACCESS_AUTO);
    VFIOUserDMASection s = section("ram0", 0, PG, host, fd, 0);
    logged = 0;
    handler = g_log_set_handler("vfio-user-dma", G_LOG_LEVEL_MESSAGE,
                                count_legacy_log, &logged);
    map_ok(&e, &s);
    g_assert_cmpint(logged, ==, 1);
    g_assert_true(vfio_user_container_legacy_server(e.c));
    /* refused, probe with the bit refused, probe without it, the map */
    g_assert_cmpuint(fake_server_nmaps(e.fs), ==, 4);
    g_assert_cmpuint(fake_server_nunmaps(e.fs), ==, 1);
    FakeMap m0 = fake_server_map(e.fs, 0), m1 = fake_server_map(e.fs, 3);
    g_assert_cmphex(m0.flags, ==, F_RW | F_MMAP);
    g_assert_cmpint(m0.reply_errno, ==, EINVAL);
    g_assert_cmphex(fake_server_map(e.fs, 1).flags, ==, F_RW | F_MMAP);
    g_assert_cmphex(fake_server_map(e.fs, 2).flags, ==, F_RW);
    g_assert_cmphex(m1.flags, ==, F_RW);
    g_assert_cmpuint(m1.nfds, ==, 1);
    g_assert_cmpint(m1.reply_errno, ==, 0);
    g_assert_cmpint(map_info(&e, 0).mode, ==, VFIO_USER_DMA_ACCESS_MMAP);

    /* remembered: a non-mmappable fd goes straight to messages, no fd */
    s = section("pipe", 0x10000, PG, b, p[0], 0);
    map_ok(&e, &s);
    g_assert_cmpuint(fake_server_nmaps(e.fs), ==, 5);
    FakeMap m2 = fake_server_map(e.fs, 4);
    g_assert_cmphex(m2.flags, ==, F_RW);
    g_assert_cmpuint(m2.nfds, ==, 0);
    g_assert_cmpint(m2.reply_errno, ==, 0);
    g_assert_cmpint(map_info(&e, 1).mode, ==, VFIO_USER_DMA_ACCESS_MESSAGE);
    g_assert_cmpint(logged, ==, 1); /* logged once per connection */
    g_log_remove_handler("vfio-user-dma", handler);
    g_assert_cmpint(fake_server_dma_read(e.fs, 0x10000 + 8, sizeof(buf), buf),
                    ==, 0);
    g_assert_cmpmem(buf, sizeof(buf), b + 8, sizeof(buf));
    env_fini(&e);
    munmap(host, PG);
    munmap(b, PG);
    close(fd);
    close(p[0]);
    close(p[1]);
}

static void test_legacy_file_io(void)
{
    FakeConfig cfg = {.legacy = true};
    uint8_t *host = anon_ram(PG, 7);
    Env e;

    env_init(&e, &cfg, VFIO_USER_DMA_ACCESS_FILE_IO);
    VFIOUserDMASection s = section("ram0", 0, PG, host, -1, 0);
    g_test_expect_message("vfio-user-dma", G_LOG_LEVEL_MESSAGE,
                          "*using legacy DMA_MAP*");
    map_ok(&e, &s);
    g_test_assert_expected_messages();
    /* two probe maps of a memfd: /proc/self/mem never reached the server */
    g_assert_cmpuint(fake_server_nmaps(e.fs), ==, 3);
    for (size_t i = 0; i < 2; i++) {
        FakeMap pm = fake_server_map(e.fs, i);

        g_assert_cmpuint(pm.nfds, ==, 1);
        g_assert_true(S_ISREG(pm.st.st_mode));
        g_assert_cmpuint(pm.st.st_size, ==, PG); /* not /proc/self/mem */
    }
    FakeMap m1 = fake_server_map(e.fs, 2);
    g_assert_cmphex(m1.flags, ==, F_RW);
    g_assert_cmpuint(m1.nfds, ==, 0);
    g_assert_cmphex(m1.offset, ==, 0);
    g_assert_false(map_info(&e, 0).via_proc_self_mem);
    env_fini(&e);
    munmap(host, PG);
}

static void test_server_errno(void)
{
    FakeConfig cfg = {.map_errno = ENOMEM};
    void *host = anon_ram(PG, 8);
    VFIOUserDMAMapInfo info[1];
    Env e;

    env_init(&e, &cfg, VFIO_USER_DMA_ACCESS_AUTO);
    VFIOUserDMASection s = section("big", 0, PG, host, -1, 0);
    map_fails(&e, &s, ENOMEM, "'big'");
    g_assert_cmpuint(fake_server_nmaps(e.fs), ==, 1);
    g_assert_cmpuint(vfio_user_container_maps(e.c, info, 1), ==, 0);
    g_assert_false(vfio_user_container_legacy_server(e.c));
    env_fini(&e);
    munmap(host, PG);
}

/* EINVAL for another reason: one retry without bits, then a real error. */
static void test_server_einval(void)
{
    FakeConfig cfg = {.map_errno = EINVAL};
    int p[2];
    void *host = anon_ram(PG, 8);
    Env e;

    g_assert_cmpint(pipe2(p, O_CLOEXEC), ==, 0);
    env_init(&e, &cfg, VFIO_USER_DMA_ACCESS_AUTO);
    VFIOUserDMASection s = section("ram0", 0, PG, host, p[0], 0);
    map_fails(&e, &s, EINVAL, "'ram0'");
    /* the map, then both probe maps: no clear answer, no legacy */
    g_assert_cmpuint(fake_server_nmaps(e.fs), ==, 3);
    g_assert_cmphex(fake_server_map(e.fs, 0).flags, ==, F_RW | F_FILE);
    g_assert_cmphex(fake_server_map(e.fs, 1).flags, ==, F_RW | F_FILE);
    g_assert_cmphex(fake_server_map(e.fs, 2).flags, ==, F_RW);
    g_assert_cmpuint(fake_server_map(e.fs, 2).nfds, ==, 1);
    g_assert_false(vfio_user_container_legacy_server(e.c));
    /* not remembered: the next map tries the mode bits again */
    s = section("ram1", PG, PG, host, p[0], 0);
    map_fails(&e, &s, EINVAL, "'ram1'");
    g_assert_cmphex(fake_server_map(e.fs, 3).flags, ==, F_RW | F_FILE);
    env_fini(&e);
    close(p[0]);
    close(p[1]);
    munmap(host, PG);
}

/* A server that accepts no fds: auto falls back to messages, forced fd
 * modes fail with a clear error. */
static void test_no_fds_server(void)
{
    FakeConfig cfg = {.no_fds = true};
    uint8_t *host = anon_ram(2 * PG, 3);
    int fd = memfd_create("ram", MFD_CLOEXEC);
    Env e;

    g_assert_cmpint(ftruncate(fd, 2 * PG), ==, 0);
    env_init(&e, &cfg, VFIO_USER_DMA_ACCESS_AUTO);
    VFIOUserDMASection s = section("ram0", 0, PG, host, fd, 0);
    map_ok(&e, &s);
    FakeMap m = fake_server_map(e.fs, 0);
    g_assert_cmphex(m.flags, ==, F_RW);
    g_assert_cmpuint(m.nfds, ==, 0);
    g_assert_cmpint(map_info(&e, 0).mode, ==, VFIO_USER_DMA_ACCESS_MESSAGE);
    env_fini(&e);

    env_init(&e, &cfg, VFIO_USER_DMA_ACCESS_FILE_IO);
    s = section("ram1", 0, PG, host, fd, 0);
    map_fails(&e, &s, EINVAL, "max_msg_fds 0");
    env_fini(&e);
    close(fd);
    munmap(host, 2 * PG);
}

static void test_local_checks(void)
{
    FakeConfig cfg = {.max_dma_maps = 2};
    uint8_t *host = anon_ram(4 * PG, 9);
    int fd = memfd_create("ram", MFD_CLOEXEC);
    Env e;

    g_assert_cmpint(ftruncate(fd, 4 * PG), ==, 0);
    env_init(&e, &cfg, VFIO_USER_DMA_ACCESS_AUTO);
    VFIOUserDMASection s = section("odd", 0x800, PG, host, -1, 0);
    map_fails(&e, &s, EINVAL, "'odd'");
    s = section("odd", 0, PG + 0x800, host, -1, 0);
    map_fails(&e, &s, EINVAL, "page size");
    s = section("odd", 0, PG, host, fd, 0x800);
    map_fails(&e, &s, EINVAL, "fd offset");
    s = section("zero", 0, 0, host, -1, 0);
    map_fails(&e, &s, EINVAL, "'zero'");
    s = section("wrap", UINT64_MAX - PG + 1, PG, host, -1, 0);
    map_fails(&e, &s, EINVAL, "'wrap'");
    g_assert_cmpuint(fake_server_nmaps(e.fs), ==, 0);

    s = section("ram0", 0x10000, 2 * PG, host, -1, 0);
    map_ok(&e, &s);
    s = section("ram1", 0x11000, 2 * PG, host, -1, 0);
    map_fails(&e, &s, EEXIST, "overlaps mapped section 'ram0'");
    s = section("ram1", 0xf000, 2 * PG, host, -1, 0);
    map_fails(&e, &s, EEXIST, "'ram0'");
    s = section("ram1", 0x12000, PG, host, -1, 0);
    map_ok(&e, &s);
    s = section("ram2", 0x20000, PG, host, -1, 0);
    map_fails(&e, &s, ENOSPC, "'ram2'");
    g_assert_cmpuint(fake_server_nmaps(e.fs), ==, 2);
    env_fini(&e);
    close(fd);
    munmap(host, 4 * PG);
}

static void test_unmap(void)
{
    uint8_t *host = anon_ram(2 * PG, 10), buf[16];
    g_autoptr(GError) err = NULL;
    uint64_t addr, size;
    Env e;

    env_init(&e, NULL, VFIO_USER_DMA_ACCESS_AUTO);
    VFIOUserDMASection s = section("ram0", 0x40000, 2 * PG, host, -1, 0);
    map_ok(&e, &s);
    g_assert_cmpint(fake_server_dma_read(e.fs, 0x40000, 16, buf), ==, 0);
    g_assert_false(vfio_user_container_unmap(e.c, 0x40000, PG, &err));
    g_assert_error(err, VFIO_USER_ERROR, ENOENT);
    g_clear_error(&err);
    g_assert_cmpuint(fake_server_nunmaps(e.fs), ==, 0);
    g_assert_true(vfio_user_container_unmap(e.c, 0x40000, 2 * PG, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(fake_server_nunmaps(e.fs), ==, 1);
    fake_server_unmap(e.fs, 0, &addr, &size);
    g_assert_cmphex(addr, ==, 0x40000);
    g_assert_cmphex(size, ==, 2 * PG);
    g_assert_cmpint(fake_server_dma_read(e.fs, 0x40000, 16, buf), ==, EFAULT);
    g_assert_cmpuint(vfio_user_container_maps(e.c, NULL, 0), ==, 0);
    env_fini(&e);
    munmap(host, 2 * PG);
}

static void test_free(void)
{
    int fds_before = vut_count_fds();
    int fd = memfd_create("ram0", MFD_CLOEXEC);
    uint8_t *a = anon_ram(PG, 11);
    uint64_t addr, size, seen = 0;
    void *host;
    Env e;

    g_assert_cmpint(ftruncate(fd, PG), ==, 0);
    host = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    env_init(&e, NULL, VFIO_USER_DMA_ACCESS_AUTO);
    VFIOUserDMASection s = section("ram0", 0, PG, host, fd, 0);
    map_ok(&e, &s);
    s = section("ram1", PG, PG, a, -1, 0);
    map_ok(&e, &s);
    s = section("ram2", 0x100000, PG, a, -1, 0);
    map_ok(&e, &s);
    vfio_user_container_free(e.c);
    e.c = NULL;
    g_assert_cmpuint(fake_server_nunmaps(e.fs), ==, 3);
    for (size_t i = 0; i < 3; i++) {
        fake_server_unmap(e.fs, i, &addr, &size);
        g_assert_cmphex(size, ==, PG);
        seen |= addr == 0 ? 1 : addr == PG ? 2 : addr == 0x100000 ? 4 : 8;
    }
    g_assert_cmphex(seen, ==, 7);
    env_fini(&e);
    munmap(host, PG);
    close(fd);
    munmap(a, PG);
    g_assert_cmpint(vut_count_fds(), ==, fds_before);
}

static void test_dma_rw(void)
{
    uint8_t *a = anon_ram(2 * PG, 12), *b = anon_ram(PG, 13);
    g_autofree uint8_t *data = g_malloc(3 * PG), *want = g_malloc(3 * PG);
    VFIOUserDMAStats st;
    Env e;

    env_init(&e, NULL, VFIO_USER_DMA_ACCESS_AUTO);
    VFIOUserDMASection s = section("ram0", 0x10000, 2 * PG, a, -1, 0);
    map_ok(&e, &s);
    s = section("ram1", 0x12000, PG, b, -1, 0);
    map_ok(&e, &s);

    /* a write across the boundary lands in both host buffers */
    for (size_t i = 0; i < 1000; i++) {
        data[i] = (uint8_t)(0xa0 ^ i);
    }
    g_assert_cmpint(fake_server_dma_write(e.fs, 0x12000 - 500, 1000, data), ==,
                    0);
    g_assert_cmpmem(a + 2 * PG - 500, 500, data, 500);
    g_assert_cmpmem(b, 500, data + 500, 500);

    /* a read across the boundary returns both */
    memcpy(want, a, 2 * PG);
    memcpy(want + 2 * PG, b, PG);
    g_assert_cmpint(fake_server_dma_read(e.fs, 0x10004, 3 * PG - 8, data), ==,
                    0);
    g_assert_cmpmem(data, 3 * PG - 8, want + 4, 3 * PG - 8);

    g_assert_cmpuint(map_info(&e, 0).bytes_written, ==, 500);
    g_assert_cmpuint(map_info(&e, 1).bytes_written, ==, 500);
    g_assert_cmpuint(map_info(&e, 0).bytes_read, ==, 2 * PG - 4);
    g_assert_cmpuint(map_info(&e, 1).bytes_read, ==, PG - 4);
    vfio_user_container_stats(e.c, &st);
    g_assert_cmpuint(st.dma_reads, ==, 1);
    g_assert_cmpuint(st.dma_writes, ==, 1);
    g_assert_cmpuint(st.dma_rejected, ==, 0);
    env_fini(&e);
    munmap(a, 2 * PG);
    munmap(b, PG);
}

/* A raw DMA request: header fields and payload length chosen freely. */
static int raw_dma(Env *e, uint16_t cmd, uint64_t addr, uint64_t count,
                   size_t data_len)
{
    g_autofree uint8_t *msg = g_malloc0(sizeof(VFIOUserDMARW) + data_len);
    VFIOUserDMARW rw = {.addr = addr, .count = count};

    memset(msg + sizeof(rw), 0xee, data_len);
    memcpy(msg, &rw, sizeof(rw));
    return fake_server_request(e->fs, cmd, msg, sizeof(rw) + data_len, NULL, 0,
                               NULL, 0, NULL);
}

static void test_dma_hostile(void)
{
    uint8_t *a = anon_ram(2 * PG, 14), *b = anon_ram(PG, 15);
    uint8_t *c = anon_ram(PG, 16), buf[64];
    g_autofree uint8_t *copy = g_malloc(4 * PG);
    const uint16_t R = VFIO_USER_DMA_READ, W = VFIO_USER_DMA_WRITE;
    VFIOUserDMAStats st;
    Env e;

    env_init(&e, NULL, VFIO_USER_DMA_ACCESS_AUTO);
    VFIOUserDMASection s = section("ram0", 0, 2 * PG, a, -1, 0);
    map_ok(&e, &s);
    s = section("rom", 2 * PG, PG, b, -1, 0);
    s.readonly = true;
    map_ok(&e, &s);
    s = section("ram1", 0x10000, PG, c, -1, 0);
    map_ok(&e, &s);
    memcpy(copy, a, 2 * PG);
    memcpy(copy + 2 * PG, b, PG);
    memcpy(copy + 3 * PG, c, PG);

    g_assert_cmpint(raw_dma(&e, R, 0x5000, 16, 0), ==, EFAULT);
    g_assert_cmpint(raw_dma(&e, W, 0x5000, 16, 16), ==, EFAULT);
    g_assert_cmpint(raw_dma(&e, R, 2 * PG + 0x800, 0x10000, 0), ==, EFAULT);
    g_assert_cmpint(raw_dma(&e, W, 0xfff0, 32, 32), ==, EFAULT);
    g_assert_cmpint(raw_dma(&e, W, 0x10ff0, 32, 32), ==, EFAULT);
    g_assert_cmpint(raw_dma(&e, W, 2 * PG, 16, 16), ==, EPERM);
    g_assert_cmpint(raw_dma(&e, W, 2 * PG - 16, 32, 32), ==, EPERM);
    /* Above what the client offered (not the server's 64 KiB). */
    g_assert_cmpint(raw_dma(&e, R, 0, VFIO_USER_DEF_MAX_XFER + 1, 0), ==,
                    EMSGSIZE);
    g_assert_cmpint(raw_dma(&e, R, UINT64_MAX - 8, 16, 0), ==, EINVAL);
    g_assert_cmpint(raw_dma(&e, W, UINT64_MAX - 8, 16, 16), ==, EINVAL);
    g_assert_cmpint(raw_dma(&e, R, 0, 0, 0), ==, EINVAL);
    g_assert_cmpint(raw_dma(&e, W, 0, 0, 0), ==, EINVAL);
    g_assert_cmpint(raw_dma(&e, R, 0, 16, 8), ==, EINVAL);
    g_assert_cmpint(raw_dma(&e, W, 0, 64, 32), ==, EINVAL);
    g_assert_cmpint(raw_dma(&e, W, 0, 32, 64), ==, EINVAL);

    g_assert_cmpmem(a, 2 * PG, copy, 2 * PG);
    g_assert_cmpmem(b, PG, copy + 2 * PG, PG);
    g_assert_cmpmem(c, PG, copy + 3 * PG, PG);
    vfio_user_container_stats(e.c, &st);
    g_assert_cmpuint(st.dma_rejected, ==, 15);
    g_assert_cmpuint(st.dma_writes, ==, 0);

    /* still alive: reads of the read-only map and real writes work */
    g_assert_cmpint(fake_server_dma_read(e.fs, 2 * PG, sizeof(buf), buf), ==,
                    0);
    g_assert_cmpmem(buf, sizeof(buf), b, sizeof(buf));
    memset(buf, 0x11, sizeof(buf));
    g_assert_cmpint(fake_server_dma_write(e.fs, 0x10000, sizeof(buf), buf), ==,
                    0);
    g_assert_cmpmem(c, sizeof(buf), buf, sizeof(buf));
    g_assert_cmpint(fake_server_dma_read(e.fs, 0, 4 * PG, copy), ==, EFAULT);
    env_fini(&e);
    munmap(a, 2 * PG);
    munmap(b, PG);
    munmap(c, PG);
}

static void test_dma_many_pieces(void)
{
    const size_t n = 17;
    uint8_t *ram = anon_ram(n * PG, 17);
    g_autofree uint8_t *buf = g_malloc(n * PG);
    Env e;

    env_init(&e, NULL, VFIO_USER_DMA_ACCESS_AUTO);
    for (size_t i = 0; i < n; i++) {
        g_autofree char *name = g_strdup_printf("ram%zu", i);
        VFIOUserDMASection s = section(name, i * PG, PG, ram + i * PG, -1, 0);
        map_ok(&e, &s);
    }
    g_assert_cmpint(fake_server_dma_read(e.fs, 0, 16 * PG, buf), ==, 0);
    g_assert_cmpmem(buf, 16 * PG, ram, 16 * PG);
    g_assert_cmpint(fake_server_dma_read(e.fs, PG - 8, 15 * PG + 16, buf), ==,
                    EFAULT);
    env_fini(&e);
    munmap(ram, n * PG);
}

static void test_dma_other(void)
{
    uint8_t *a = anon_ram(PG, 18), buf[32];
    VFIOUserDMARW rw = {.addr = 64, .count = sizeof(buf)};
    uint8_t reply[sizeof(rw) + sizeof(buf)];
    int efd = eventfd(0, EFD_CLOEXEC), fds;
    size_t len = 0;
    Env e;

    env_init(&e, NULL, VFIO_USER_DMA_ACCESS_AUTO);
    VFIOUserDMASection s = section("ram0", 0, PG, a, -1, 0);
    map_ok(&e, &s);
    memset(buf, 0, sizeof(buf));
    g_assert_cmpint(fake_server_request(e.fs, VFIO_USER_REGION_READ, buf,
                                        sizeof(buf), NULL, 0, NULL, 0, NULL),
                    ==, ENOSYS);
    /* an fd on a DMA request is closed by the client; the read still works */
    fds = vut_count_fds();
    g_assert_cmpint(fake_server_request(e.fs, VFIO_USER_DMA_READ, &rw,
                                        sizeof(rw), &efd, 1, reply,
                                        sizeof(reply), &len),
                    ==, 0);
    g_assert_cmpuint(len, ==, sizeof(reply));
    g_assert_cmpmem(reply + sizeof(rw), sizeof(buf), a + 64, sizeof(buf));
    g_assert_cmpint(vut_count_fds(), ==, fds);
    env_fini(&e);
    close(efd);
    munmap(a, PG);
}

static void test_dma_short_header(void)
{
    uint8_t *a = anon_ram(PG, 19);
    uint64_t half = 0;
    Env e;

    env_init(&e, NULL, VFIO_USER_DMA_ACCESS_AUTO);
    VFIOUserDMASection s = section("ram0", 0, PG, a, -1, 0);
    map_ok(&e, &s);
    /* Refused (EINVAL), framing intact: the connection stays up. */
    g_assert_cmpint(fake_server_request(e.fs, VFIO_USER_DMA_WRITE, &half,
                                        sizeof(half), NULL, 0, NULL, 0, NULL),
                    ==, EINVAL);
    g_assert_cmpint(fake_server_request(e.fs, VFIO_USER_DMA_READ, &half, 4,
                                        NULL, 0, NULL, 0, NULL),
                    ==, EINVAL);
    g_assert_cmpint(vfio_user_proxy_state(e.proxy), ==, VFIO_PROXY_CONNECTED);
    env_fini(&e);
    munmap(a, PG);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/container/access-names", test_access_names);
    g_test_add_func("/container/policy/memfd-mmap", test_memfd_mmap);
    g_test_add_func("/container/policy/file-offset", test_file_offset);
    g_test_add_func("/container/policy/anon-message", test_anon_message);
    g_test_add_func("/container/policy/pipe-file-io", test_pipe_file_io);
    g_test_add_func("/container/policy/file-io-proc-mem",
                    test_file_io_proc_mem);
    g_test_add_func("/container/policy/mmap-forced", test_mmap_forced);
    g_test_add_func("/container/policy/message-forced", test_message_forced);
    g_test_add_func("/container/policy/no-fds-server", test_no_fds_server);
    g_test_add_func("/container/legacy/fallback", test_legacy);
    g_test_add_func("/container/legacy/file-io", test_legacy_file_io);
    g_test_add_func("/container/map/server-errno", test_server_errno);
    g_test_add_func("/container/map/server-einval", test_server_einval);
    g_test_add_func("/container/map/local-checks", test_local_checks);
    g_test_add_func("/container/map/unmap", test_unmap);
    g_test_add_func("/container/map/free-unmaps-all", test_free);
    g_test_add_func("/container/dma/adjacent", test_dma_rw);
    g_test_add_func("/container/dma/hostile", test_dma_hostile);
    g_test_add_func("/container/dma/many-pieces", test_dma_many_pieces);
    g_test_add_func("/container/dma/other-requests", test_dma_other);
    g_test_add_func("/container/dma/short-header", test_dma_short_header);
    return g_test_run();
}
