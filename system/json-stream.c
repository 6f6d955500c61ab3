/*
 * JSON values out of a byte stream: a strict tokenizer that frames
 * top-level values and normalises them for json-glib.  See
 * include/system/json-stream.h for the rules.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "system/json-stream.h"
#include "vfio-user/error.h"

#define JS_MAX_TOKEN 64 /* longest number or keyword */

/* What the grammar allows next inside a value. */
typedef enum JsExpect {
    JE_VALUE, /* a value ("]" too right after "[") */
    JE_KEY,   /* a member name ("}" too right after "{") */
    JE_COLON,
    JE_COMMA, /* "," or the closing bracket */
} JsExpect;

typedef enum JsState {
    JS_VALUE,   /* between tokens */
    JS_STRING,  /* inside a string */
    JS_ESCAPE,  /* after a backslash */
    JS_UNICODE, /* inside \uXXXX */
    JS_NUMBER,
    JS_KEYWORD,
} JsState;

struct JsonStream {
    JsonStreamFn fn;
    void *opaque;
    JsState state;
    unsigned depth; /* open brackets of the current value */
    JsExpect expect;
    bool first;                                       /* right after { or [ */
    uint8_t is_object[JSON_STREAM_MAX_DEPTH / 8 + 1]; /* bit per level */
    char quote;   /* what closes the current string */
    GString *out; /* the value so far, normalised */
    GString *str; /* the current string, decoded */
    char tok[JS_MAX_TOKEN + 1];
    unsigned tok_len;
    bool tok_long;
    unsigned hex_digits; /* of the \uXXXX being read */
    uint32_t hex;
    uint32_t high; /* a high surrogate waiting for its low half */
    char *bad;     /* first error inside the current value */
    bool full;     /* too large: nothing more is kept */
};

static void js_report(JsonStream *s, const char *msg)
{
    g_autoptr(GError) err = NULL;

    vfio_user_error_set(&err, EINVAL, "JSON parse error, %s", msg);
    s->fn(NULL, err, s->opaque);
}

/* Back to the start of a value. */
static void js_clear_value(JsonStream *s)
{
    s->state = JS_VALUE;
    s->depth = 0;
    s->expect = JE_VALUE;
    s->high = 0;
    g_string_truncate(s->out, 0);
    g_string_truncate(s->str, 0);
    g_clear_pointer(&s->bad, g_free);
    s->full = false;
}

/* An invalid token: remembered, reported when the value ends (at once
 * outside any bracket). */
static void G_GNUC_PRINTF(2, 3) js_bad(JsonStream *s, const char *fmt, ...)
{
    va_list ap;

    if (!s->bad) {
        va_start(ap, fmt);
        s->bad = g_strdup_vprintf(fmt, ap);
        va_end(ap);
    }
    if (s->depth == 0 && s->state == JS_VALUE) {
        js_report(s, s->bad);
        js_clear_value(s);
    }
}

/* Whether a value of @n bytes is still acceptable. */
static bool js_room_for(JsonStream *s, size_t n)
{
    if (!s->full && n > JSON_STREAM_MAX_SIZE) {
        s->full = true;
        g_string_truncate(s->out, 0);
        g_string_truncate(s->str, 0);
        js_bad(s, "value larger than %u bytes", JSON_STREAM_MAX_SIZE);
    }
    return !s->full;
}

static bool js_room(JsonStream *s, size_t n)
{
    return js_room_for(s, s->out->len + s->str->len + n);
}

static void js_append(JsonStream *s, const char *p, size_t n)
{
    if (js_room(s, n)) {
        g_string_append_len(s->out, p, n);
    }
}

static void js_advance(JsonStream *s, char t, bool obj)
{
    unsigned d = s->depth;

    s->first = false;
    if (t == '{' || t == '[') {
        if (d < JSON_STREAM_MAX_DEPTH) {
            s->is_object[d / 8] &= ~(1u << (d % 8));
            s->is_object[d / 8] |= (t == '{') << (d % 8);
        }
        if (++s->depth > JSON_STREAM_MAX_DEPTH) {
            js_bad(s, "nesting deeper than %u", JSON_STREAM_MAX_DEPTH);
        }
        s->expect = t == '{' ? JE_KEY : JE_VALUE;
        s->first = true;
    } else if (t == ':') {
        s->expect = JE_VALUE;
    } else if (t == ',') {
        s->expect = obj ? JE_KEY : JE_VALUE;
    } else if (t == 's' && s->expect == JE_KEY) {
        s->expect = JE_COLON;
    } else {
        s->depth -= t == '}' || t == ']';
        s->expect = JE_COMMA;
    }
}

