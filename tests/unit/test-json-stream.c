/*
 * Unit tests of the JSON stream QMP reads its input with
 * (system/json-stream.c): framing of values split anywhere, the strict
 * tokenizer in front of json-glib, the size and nesting limits and the
 * reset on a control character.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdbool.h>
#include <string.h>
#include <glib.h>
#include "system/json-stream.h"

/* What came out: "v:JSON" for a value, "e:message" for an error. */
static void collect(JsonNode *value, const GError *err, void *opaque)
{
    GPtrArray *out = opaque;

    if (value) {
        GString *s = g_string_new("v:");

        json_stream_format(s, value, false);
        g_ptr_array_add(out, g_string_free(s, false));
    } else {
        g_assert_true(g_str_has_prefix(err->message, "JSON parse error, "));
        g_ptr_array_add(out, g_strconcat("e:", err->message + 18, NULL));
    }
}

/* Feed @in in pieces of @step bytes; the results joined with '|'. */
static char *run_step(const char *in, size_t len, size_t step)
{
    g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func(g_free);
    JsonStream *s = json_stream_new(collect, out);

    for (size_t i = 0; i < len; i += step) {
        json_stream_feed(s, in + i, MIN(step, len - i));
    }
    json_stream_free(s);
    g_ptr_array_add(out, NULL);
    return g_strjoinv("|", (char **)out->pdata);
}

/* The same for every piece size: framing never depends on the split. */
static void check_len(const char *in, size_t len, const char *want)
{
    for (size_t step = 1; step <= MAX(len, 1); step++) {
        g_autofree char *got = run_step(in, len, step);

        g_assert_cmpstr(got, ==, want);
    }
}

static void check(const char *in, const char *want)
{
    check_len(in, strlen(in), want);
}

static void test_framing(void)
{
    check("{\"execute\": \"x\"}", "v:{\"execute\":\"x\"}");
    check("{\"a\":\n [1, 2]\n}\r\n{\"b\":{}}", "v:{\"a\":[1,2]}|v:{\"b\":{}}");
    check("{\"a\":\"}{\"}", "v:{\"a\":\"}{\"}");
    check("  \n\t", "");
    check("[1,{\"x\":[]}] 42 \"s\" true ",
          "v:[1,{\"x\":[]}]|v:42|v:\"s\"|v:true");
    /* A bare number or keyword ends at the next delimiter only. */
    check("7", "");
    check("null{}", "v:null|v:{}");
}

static void test_strings(void)
{
    check("{'a':'it\\'s \"q\"'}", "v:{\"a\":\"it's \\\"q\\\"\"}");
    check("[\"\\u00e9\\ud83d\\ude00\\n\\/\"]",
          "v:[\"\\u00e9\\ud83d\\ude00\\n/\"]");
    check("[\"é\"]", "v:[\"\\u00e9\"]");
    check("[\"\\u0000\"]", "e:\\u0000 is not supported");
    check("[\"\\ud800x\"]", "e:lone high surrogate in string");
    check("[\"\\udc00\"]", "e:lone low surrogate in string");
    check("[\"\\x\"] 1 ", "e:invalid escape '\\x' in string|v:1");
    check("[\"\\u12G4\"]", "e:invalid \\u escape in string");
    check("[\"a\tb\"]", "e:control character 0x09 in string");
    check("[\"\xc3\x28\"]", "e:invalid UTF-8 in string");
}

static void test_tokens(void)
{
    check("{\"a\": foo}", "e:invalid keyword 'foo'");
    check("{/*c*/}", "e:invalid character '/'");
    check("[0x10]", "e:invalid keyword 'x10'");
    check("[01]", "e:invalid number '01'");
    check("[1.]", "e:invalid number '1.'");
    check("[-]", "e:invalid number '-'");
    check("[1e999]", "e:number '1e999' out of range");
    check("[99999999999999999999]", "v:[1e+20]");
    check("[-9223372036854775808, 1.5e3]", "v:[-9223372036854775808,1500]");
    check("foo {}", "e:invalid keyword 'foo'|v:{}");
    check("} ]", "e:unexpected '}'|e:unexpected ']'");
    check(": ,", "e:unexpected ':'|e:unexpected ','");
}

