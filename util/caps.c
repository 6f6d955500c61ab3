/*
 * VERSION negotiation: the capabilities object, parsed and built with
 * json-glib, and the rules for combining both sides' offers.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <json-glib/json-glib.h>
#include "vfio-user/caps.h"
#include "vfio-user/error.h"
#include "vfio-user/protocol.h"

/* Sanity bounds on what a peer may claim; beyond them the value is absurd. */
#define CAPS_MAX_FDS_CLAIM 1024
#define CAPS_MIN_XFER 256 /* libvfio-user's sample client offers 1024 */

void vfio_user_caps_init_defaults(VFIOUserCaps *caps)
{
    memset(caps, 0, sizeof(*caps));
    caps->major = VFIO_USER_MAJOR_VER;
    caps->minor = VFIO_USER_MINOR_VER;
    caps->max_msg_fds = VFIO_USER_DEF_MAX_MSG_FDS;
    caps->max_data_xfer_size = VFIO_USER_DEF_MAX_XFER;
    caps->max_data_xfer_recv = VFIO_USER_DEF_MAX_XFER;
    caps->pgsizes = VFIO_USER_DEF_PGSIZES;
    caps->max_dma_maps = VFIO_USER_DEF_MAX_DMA_MAPS;
}

void vfio_user_caps_init_ours(VFIOUserCaps *caps)
{
    vfio_user_caps_init_defaults(caps);
    caps->max_msg_fds = 16;
    caps->write_multiple = true;
    caps->posted_errors = true;
}

char *vfio_user_caps_to_json(const VFIOUserCaps *caps)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    g_autoptr(JsonGenerator) gen = json_generator_new();
    g_autoptr(JsonNode) root = NULL;

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "capabilities");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "max_msg_fds");
    json_builder_add_int_value(b, caps->max_msg_fds);
    json_builder_set_member_name(b, "max_data_xfer_size");
    json_builder_add_int_value(b, (gint64)caps->max_data_xfer_size);
    json_builder_set_member_name(b, "pgsizes");
    json_builder_add_int_value(b, (gint64)caps->pgsizes);
    json_builder_set_member_name(b, "max_dma_maps");
    json_builder_add_int_value(b, caps->max_dma_maps);
    if (caps->write_multiple) {
        json_builder_set_member_name(b, "write_multiple");
        json_builder_add_boolean_value(b, true);
    }
    if (caps->posted_errors) {
        json_builder_set_member_name(b, VFIO_USER_CAPS_POSTED_ERRORS);
        json_builder_add_boolean_value(b, true);
    }
    json_builder_end_object(b);
    json_builder_end_object(b);
    root = json_builder_get_root(b);
    json_generator_set_root(gen, root);
    return json_generator_to_data(gen, NULL);
}

void *vfio_user_caps_build_version(const VFIOUserCaps *caps, size_t *len)
{
    g_autofree char *json = vfio_user_caps_to_json(caps);
    size_t jlen = strlen(json) + 1;
    VFIOUserVersion *v = g_malloc(sizeof(*v) + jlen);

    v->major = caps->major;
    v->minor = caps->minor;
    memcpy(v->data, json, jlen);
    *len = sizeof(*v) + jlen;
    return v;
}

/*
 * Read an unsigned integer member.  Absent: leave *out alone.  Present with
 * another type, negative, or above @max: EINVAL naming the key.
 */
static bool get_uint(JsonObject *o, const char *key, uint64_t max,
                     uint64_t *out, GError **errp)
{
    JsonNode *n = json_object_get_member(o, key);
    gint64 v;

    if (!n) {
        return true;
    }
    if (!JSON_NODE_HOLDS_VALUE(n) ||
        json_node_get_value_type(n) != G_TYPE_INT64) {
        return vfio_user_error_set(errp, EINVAL,
                                   "capability '%s' must be an integer", key);
    }
    v = json_node_get_int(n);
    if (v < 0 || (uint64_t)v > max) {
        return vfio_user_error_set(errp, EINVAL,
                                   "capability '%s' = %" G_GINT64_FORMAT
                                   " is out of range [0, %" G_GUINT64_FORMAT
                                   "]",
                                   key, v, max);
    }
    *out = v;
    return true;
}

static bool get_bool(JsonObject *o, const char *key, bool *out, GError **errp)
{
    JsonNode *n = json_object_get_member(o, key);

    if (!n) {
        return true;
    }
    if (!JSON_NODE_HOLDS_VALUE(n) ||
        json_node_get_value_type(n) != G_TYPE_BOOLEAN) {
        return vfio_user_error_set(errp, EINVAL,
                                   "capability '%s' must be a boolean", key);
    }
    *out = json_node_get_boolean(n);
    return true;
}