static bool js_in_object(JsonStream *s)
{
    unsigned d = s->depth - 1;

    return s->depth && d < JSON_STREAM_MAX_DEPTH &&
           (s->is_object[d / 8] >> (d % 8) & 1);
}

static void js_expected(JsonStream *s)
{
    static const char *const what[] = {
        [JE_VALUE] = "expecting value",
        [JE_KEY] = "expecting a member name",
        [JE_COLON] = "expecting ':'",
    };

    if (s->expect != JE_COMMA) {
        js_bad(s, "%s", what[s->expect]);
    } else {
        js_bad(s, "expecting ',' or '%c'", js_in_object(s) ? '}' : ']');
    }
}

/*
 * Check token @t against the grammar: 's' a string, 'v' another scalar,
 * or one of "{}[]:,".  Once the value holds an error only the brackets
 * are counted.  Brackets move s->depth here.
 */
static void js_grammar(JsonStream *s, char t)
{
    bool ok = s->bad != NULL || s->depth > JSON_STREAM_MAX_DEPTH;
    bool obj = js_in_object(s);

    if (!ok) {
        switch (t) {
        case 's':
            ok = s->expect == JE_VALUE || s->expect == JE_KEY;
            break;
        case 'v':
        case '{':
        case '[':
            ok = s->expect == JE_VALUE;
            break;
        case '}':
        case ']':
            ok = obj == (t == '}') &&
                 (s->expect == JE_COMMA ||
                  (s->first && s->expect == (obj ? JE_KEY : JE_VALUE)));
            break;
        default:
            ok = s->expect == (t == ':' ? JE_COLON : JE_COMMA);
            break;
        }
        if (!ok) {
            js_expected(s);
        }
    }
    js_advance(s, t, obj);
}

/* A top-level value ended: hand it (or its first error) out. */
static void js_complete(JsonStream *s)
{
    g_autoptr(JsonParser) parser = NULL;
    GError *err = NULL;
    const char *msg;

    if (s->bad) {
        js_report(s, s->bad);
        js_clear_value(s);
        return;
    }
    parser = json_parser_new();
    if (json_parser_load_from_data(parser, s->out->str, s->out->len, &err)) {
        s->fn(json_parser_get_root(parser), NULL, s->opaque);
    } else {
        /* json-glib's positions are in the normalised text: drop them. */
        msg = strstr(err->message, "Parse error: ");
        js_report(s, msg ? msg + strlen("Parse error: ") : err->message);
        g_error_free(err);
    }
    js_clear_value(s);
}

/* The string ended: its decoded bytes go out double-quoted. */
static void js_end_string(JsonStream *s)
{
    GString *o = s->out;
    size_t n = s->str->len + 2;

    if (s->high) {
        js_bad(s, "lone high surrogate in string");
    } else if (!g_utf8_validate(s->str->str, s->str->len, NULL)) {
        js_bad(s, "invalid UTF-8 in string");
    }
    for (gsize i = 0; i < s->str->len; i++) {
        unsigned char c = s->str->str[i];

        n += c < 0x20 ? 5 : c == '"' || c == '\\';
    }
    if (js_room_for(s, o->len + n)) {
        g_string_append_c(o, '"');
        for (gsize i = 0; i < s->str->len; i++) {
            unsigned char c = s->str->str[i];

            if (c == '"' || c == '\\') {
                g_string_append_c(o, '\\');
                g_string_append_c(o, c);
            } else if (c < 0x20) {
                g_string_append_printf(o, "\\u%04x", c);
            } else {
                g_string_append_c(o, c);
            }
        }
        g_string_append_c(o, '"');
    }
    g_string_truncate(s->str, 0);
    js_grammar(s, 's');
    s->state = JS_VALUE; /* errors above were kept for js_complete() */
    if (s->depth == 0) {
        js_complete(s);
    }
}