static void test_grammar(void)
{
    check("{\"execute\": }", "e:expecting value");
    check("{\"a\":1,}", "e:expecting a member name");
    check("{1:2}", "e:expecting a member name");
    check("{\"a\" 1}", "e:expecting ':'");
    check("{\"a\":\"x\" \"b\":1}", "e:expecting ',' or '}'");
    check("[1 2]", "e:expecting ',' or ']'");
    check("[1,]", "e:expecting value");
    check("[:]", "e:expecting value");
    check("{]", "e:expecting a member name");
    check("[}", "e:expecting value");
    check("[[1],{\"a\":[]},\"s\",null,-1.5e-3]",
          "v:[[1],{\"a\":[]},\"s\",null,-0.0015]");
    check("{\"a\":{\"b\":{}}} []", "v:{\"a\":{\"b\":{}}}|v:[]");
    check("[\xc3\xa9]", "e:invalid byte 0xc3");
}

static void test_reset(void)
{
    /* An unfinished value is dropped by a control character or 0xff. */
    check("{\"a\": [1, \x1b{}", "e:invalid byte 0x1b|v:{}");
    check("{\"a\": \"open\xff[]", "e:invalid byte 0xff|v:[]");
    check_len("\x00{}", 3, "e:invalid byte 0x00|v:{}");
}

static void test_limits(void)
{
    GString *deep = g_string_new(NULL);
    GString *big = g_string_new("[\"");
    g_autofree char *got = NULL;

    for (int i = 0; i < JSON_STREAM_MAX_DEPTH; i++) {
        g_string_append_c(deep, '[');
    }
    for (int i = 0; i < JSON_STREAM_MAX_DEPTH; i++) {
        g_string_append_c(deep, ']');
    }
    got = run_step(deep->str, deep->len, 4096);
    g_assert_true(g_str_has_prefix(got, "v:[[[["));
    g_free(got);
    g_string_prepend_c(deep, '[');
    g_string_append(deep, "] {}");
    got = run_step(deep->str, deep->len, 4096);
    g_assert_cmpstr(got, ==, "e:nesting deeper than 1024|v:{}");
    g_free(got);

    while (big->len <= JSON_STREAM_MAX_SIZE) {
        g_string_append(big, "xxxxxxxxxxxxxxxx");
    }
    g_string_append(big, "\"] {}");
    got = run_step(big->str, big->len, 65536);
    g_assert_cmpstr(got, ==, "e:value larger than 1048576 bytes|v:{}");
    g_string_free(deep, true);
    g_string_free(big, true);
}

/* Pseudo-random garbage never crashes and never stops later values. */
static void test_garbage(void)
{
    GRand *r = g_rand_new_with_seed(15);
    g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func(g_free);
    JsonStream *s = json_stream_new(collect, out);
    static const char pool[] = "{}[]\"'\\:,0-1.eEtrufalsn \n\x80\xc3\xa9u";
    char buf[4096];

    for (int round = 0; round < 200; round++) {
        for (size_t i = 0; i < sizeof(buf); i++) {
            buf[i] = pool[g_rand_int_range(r, 0, sizeof(pool) - 1)];
        }
        json_stream_feed(s, buf, sizeof(buf));
        g_ptr_array_set_size(out, 0);
        json_stream_feed(s, "\x1b{\"ok\":1}", 9);
        g_assert_cmpuint(out->len, ==, 2);
        g_assert_cmpstr(out->pdata[1], ==, "v:{\"ok\":1}");
        g_ptr_array_set_size(out, 0);
    }
    json_stream_free(s);
    g_rand_free(r);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/json-stream/framing", test_framing);
    g_test_add_func("/json-stream/strings", test_strings);
    g_test_add_func("/json-stream/tokens", test_tokens);
    g_test_add_func("/json-stream/grammar", test_grammar);
    g_test_add_func("/json-stream/reset", test_reset);
    g_test_add_func("/json-stream/limits", test_limits);
    g_test_add_func("/json-stream/garbage", test_garbage);
    return g_test_run();
}
