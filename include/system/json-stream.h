/*
 * JSON values out of a byte stream, for QMP: bytes go in as they arrive,
 * each complete top-level value comes out as a JsonNode (json-glib), or
 * as an error.  Nothing waits for a newline: a value is complete when its
 * closing bracket (or, for a bare number or keyword, the next delimiter)
 * arrives.
 *
 * The input is checked token by token here, strictly (RFC 8259 plus
 * QMP's 'single-quoted' strings and the \' escape), so that json-glib only
 * ever sees plain double-quoted strings, numbers and keywords: its own
 * leniencies (comments, hex numbers, integers wrapping around, NUL in
 * strings) never apply.  Hostile input is bounded:
 *
 * - a value longer than JSON_STREAM_MAX_SIZE bytes or nested deeper than
 *   JSON_STREAM_MAX_DEPTH is consumed to its end and reported once;
 * - an invalid token inside a value (a bad keyword, number or escape,
 *   invalid UTF-8, a stray character) is reported once, when the value
 *   ends;
 * - an ASCII control character other than tab, CR and LF, or a 0xFF byte,
 *   is reported at once and resets the stream to its initial state, so a
 *   client can always get back to a known-good state (as QEMU's QMP
 *   specification describes).
 *
 * Each error's message starts with "JSON parse error, ".
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef SYSTEM_JSON_STREAM_H
#define SYSTEM_JSON_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <glib.h>
#include <json-glib/json-glib.h>

#define JSON_STREAM_MAX_SIZE (1024 * 1024)
#define JSON_STREAM_MAX_DEPTH 1024

typedef struct JsonStream JsonStream;

/*
 * One complete value (@value, only valid during the call) or one error
 * (@value NULL, @err set).  It may call json_stream_reset(), never
 * json_stream_free().
 */
typedef void (*JsonStreamFn)(JsonNode *value, const GError *err, void *opaque);

JsonStream *json_stream_new(JsonStreamFn fn, void *opaque);
void json_stream_free(JsonStream *s);
void json_stream_feed(JsonStream *s, const char *buf, size_t len);
/* Forget any partial value (a new client). */
void json_stream_reset(JsonStream *s);

/*
 * Append @node as JSON to @out in ASCII only (\uXXXX escapes; QMP's output
 * is ASCII), on one line or, with @pretty, indented by four spaces per
 * level.  Unlike json-glib's generator, floats always come out as valid
 * JSON.
 */
void json_stream_format(GString *out, JsonNode *node, bool pretty);

#endif /* SYSTEM_JSON_STREAM_H */