static void js_str_add(JsonStream *s, const char *p, size_t n)
{
    if (js_room(s, n)) {
        g_string_append_len(s->str, p, n);
    }
}

static void js_string_byte(JsonStream *s, unsigned char c)
{
    if (s->high && c != '\\') {
        s->high = 0;
        js_bad(s, "lone high surrogate in string");
    }
    if (c == (unsigned char)s->quote) {
        js_end_string(s);
    } else if (c == '\\') {
        s->state = JS_ESCAPE;
    } else if (c < 0x20) {
        js_bad(s, "control character 0x%02x in string", c);
    } else {
        js_str_add(s, (const char *)&c, 1);
    }
}

static void js_escape_byte(JsonStream *s, unsigned char c)
{
    static const char from[] = "\"\\/'bfnrt", to[] = "\"\\/'\b\f\n\r\t";
    const char *p = c ? strchr(from, c) : NULL;

    s->state = JS_STRING;
    if (s->high && c != 'u') {
        s->high = 0;
        js_bad(s, "lone high surrogate in string");
    }
    if (c == 'u') {
        s->state = JS_UNICODE;
        s->hex_digits = 0;
        s->hex = 0;
    } else if (p) {
        js_str_add(s, &to[p - from], 1);
    } else if (c >= 0x20 && c < 0x7f) {
        js_bad(s, "invalid escape '\\%c' in string", c);
    } else {
        js_bad(s, "invalid escape in string");
    }
}

static void js_code_point(JsonStream *s, uint32_t cp)
{
    char utf8[6];

    if (s->high) {
        if (cp < 0xdc00 || cp > 0xdfff) {
            s->high = 0;
            js_bad(s, "lone high surrogate in string");
            return;
        }
        cp = 0x10000 + ((s->high - 0xd800) << 10) + (cp - 0xdc00);
        s->high = 0;
    } else if (cp >= 0xd800 && cp <= 0xdbff) {
        s->high = cp;
        return;
    } else if (cp >= 0xdc00 && cp <= 0xdfff) {
        js_bad(s, "lone low surrogate in string");
        return;
    } else if (cp == 0) {
        js_bad(s, "\\u0000 is not supported");
        return;
    }
    js_str_add(s, utf8, g_unichar_to_utf8(cp, utf8));
}