static bool parse_caps_object(JsonObject *c, VFIOUserCaps *caps, GError **errp)
{
    uint64_t fds = caps->max_msg_fds, xfer = caps->max_data_xfer_size;
    uint64_t pg = caps->pgsizes, maps = caps->max_dma_maps;

    if (!get_uint(c, "max_msg_fds", CAPS_MAX_FDS_CLAIM, &fds, errp) ||
        !get_uint(c, "max_data_xfer_size", UINT64_MAX >> 1, &xfer, errp) ||
        !get_uint(c, "pgsizes", UINT64_MAX >> 1, &pg, errp) ||
        !get_uint(c, "max_dma_maps", UINT32_MAX, &maps, errp) ||
        !get_bool(c, "write_multiple", &caps->write_multiple, errp) ||
        !get_bool(c, VFIO_USER_CAPS_POSTED_ERRORS, &caps->posted_errors,
                  errp)) {
        return false;
    }
    if (xfer < CAPS_MIN_XFER) {
        return vfio_user_error_set(errp, EINVAL,
                                   "capability 'max_data_xfer_size' = %" PRIu64
                                   " is below the minimum of %u",
                                   xfer, CAPS_MIN_XFER);
    }
    if (!(pg & VFIO_USER_DEF_PGSIZES)) {
        return vfio_user_error_set(errp, EINVAL,
                                   "capability 'pgsizes' = 0x%" PRIx64
                                   " does not include 4 KiB pages",
                                   pg);
    }
    if (maps == 0) {
        return vfio_user_error_set(errp, EINVAL,
                                   "capability 'max_dma_maps' must not be 0");
    }
    caps->max_msg_fds = fds;
    caps->max_data_xfer_size = xfer;
    caps->pgsizes = pg;
    caps->max_dma_maps = maps;
    return true;
}

static bool parse_json(const char *json, size_t len, VFIOUserCaps *caps,
                       GError **errp)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    g_autoptr(GError) jerr = NULL;
    JsonObject *root;
    JsonNode *c;

    if (!json_parser_load_from_data(parser, json, len, &jerr)) {
        return vfio_user_error_set(errp, EINVAL, "malformed version JSON: %s",
                                   jerr->message);
    }
    if (!json_parser_get_root(parser) ||
        !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser))) {
        return vfio_user_error_set(errp, EINVAL,
                                   "version JSON must be an object");
    }
    root = json_node_get_object(json_parser_get_root(parser));
    c = json_object_get_member(root, "capabilities");
    if (!c) {
        return true;
    }
    if (!JSON_NODE_HOLDS_OBJECT(c)) {
        return vfio_user_error_set(errp, EINVAL,
                                   "'capabilities' must be an object");
    }
    return parse_caps_object(json_node_get_object(c), caps, errp);
}

bool vfio_user_caps_parse_version(const void *payload, size_t len,
                                  VFIOUserCaps *caps, GError **errp)
{
    VFIOUserVersion v;
    const char *json;
    size_t jlen;

    vfio_user_caps_init_defaults(caps);
    if (len < sizeof(v)) {
        return vfio_user_error_set(
            errp, EINVAL, "version payload is %zu bytes, needs 4", len);
    }
    memcpy(&v, payload, sizeof(v));
    if (v.major != VFIO_USER_MAJOR_VER) {
        return vfio_user_error_set(
            errp, EINVAL,
            "peer speaks protocol %u.%u; only major %u is supported", v.major,
            v.minor, VFIO_USER_MAJOR_VER);
    }
    caps->major = v.major;
    caps->minor = v.minor;
    json = (const char *)payload + sizeof(v);
    jlen = len - sizeof(v);
    if (jlen == 0) {
        return true;
    }
    if (!memchr(json, '\0', jlen)) {
        return vfio_user_error_set(errp, EINVAL,
                                   "version JSON is not NUL-terminated");
    }
    jlen = strlen(json);
    if (jlen == 0) {
        return true;
    }
    if (!g_utf8_validate(json, jlen, NULL)) {
        return vfio_user_error_set(errp, EINVAL, "version JSON is not UTF-8");
    }
    return parse_json(json, jlen, caps, errp);
}

bool vfio_user_caps_merge(const VFIOUserCaps *ours, const VFIOUserCaps *theirs,
                          VFIOUserCaps *out, GError **errp)
{
    VFIOUserCaps m;

    if (ours->major != theirs->major) {
        return vfio_user_error_set(errp, EINVAL, "protocol major %u vs %u",
                                   ours->major, theirs->major);
    }
    m = *ours;
    m.minor = MIN(ours->minor, theirs->minor);
    m.max_msg_fds = MIN(ours->max_msg_fds, theirs->max_msg_fds);
    m.max_data_xfer_size =
        MIN(ours->max_data_xfer_size, theirs->max_data_xfer_size);
    m.max_data_xfer_size = MIN(m.max_data_xfer_size, VFIO_USER_CAPS_MAX_XFER);
    m.max_data_xfer_recv =
        MIN(ours->max_data_xfer_size, (uint64_t)VFIO_USER_CAPS_MAX_XFER);
    m.max_dma_maps = MIN(ours->max_dma_maps, theirs->max_dma_maps);
    m.pgsizes = ours->pgsizes & theirs->pgsizes;
    m.write_multiple = ours->write_multiple && theirs->write_multiple;
    m.posted_errors = ours->posted_errors && theirs->posted_errors;
    if (!m.pgsizes) {
        return vfio_user_error_set(errp, EINVAL,
                                   "no common DMA page size (0x%" PRIx64
                                   " vs 0x%" PRIx64 ")",
                                   ours->pgsizes, theirs->pgsizes);
    }
    *out = m;
    return true;
}

char *vfio_user_caps_describe(const VFIOUserCaps *caps)
{
    return g_strdup_printf(
        "version %u.%u, max_msg_fds %u, max_data_xfer_size %" PRIu64
        ", pgsizes 0x%" PRIx64 ", max_dma_maps %u, write_multiple %s",
        caps->major, caps->minor, caps->max_msg_fds, caps->max_data_xfer_size,
        caps->pgsizes, caps->max_dma_maps, caps->write_multiple ? "yes" : "no");
}