static void js_unicode_byte(JsonStream *s, unsigned char c)
{
    if (!g_ascii_isxdigit(c)) {
        s->state = JS_STRING;
        s->high = 0;
        js_bad(s, "invalid \\u escape in string");
        js_string_byte(s, c); /* it may end the string */
        return;
    }
    s->hex = s->hex << 4 | g_ascii_xdigit_value(c);
    if (++s->hex_digits == 4) {
        s->state = JS_STRING;
        js_code_point(s, s->hex);
    }
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? ; *@integer if no
 * fraction and no exponent. */
static bool js_number_valid(const char *p, bool *integer)
{
    *integer = true;
    p += *p == '-';
    if (*p == '0') {
        p++;
    } else if (g_ascii_isdigit(*p)) {
        while (g_ascii_isdigit(*p)) {
            p++;
        }
    } else {
        return false;
    }
    if (*p == '.') {
        *integer = false;
        if (!g_ascii_isdigit(*++p)) {
            return false;
        }
        while (g_ascii_isdigit(*p)) {
            p++;
        }
    }
    if (*p == 'e' || *p == 'E') {
        *integer = false;
        p++;
        p += *p == '+' || *p == '-';
        if (!g_ascii_isdigit(*p)) {
            return false;
        }
        while (g_ascii_isdigit(*p)) {
            p++;
        }
    }
    return *p == 0;
}

static void js_end_number(JsonStream *s)
{
    bool integer;

    errno = 0;
    if (s->tok_long) {
        js_bad(s, "number longer than %u characters", JS_MAX_TOKEN);
    } else if (!js_number_valid(s->tok, &integer)) {
        js_bad(s, "invalid number '%s'", s->tok);
    } else if (integer && (strtoll(s->tok, NULL, 10), errno != ERANGE)) {
        js_grammar(s, 'v');
        js_append(s, s->tok, s->tok_len);
    } else if (!isfinite(g_ascii_strtod(s->tok, NULL))) {
        js_bad(s, "number '%s' out of range", s->tok);
    } else {
        /* Beyond int64: a float, as json-glib would wrap it around. */
        js_grammar(s, 'v');
        js_append(s, s->tok, s->tok_len);
        if (integer) {
            js_append(s, ".0", 2);
        }
    }
}

static void js_end_token(JsonStream *s)
{
    bool number = s->state == JS_NUMBER;

    s->state = JS_VALUE;
    s->tok[s->tok_len] = 0;
    if (number) {
        js_end_number(s);
    } else if (!s->tok_long &&
               (!strcmp(s->tok, "true") || !strcmp(s->tok, "false") ||
                !strcmp(s->tok, "null"))) {
        js_grammar(s, 'v');
        js_append(s, s->tok, s->tok_len);
    } else {
        js_bad(s, "invalid keyword '%s%s'", s->tok, s->tok_long ? "..." : "");
    }
    if (s->depth == 0 && s->state == JS_VALUE && (s->out->len || s->bad)) {
        js_complete(s);
    }
}

static void js_start_token(JsonStream *s, JsState state, unsigned char c)
{
    s->state = state;
    s->tok[0] = c;
    s->tok_len = 1;
    s->tok_long = false;
}

static bool js_token_char(JsState state, unsigned char c)
{
    return state == JS_NUMBER ? g_ascii_isdigit(c) || strchr("+-.eE", c)
                              : g_ascii_isalnum(c) || c == '_';
}

static void js_value_byte(JsonStream *s, unsigned char c)
{
    char ch = c;

    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
        return;
    }
    if (c == '{' || c == '[') {
        js_grammar(s, c);
        js_append(s, &ch, 1);
    } else if ((c == '}' || c == ']' || c == ':' || c == ',') && !s->depth) {
        js_bad(s, "unexpected '%c'", c);
    } else if (c == '}' || c == ']' || c == ':' || c == ',') {
        js_grammar(s, c);
        js_append(s, &ch, 1);
        if (s->depth == 0) {
            js_complete(s);
        }
    } else if (c == '"' || c == '\'') {
        s->state = JS_STRING;
        s->quote = c;
    } else if (c == '-' || g_ascii_isdigit(c)) {
        js_start_token(s, JS_NUMBER, c);
    } else if (g_ascii_isalpha(c)) {
        js_start_token(s, JS_KEYWORD, c);
    } else if (c >= 0x20 && c < 0x7f) {
        js_bad(s, "invalid character '%c'", c);
    } else {
        js_bad(s, "invalid byte 0x%02x", c);
    }
}

static void js_byte(JsonStream *s, unsigned char c)
{
    if ((c < 0x20 && c != '\t' && c != '\r' && c != '\n') || c == 0xff) {
        /* QMP's way back to a known-good state. */
        g_autofree char *msg = g_strdup_printf("invalid byte 0x%02x", c);

        js_clear_value(s);
        js_report(s, msg);
        return;
    }
    switch (s->state) {
    case JS_STRING:
        js_string_byte(s, c);
        return;
    case JS_ESCAPE:
        js_escape_byte(s, c);
        return;
    case JS_UNICODE:
        js_unicode_byte(s, c);
        return;
    case JS_NUMBER:
    case JS_KEYWORD:
        if (js_token_char(s->state, c)) {
            if (s->tok_len < JS_MAX_TOKEN) {
                s->tok[s->tok_len++] = c;
            } else {
                s->tok_long = true;
            }
            return;
        }
        js_end_token(s);
        break;
    case JS_VALUE:
        break;
    }
    js_value_byte(s, c);
}

JsonStream *json_stream_new(JsonStreamFn fn, void *opaque)
{
    JsonStream *s = g_new0(JsonStream, 1);

    s->fn = fn;
    s->opaque = opaque;
    s->out = g_string_new(NULL);
    s->str = g_string_new(NULL);
    return s;
}

void json_stream_free(JsonStream *s)
{
    if (s) {
        g_string_free(s->out, true);
        g_string_free(s->str, true);
        g_free(s->bad);
        g_free(s);
    }
}

void json_stream_feed(JsonStream *s, const char *buf, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        js_byte(s, buf[i]);
    }
}

void json_stream_reset(JsonStream *s)
{
    js_clear_value(s);
}

/* ---- output ---- */

static void jw_string(GString *out, const char *s)
{
    g_string_append_c(out, '"');
    for (const char *p = s; *p; p = g_utf8_next_char(p)) {
        gunichar c = g_utf8_get_char(p);

        if (c == '"' || c == '\\') {
            g_string_append_printf(out, "\\%c", (char)c);
        } else if (c == '\n') {
            g_string_append(out, "\\n");
        } else if (c == '\t') {
            g_string_append(out, "\\t");
        } else if (c == '\r') {
            g_string_append(out, "\\r");
        } else if (c >= 0x20 && c < 0x7f) {
            g_string_append_c(out, c);
        } else if (c < 0x10000) {
            g_string_append_printf(out, "\\u%04x", c);
        } else {
            c -= 0x10000;
            g_string_append_printf(out, "\\u%04x\\u%04x", 0xd800 + (c >> 10),
                                   0xdc00 + (c & 0x3ff));
        }
    }
    g_string_append_c(out, '"');
}

static void jw_newline(GString *out, int indent)
{
    if (indent >= 0) {
        g_string_append_c(out, '\n');
        for (int i = 0; i < indent; i++) {
            g_string_append(out, "    ");
        }
    }
}

static void jw_value(GString *out, JsonNode *node)
{
    char buf[G_ASCII_DTOSTR_BUF_SIZE];

    switch (json_node_get_value_type(node)) {
    case G_TYPE_INT64:
        g_string_append_printf(out, "%" G_GINT64_FORMAT,
                               json_node_get_int(node));
        break;
    case G_TYPE_DOUBLE:
        if (isfinite(json_node_get_double(node))) {
            g_string_append(out, g_ascii_formatd(buf, sizeof(buf), "%.17g",
                                                 json_node_get_double(node)));
        } else {
            g_string_append(out, "null");
        }
        break;
    case G_TYPE_BOOLEAN:
        g_string_append(out, json_node_get_boolean(node) ? "true" : "false");
        break;
    default:
        jw_string(out, json_node_get_string(node));
        break;
    }
}

static void jw_node(GString *out, JsonNode *node, int indent);

static void jw_object(GString *out, JsonObject *o, int indent)
{
    JsonObjectIter it;
    const char *name;
    JsonNode *member;
    bool first = true;

    g_string_append_c(out, '{');
    json_object_iter_init(&it, o);
    while (json_object_iter_next(&it, &name, &member)) {
        g_string_append(out, first ? "" : ",");
        jw_newline(out, indent >= 0 ? indent + 1 : -1);
        jw_string(out, name);
        g_string_append(out, indent >= 0 ? ": " : ":");
        jw_node(out, member, indent >= 0 ? indent + 1 : -1);
        first = false;
    }
    if (!first) {
        jw_newline(out, indent);
    }
    g_string_append_c(out, '}');
}

static void jw_array(GString *out, JsonArray *a, int indent)
{
    guint n = json_array_get_length(a);

    g_string_append_c(out, '[');
    for (guint i = 0; i < n; i++) {
        g_string_append(out, i ? "," : "");
        jw_newline(out, indent >= 0 ? indent + 1 : -1);
        jw_node(out, json_array_get_element(a, i),
                indent >= 0 ? indent + 1 : -1);
    }
    if (n) {
        jw_newline(out, indent);
    }
    g_string_append_c(out, ']');
}

static void jw_node(GString *out, JsonNode *node, int indent)
{
    switch (json_node_get_node_type(node)) {
    case JSON_NODE_OBJECT:
        jw_object(out, json_node_get_object(node), indent);
        break;
    case JSON_NODE_ARRAY:
        jw_array(out, json_node_get_array(node), indent);
        break;
    case JSON_NODE_NULL:
        g_string_append(out, "null");
        break;
    case JSON_NODE_VALUE:
        jw_value(out, node);
        break;
    }
}

void json_stream_format(GString *out, JsonNode *node, bool pretty)
{
    jw_node(out, node, pretty ? 0 : -1);
}
