/* webhooks/jscan.c: path extraction, duplicate keys, the string decoder and its truncation,
 * a table of invalid documents, and differential checks against jansson (json_loadb with
 * flags 0 returning an object), including every two-byte UTF-8 combination. */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "webhooks/event.h"
#include "webhooks/jscan.h"

typedef struct doc {
    const char *text;
    size_t len;
} doc;

/* sizeof, not strlen: some documents hold NUL bytes. */
#define DOC(s)                                                                                     \
    {                                                                                              \
        s, sizeof(s) - 1                                                                           \
    }
#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

static bool scan_ok(const char *text, size_t len)
{
    return wh_jscan_scan(text, len, NULL, 0, NULL) == 0;
}

static bool jansson_object(const char *text, size_t len)
{
    json_error_t e;
    json_t *root = json_loadb(text, len, 0, &e);
    bool ok = root && json_is_object(root);

    json_decref(root);
    return ok;
}

/* Documents the scanner must accept (and jansson too). */
static const doc valid_docs[] = {
    DOC("{}"),
    DOC(" \t\r\n{ \t\r\n} \t\r\n"),
    DOC("{\"a\":[]}"),
    DOC("{\"a\":{}}"),
    DOC("{\"\":0}"),
    DOC("{\"a\":-0}"),
    DOC("{\"a\":-0.0e-0}"),
    DOC("{\"a\":1E+2,\"b\":1e-2,\"c\":12.50}"),
    DOC("{\"a\":9223372036854775807,\"b\":-9223372036854775808}"),
    DOC("{\"a\":1.7976931348623157e308}"),
    DOC("{\"a\":1.797693134862315807e308}"),
    DOC("{\"a\":0.001797693134862315807e311}"),
    DOC("{\"a\":-1.797693134862315807e308}"),
    DOC("{\"a\":1e-400,\"b\":-1e-99999999999999999999}"),
    DOC("{\"a\":0e99999999999999999999,\"b\":0.000e400}"),
    DOC("{\"a\":1797693134862315807937289714053034150799341327100378269361737789804449682927647"
        "50946649017977587207096330286416692887910946555547851940402630657488671505820681908902"
        "00070838367627385484581771153176447573027006985557136695962284291481986083493647529271"
        "9074168444365510704342711559699508093042880177904174497791.9999}"),
    DOC("{\"a\":\"\\uD83D\\uDE00\\u00e9\\u20AC\\uDBFF\\uDFFF\\uFFFF\"}"),
    DOC("{\"a\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf\xef\xbf\xbf\"}"),
    DOC("{\"a\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"}"),
    DOC("{\"a\":\"\x7f\"}"),
    DOC("{\"a\":1,\"a\":2}"),
    DOC("{\"a\":[1,[2,[3]],{\"b\":null}],\"c\":true,\"d\":false}"),
    DOC("{\"\\u0061\":1}"),
    DOC("{\"a\":[\"x\",{\"b\":[true,false,null,-1.5e-3]}]}"),
};

typedef struct bad_doc {
    const char *text;
    size_t len;
    const char *why;   /* a fragment of the message */
    bool jansson_same; /* false where jansson accepts the document */
} bad_doc;

#define BAD(s, why)                                                                                \
    {                                                                                              \
        s, sizeof(s) - 1, why, true                                                                \
    }

/* A NUL byte after a literal or a number, which jansson silently drops. */
#define BAD_NOT_JANSSON(s, why)                                                                    \
    {                                                                                              \
        s, sizeof(s) - 1, why, false                                                               \
    }

/* Documents the scanner must reject (and jansson too, unless jansson_same is false). */
static const bad_doc invalid_docs[] = {
    BAD("", "empty body"),
    BAD("  \n", "unexpected end"),
    BAD("[1,2]", "top level must be an object"),
    BAD("\"x\"", "top level must be an object"),
    BAD("1", "top level must be an object"),
    BAD("null", "top level must be an object"),
    BAD("{\"a\":1,}", "expected a string key"),
    BAD("{\"a\":[1,2,]}", "unexpected character"),
    BAD("{\"a\":[1,,2]}", "unexpected character"),
    BAD("{\"a\":[,1]}", "unexpected character"),
    BAD("{,}", "expected a string key"),
    BAD("{\"a\":01}", "leading zero"),
    BAD("{\"a\":-01}", "leading zero"),
    BAD("{\"a\":00}", "leading zero"),
    BAD("{\"a\":1.}", "decimal point"),
    BAD("{\"a\":.5}", "unexpected character"),
    BAD("{\"a\":+1}", "unexpected character"),
    BAD("{\"a\":-}", "invalid number"),
    BAD("{\"a\":1e}", "exponent"),
    BAD("{\"a\":1e+}", "exponent"),
    BAD("{\"a\":0x10}", "expected ',' or '}'"),
    BAD("{\"a\":NaN}", "unexpected character"),
    BAD("{\"a\":Infinity}", "unexpected character"),
    BAD("{\"a\":-Infinity}", "invalid number"),
    BAD("{\"a\":9223372036854775808}", "integer out of range"),
    BAD("{\"a\":-9223372036854775809}", "integer out of range"),
    BAD("{\"a\":123456789012345678901234567890}", "integer out of range"),
    BAD("{\"a\":1e400}", "number too large"),
    BAD("{\"a\":-1.797693134862315808e308}", "number too large"),
    BAD("{\"a\":0.001797693134862315808e311}", "number too large"),
    BAD("{\"a\":17976931348623158080e289}", "number too large"),
    BAD("{\"a\":tru}", "invalid literal"),
    BAD("{\"a\":True}", "unexpected character"),
    BAD("{\"a\":nul}", "invalid literal"),
    BAD("{\"a\":truex}", "expected ',' or '}'"),
    BAD("{\"a\":\"\\ud800\"}", "lone high surrogate"),
    BAD("{\"a\":\"\\udc00\"}", "lone low surrogate"),
    BAD("{\"a\":\"\\ud800\\u0041\"}", "lone high surrogate"),
    BAD("{\"a\":\"\\ud800\\ud800\"}", "lone high surrogate"),
    BAD("{\"a\":\"\\udc00\\ud800\"}", "lone low surrogate"),
    BAD("{\"a\":\"\\ud800x\"}", "lone high surrogate"),
    BAD("{\"a\":\"\\ud800\\u00zz\"}", "invalid \\u escape"),
    BAD("{\"a\":\"\\u0000\"}", "\\u0000"),
    BAD("{\"\\u0000\":1}", "\\u0000"),
    BAD("{\"a\":\"\\u12\"}", "invalid \\u escape"),
    BAD("{\"a\":\"\\u12G4\"}", "invalid \\u escape"),
    BAD("{\"a\":\"\\x41\"}", "invalid escape"),
    BAD("{\"a\":\"\\'\"}", "invalid escape"),
    BAD("{\"a\":\"\\", "unterminated string"),
    BAD("{\"a\":\"abc", "unterminated string"),
    BAD("{\"a\":\"\x01\"}", "control character"),
    BAD("{\"a\":\"tab\there\"}", "control character"),
    BAD("{\"a\":\"new\nline\"}", "control character"),
    BAD("{\"a\":\"nul\0byte\"}", "control character"),
    BAD("{\"a\":\"\x80\"}", "invalid UTF-8"),
    BAD("{\"a\":\"\xbf\"}", "invalid UTF-8"),
    BAD("{\"a\":\"\xc0\xaf\"}", "invalid UTF-8"),
    BAD("{\"a\":\"\xc1\xbf\"}", "invalid UTF-8"),
    BAD("{\"a\":\"\xe0\x80\xaf\"}", "invalid UTF-8"),
    BAD("{\"a\":\"\xe0\x9f\xbf\"}", "invalid UTF-8"),
    BAD("{\"a\":\"\xf0\x80\x80\xaf\"}", "invalid UTF-8"),
    BAD("{\"a\":\"\xf0\x8f\xbf\xbf\"}", "invalid UTF-8"),
    BAD("{\"a\":\"\xed\xa0\x80\"}", "invalid UTF-8"),
    BAD("{\"a\":\"\xed\xbf\xbf\"}", "invalid UTF-8"),
    BAD("{\"a\":\"\xf4\x90\x80\x80\"}", "invalid UTF-8"),
    BAD("{\"a\":\"\xf5\x80\x80\x80\"}", "invalid UTF-8"),
    BAD("{\"a\":\"\xff\"}", "invalid UTF-8"),
    BAD("{\"a\":\"\xc3\"}", "invalid UTF-8"),
    BAD("{\"a\":\"\xe2\x82\"}", "invalid UTF-8"),
    BAD("{\"a\":\"\xe2\x82", "truncated UTF-8"),
    BAD("{\"a\":\"\xf0\x9f\x98", "truncated UTF-8"),
    BAD("{\"a\":\"\xc3\xa9\xc3\"}", "invalid UTF-8"),
    BAD("{\"a\":1}x", "unexpected data after"),
    BAD("{\"a\":1}}", "unexpected data after"),
    BAD("{} {}", "unexpected data after"),
    BAD("{}\0", "unexpected data after"),
    BAD("{}\v", "unexpected data after"),
    BAD("\xef\xbb\xbf{}", "top level must be an object"),
    BAD("{\f}", "expected a string key"),
    BAD("{\xc2\xa0}", "expected a string key"),
    BAD("{\"a\":1 /* c */}", "expected ',' or '}'"),
    BAD("// c\n{}", "top level must be an object"),
    BAD("{'a':1}", "expected a string key"),
    BAD("{a:1}", "expected a string key"),
    BAD("{\"a\" 1}", "expected ':'"),
    BAD("{\"a\":}", "unexpected character"),
    BAD("{\"a\":1 \"b\":2}", "expected ',' or '}'"),
    BAD("{\"a\":[1 2]}", "expected ',' or ']'"),
    BAD("{\"a\":[1}", "expected ',' or ']'"),
    BAD("{\"a\":{]}", "expected a string key"),
    BAD("{\"a\":", "unexpected end"),
    BAD("{\"a\"", "unexpected end"),
    BAD("{\"a\":[", "unexpected end"),
    BAD("{\"a\":[1,", "unexpected end"),
    BAD("{\"a\":1", "unexpected end"),
    BAD("{", "unexpected end"),
    /* Where jansson differs: it accepts these. */
    BAD_NOT_JANSSON("{\"a\":true\0}", "expected ',' or '}'"),
    BAD_NOT_JANSSON("{\"a\":12\0,\"b\":1}", "expected ',' or '}'"),
};

START_TEST(accepts_valid_documents)
{
    for (size_t i = 0; i < N_ELEMS(valid_docs); i++) {
        core_error err = {0};
        int rc = wh_jscan_scan(valid_docs[i].text, valid_docs[i].len, NULL, 0, &err);

        ck_assert_msg(rc == 0, "valid doc %zu rejected: %s", i, err.msg);
    }
}
END_TEST

START_TEST(rejects_invalid_documents)
{
    for (size_t i = 0; i < N_ELEMS(invalid_docs); i++) {
        core_error err = {0};
        int rc = wh_jscan_scan(invalid_docs[i].text, invalid_docs[i].len, NULL, 0, &err);

        ck_assert_msg(rc == CORE_EINVAL, "invalid doc %zu accepted", i);
        ck_assert_int_eq(err.code, CORE_EINVAL);
        ck_assert_msg(strncmp(err.msg, "invalid JSON at byte ", 21) == 0, "doc %zu: %s", i,
                      err.msg);
        ck_assert_msg(strstr(err.msg, invalid_docs[i].why) != NULL,
                      "doc %zu: \"%s\" should say \"%s\"", i, err.msg, invalid_docs[i].why);
    }
}
END_TEST

START_TEST(error_names_the_byte)
{
    core_error err = {0};

    ck_assert_int_eq(wh_jscan_scan("{\"a\":1,}", 8, NULL, 0, &err), CORE_EINVAL);
    ck_assert_str_eq(err.msg, "invalid JSON at byte 7: expected a string key");
    ck_assert_int_eq(wh_jscan_scan("{\"a\":\"x\x01\"}", 10, NULL, 0, &err), CORE_EINVAL);
    ck_assert_str_eq(err.msg, "invalid JSON at byte 7: control character in string");
    ck_assert_int_eq(wh_jscan_scan("{\"a\":\"\\ud800\"}", 14, NULL, 0, &err), CORE_EINVAL);
    ck_assert_str_eq(err.msg, "invalid JSON at byte 6: lone high surrogate");
    ck_assert_int_eq(wh_jscan_scan("{} x", 4, NULL, 0, &err), CORE_EINVAL);
    ck_assert_str_eq(err.msg, "invalid JSON at byte 3: unexpected data after the top-level object");
    ck_assert_int_eq(wh_jscan_scan("", 0, NULL, 0, &err), CORE_EINVAL);
    ck_assert_str_eq(err.msg, "invalid JSON at byte 0: empty body");
    /* A NULL error is allowed. */
    ck_assert_int_eq(wh_jscan_scan("[]", 2, NULL, 0, NULL), CORE_EINVAL);
}
END_TEST

/* n nested containers in total, the top-level object included. */
static char *nested(int n, size_t *len)
{
    core_buf b = {0};

    ck_assert_int_ge(n, 1);
    ck_assert_int_eq(core_buf_puts(&b, "{\"a\":"), 0);
    for (int i = 1; i < n; i++)
        ck_assert_int_eq(core_buf_puts(&b, i % 2 ? "[" : "{\"k\":"), 0);
    ck_assert_int_eq(core_buf_puts(&b, "1"), 0);
    for (int i = n - 1; i >= 1; i--)
        ck_assert_int_eq(core_buf_puts(&b, i % 2 ? "]" : "}"), 0);
    ck_assert_int_eq(core_buf_puts(&b, "}"), 0);
    *len = b.len;
    return core_buf_steal(&b);
}

START_TEST(depth_cap)
{
    core_error err = {0};
    size_t len;
    char *text;

    text = nested(WH_JSON_MAX_DEPTH, &len);
    ck_assert_msg(wh_jscan_scan(text, len, NULL, 0, &err) == 0, "depth 64: %s", err.msg);
    /* jansson agrees up to here; its own cap is far higher. */
    ck_assert(jansson_object(text, len));
    free(text);

    text = nested(WH_JSON_MAX_DEPTH + 1, &len);
    ck_assert_int_eq(wh_jscan_scan(text, len, NULL, 0, &err), CORE_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "nesting too deep"));
    free(text);

    /* Deep and wide: closing containers must bring the depth back down. */
    {
        core_buf b = {0};

        ck_assert_int_eq(core_buf_puts(&b, "{\"x\":["), 0);
        for (int i = 0; i < 200; i++) {
            ck_assert_int_eq(core_buf_puts(&b, i ? "," : ""), 0);
            for (int d = 0; d < 60; d++)
                ck_assert_int_eq(core_buf_puts(&b, "["), 0);
            for (int d = 0; d < 60; d++)
                ck_assert_int_eq(core_buf_puts(&b, "]"), 0);
        }
        ck_assert_int_eq(core_buf_puts(&b, "]}"), 0);
        ck_assert_int_eq(wh_jscan_scan(b.data, b.len, NULL, 0, &err), 0);
        core_buf_free(&b);
    }
}
END_TEST

static wh_jscan_field field(const char *path)
{
    /* Garbage in the outputs: the scanner must reset them. */
    return (wh_jscan_field){.path = path, .type = WH_JSCAN_ARRAY, .raw = "junk", .raw_len = 4};
}

static void assert_raw(const wh_jscan_field *f, wh_jscan_type type, const char *raw)
{
    ck_assert_msg(f->type == type, "%s: type %d, want %d", f->path, (int)f->type, (int)type);
    if (raw) {
        ck_assert_uint_eq(f->raw_len, strlen(raw));
        ck_assert_msg(memcmp(f->raw, raw, f->raw_len) == 0, "%s: raw %.*s, want %s", f->path,
                      (int)f->raw_len, f->raw, raw);
    }
}

START_TEST(extracts_paths)
{
    static const char text[] =
        "{\"a\":{\"b\":{\"c\":\"x\\ty\"},\"n\":-12.5e3,\"arr\":[{\"b\":1}]},\"t\":true,"
        " \"f\" : false ,\"z\":null,\"o\":{ \"k\" : [1, 2] },\"e\":{},\"s\":\"\"}";
    wh_jscan_field f[] = {field("a.b.c"), field("a.n"),     field("t"),   field("f"),
                          field("z"),     field("o"),       field("o.k"), field("a.arr.b"),
                          field("nope"),  field("a.b.c.d"), field("a"),   field("e"),
                          field("s"),     field("a.arr")};
    core_error err = {0};

    ck_assert_int_eq(wh_jscan_scan(text, sizeof(text) - 1, f, N_ELEMS(f), &err), 0);
    assert_raw(&f[0], WH_JSCAN_STRING, "\"x\\ty\"");
    assert_raw(&f[1], WH_JSCAN_NUMBER, "-12.5e3");
    assert_raw(&f[2], WH_JSCAN_TRUE, "true");
    assert_raw(&f[3], WH_JSCAN_FALSE, "false");
    assert_raw(&f[4], WH_JSCAN_NULL, "null");
    assert_raw(&f[5], WH_JSCAN_OBJECT, "{ \"k\" : [1, 2] }");
    assert_raw(&f[6], WH_JSCAN_ARRAY, "[1, 2]");
    /* Paths never go into arrays, nor through scalars. */
    ck_assert_int_eq(f[7].type, WH_JSCAN_MISSING);
    ck_assert_ptr_null(f[7].raw);
    ck_assert_int_eq(f[8].type, WH_JSCAN_MISSING);
    ck_assert_int_eq(f[9].type, WH_JSCAN_MISSING);
    ck_assert_int_eq(f[10].type, WH_JSCAN_OBJECT);
    ck_assert_uint_eq(f[10].raw_len,
                      strlen("{\"b\":{\"c\":\"x\\ty\"},\"n\":-12.5e3,\"arr\":[{\"b\":1}]}"));
    assert_raw(&f[11], WH_JSCAN_OBJECT, "{}");
    assert_raw(&f[12], WH_JSCAN_STRING, "\"\"");
    assert_raw(&f[13], WH_JSCAN_ARRAY, "[{\"b\":1}]");
}
END_TEST

/* A key repeated in one object on the way to a field we read is refused: parsers disagree
 * on which copy counts. Repeats elsewhere are nobody's business and pass. */
START_TEST(duplicate_keys_refused)
{
    static const char *const refused[] = {
        "{\"a\":1,\"b\":{\"c\":\"first\"},\"a\":\"two\"}",
        "{\"b\":{\"c\":1},\"b\":{\"d\":2}}",
        "{\"b\":{\"c\":1},\"b\":\"flat\"}",
        "{\"b\":{\"c\":1,\"c\":2}}",
        "{\"\\u0061\":1,\"a\":2}",
    };
    static const char passes[] = "{\"x\":1,\"x\":2,\"b\":{\"y\":[1],\"y\":{}},\"a\":3,"
                                 "\"l\":[{\"a\":1},{\"a\":2}]}";
    core_error err = {0};

    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        wh_jscan_field f[] = {field("a"), field("b.c"), field("b")};

        ck_assert_int_eq(wh_jscan_scan(refused[i], strlen(refused[i]), f, 3, &err), CORE_EINVAL);
        ck_assert_msg(strstr(err.msg, "duplicate key") != NULL, "%s: %s", refused[i], err.msg);
    }
    {
        wh_jscan_field f[] = {field("a"), field("b.c")};

        ck_assert_int_eq(wh_jscan_scan(passes, sizeof(passes) - 1, f, 2, &err), 0);
        assert_raw(&f[0], WH_JSCAN_NUMBER, "3");
        ck_assert_int_eq(f[1].type, WH_JSCAN_MISSING);
    }
}
END_TEST

START_TEST(keys_compare_decoded)
{
    static const char text[] = "{\"p\\u0075ll\":{\"h\\u0065ad\":{\"sha\":\"s\"}},\"a.b\":1,"
                               "\"caf\xc3\xa9\":2,\"x\\\"y\":3}";
    wh_jscan_field f[] = {field("pull.head.sha"), field("a.b"), field("caf\xc3\xa9"), field("x\"y"),
                          field("pull.head")};
    core_error err = {0};

    ck_assert_int_eq(wh_jscan_scan(text, sizeof(text) - 1, f, N_ELEMS(f), &err), 0);
    assert_raw(&f[0], WH_JSCAN_STRING, "\"s\"");
    /* A key holding a dot cannot be named by a path. */
    ck_assert_int_eq(f[1].type, WH_JSCAN_MISSING);
    assert_raw(&f[2], WH_JSCAN_NUMBER, "2");
    assert_raw(&f[3], WH_JSCAN_NUMBER, "3");
    assert_raw(&f[4], WH_JSCAN_OBJECT, "{\"sha\":\"s\"}");
}
END_TEST

START_TEST(many_fields_and_segments)
{
    static char paths[WH_JSCAN_MAX_FIELDS][16];
    wh_jscan_field f[WH_JSCAN_MAX_FIELDS];
    core_buf b = {0};
    core_error err = {0};

    ck_assert_int_eq(core_buf_puts(&b, "{"), 0);
    for (int i = 0; i < WH_JSCAN_MAX_FIELDS; i++) {
        snprintf(paths[i], sizeof(paths[i]), "k%d", i);
        f[i] = field(paths[i]);
        ck_assert_int_eq(core_buf_printf(&b, "%s\"k%d\":%d", i ? "," : "", i, i), 0);
    }
    ck_assert_int_eq(core_buf_puts(&b, "}"), 0);
    ck_assert_int_eq(wh_jscan_scan(b.data, b.len, f, WH_JSCAN_MAX_FIELDS, &err), 0);
    for (int i = 0; i < WH_JSCAN_MAX_FIELDS; i++) {
        ck_assert_int_eq(f[i].type, WH_JSCAN_NUMBER);
        ck_assert_int_eq(atoi(f[i].raw), i);
    }
    core_buf_free(&b);

    {
        static const char text[] =
            "{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{\"g\":{\"h\":7}}}}}}}}";
        wh_jscan_field g[] = {field("a.b.c.d.e.f.g.h")};

        ck_assert_int_eq(wh_jscan_scan(text, sizeof(text) - 1, g, 1, &err), 0);
        assert_raw(&g[0], WH_JSCAN_NUMBER, "7");
    }
}
END_TEST

/* Decodes a whole token with room to spare. */
static size_t decode(const char *raw, char *out, size_t cap)
{
    bool cut = true;
    size_t n = wh_jscan_string_decode(raw, strlen(raw), out, cap, &cut);

    ck_assert(!cut);
    ck_assert_uint_eq(n, strlen(out));
    return n;
}

START_TEST(decodes_escapes)
{
    char out[64];

    decode("\"plain\"", out, sizeof(out));
    ck_assert_str_eq(out, "plain");
    decode("\"a\\\"b\\\\c\\/d\\be\\ff\\ng\\rh\\ti\"", out, sizeof(out));
    ck_assert_str_eq(out, "a\"b\\c/d\be\ff\ng\rh\ti");
    decode("\"\\u0041\\u00e9\\u20AC\"", out, sizeof(out));
    ck_assert_str_eq(out, "A\xc3\xa9\xe2\x82\xac");
    decode("\"\\uD83D\\uDE00 \\ud834\\udd1e \\uDBFF\\uDFFF\"", out, sizeof(out));
    ck_assert_str_eq(out, "\xf0\x9f\x98\x80 \xf0\x9d\x84\x9e \xf4\x8f\xbf\xbf");
    decode("\"raw \xc3\xa9\xf0\x9f\x98\x80 stays\"", out, sizeof(out));
    ck_assert_str_eq(out, "raw \xc3\xa9\xf0\x9f\x98\x80 stays");
    decode("\"\"", out, sizeof(out));
    ck_assert_str_eq(out, "");
    /* Whatever it is given, it stays inside both buffers (ASan checks). */
    wh_jscan_string_decode("\"abc\\", 5, out, sizeof(out), NULL);
    wh_jscan_string_decode("\"\\u12", 5, out, sizeof(out), NULL);
    wh_jscan_string_decode("\"\\ud800\\u", 9, out, sizeof(out), NULL);
    wh_jscan_string_decode("\"", 1, out, sizeof(out), NULL);
    wh_jscan_string_decode("", 0, out, 1, NULL);
    ck_assert_str_eq(out, "");
}
END_TEST

static size_t utf8_char_len(unsigned char c)
{
    return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
}

/* For every buffer size, the output is the longest whole-character prefix that fits. */
START_TEST(truncates_at_character_boundary)
{
    static const char *const tokens[] = {
        "\"ab\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80z\"",
        "\"ab\\u00e9\\u20ac\\ud83d\\ude00z\"",
        "\"\\n\xc3\xa9\\t\\uD83D\\uDE00\xe2\x82\xac\\\"\"",
    };
    static const char full[] = "ab\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80z";
    char out[64];

    for (size_t t = 0; t < N_ELEMS(tokens); t++) {
        char whole[64];
        size_t whole_len = decode(tokens[t], whole, sizeof(whole));

        if (t < 2)
            ck_assert_str_eq(whole, full);
        for (size_t cap = 1; cap <= whole_len + 1; cap++) {
            bool cut = false;
            size_t n, expect = 0;

            memset(out, 'X', sizeof(out));
            n = wh_jscan_string_decode(tokens[t], strlen(tokens[t]), out, cap, &cut);
            while (expect < whole_len &&
                   expect + utf8_char_len((unsigned char)whole[expect]) <= cap - 1)
                expect += utf8_char_len((unsigned char)whole[expect]);
            ck_assert_msg(n == expect, "token %zu cap %zu: %zu bytes, want %zu", t, cap, n, expect);
            ck_assert_int_eq(out[n], '\0');
            ck_assert(memcmp(out, whole, n) == 0);
            ck_assert_msg(cut == (expect < whole_len), "token %zu cap %zu: truncated flag", t, cap);
            /* Nothing written past the buffer. */
            ck_assert_int_eq(out[cap], 'X');
        }
    }
}
END_TEST

/* Hand-picked cases on top of the two tables, each compared with jansson. */
static const doc differential_extra[] = {
    DOC("{\"a\":\"\\u0000x\"}"),
    DOC("{\"a\":\"x\\u0000\"}"),
    DOC("{\"a\":\"\\uDBFF\\uDFFF\"}"),
    DOC("{\"a\":\"\\uDC00\\uDC00\"}"),
    DOC("{\"a\":\"\\uD800\\uDBFF\"}"),
    DOC("{\"a\":\"\\uD800\\\\uDC00\"}"),
    DOC("{\"a\":\"\\uD800\\n\"}"),
    DOC("{\"a\":1e308,\"b\":1e309}"),
    DOC("{\"a\":100000000000000000000000000000e280}"),
    DOC("{\"a\":10000000000000000000000000000e280}"),
    DOC("{\"a\":0.1797693134862315808e309}"),
    DOC("{\"a\":0.1797693134862315807e309}"),
    DOC("{\"a\":1797693134862315808e290}"),
    DOC("{\"a\":1797693134862315807e290}"),
    DOC("{\"a\":-0.0000000000000000000000000000001e340}"),
    DOC("{\"a\":-0.0000000000000000000000000000001e338}"),
    DOC("{\"a\":1E308,\"b\":1.0E+308,\"c\":10E307}"),
    DOC("{\"a\":2E308}"),
    DOC("{\"a\":9223372036854775807.0}"),
    DOC("{\"a\":18446744073709551616}"),
    DOC("{\"a\":-0.0}"),
    DOC("{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}"),
    DOC("{\"a\":[{},{\"b\":[{}]}],\"c\":{\"d\":{}}}"),
    DOC("{\"a\":true,\"b\":false,\"c\":null}"),
    DOC("{\"a\":t}"),
    DOC("{\"a\":f}"),
    DOC("{\"a\":n}"),
    DOC("{\"a\":fals}"),
    DOC("{\"a\":nulll}"),
    DOC("{\"a\":1}\n\n"),
    DOC("{\"a\":1}\r\n\t "),
    DOC("{\"a\" \t:\r\n1\n,\n\"b\"\n:\n2\n}"),
    DOC("{\"a\":\"\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\"}"),
    DOC("{\"\xc3\xa9\":1}"),
    DOC("{\"\xc3\":1}"),
    DOC("{\"a\":\"\\u00\"}"),
    DOC("{\"a\":\"\\U0041\"}"),
    DOC("{\"a\":\"\\u004\"}"),
    DOC("{\"a\":\"\\u0041\\u\"}"),
    DOC("{\"a\":[\"\x1f\"]}"),
    DOC("{\"a\":[\" \"]}"),
    DOC("{\"a\":[1,2,3],}"),
    DOC("{\"a\":[1,2,3]]"),
    DOC("{\"a\":{\"b\":1}}}"),
    DOC("{\"a\":1}\0{}"),
    DOC("\0{}"),
    DOC("{\"a\":-}"),
    DOC("{\"a\":--1}"),
    DOC("{\"a\":1.2.3}"),
    DOC("{\"a\":1e2e3}"),
    DOC("{\"a\":1E-}"),
    DOC("{\"a\":0.0e+00}"),
    DOC("{\"a\":123abc}"),
};

static void assert_agrees(const char *text, size_t len, const char *what, size_t i)
{
    bool ours = scan_ok(text, len), theirs = jansson_object(text, len);

    ck_assert_msg(ours == theirs, "%s %zu (%.*s): scanner %s, jansson %s", what, i,
                  (int)(len > 80 ? 80 : len), text, ours ? "accepts" : "rejects",
                  theirs ? "accepts" : "rejects");
}

START_TEST(differential_against_jansson)
{
    for (size_t i = 0; i < N_ELEMS(valid_docs); i++)
        assert_agrees(valid_docs[i].text, valid_docs[i].len, "valid", i);
    for (size_t i = 0; i < N_ELEMS(invalid_docs); i++) {
        if (invalid_docs[i].jansson_same)
            assert_agrees(invalid_docs[i].text, invalid_docs[i].len, "invalid", i);
    }
    for (size_t i = 0; i < N_ELEMS(differential_extra); i++)
        assert_agrees(differential_extra[i].text, differential_extra[i].len, "extra", i);
}
END_TEST

/* Every pair of bytes inside a string, and every lead byte with a spread of continuations:
 * the scanner and jansson must agree on each (control characters, escapes, UTF-8). */
START_TEST(differential_utf8_exhaustive)
{
    static const unsigned char tails[] = {0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F,
                                          0xA0, 0xBF, 0xC0, 0xFF, '"',  '\\'};
    char text[16];
    size_t checked = 0;

    memcpy(text, "{\"a\":\"", 6);
    for (unsigned a = 0; a < 256; a++) {
        for (unsigned b = 0; b < 256; b++) {
            text[6] = (char)a;
            text[7] = (char)b;
            memcpy(text + 8, "\"}", 2);
            assert_agrees(text, 10, "pair", a << 8 | b);
            checked++;
            if (a < 0xE0 || a > 0xF4 || b < 0x80 || b > 0xBF)
                continue;
            for (size_t c = 0; c < sizeof(tails); c++) {
                for (size_t d = 0; d < sizeof(tails); d++) {
                    text[8] = (char)tails[c];
                    text[9] = (char)tails[d];
                    memcpy(text + 10, "\"}", 2);
                    assert_agrees(text, 12, "quad", a << 16 | b << 8 | tails[c]);
                    /* And cut short at the end of the buffer. */
                    assert_agrees(text, 9, "cut", a << 16 | b << 8 | tails[c]);
                    checked++;
                }
            }
        }
    }
    ck_assert_uint_gt(checked, 65536);
}
END_TEST

Suite *suite_webhooks_jscan(void)
{
    Suite *s = suite_create("webhooks_jscan");
    TCase *tc = tcase_create("scan");
    TCase *diff = tcase_create("differential");

    tcase_add_test(tc, accepts_valid_documents);
    tcase_add_test(tc, rejects_invalid_documents);
    tcase_add_test(tc, error_names_the_byte);
    tcase_add_test(tc, depth_cap);
    tcase_add_test(tc, extracts_paths);
    tcase_add_test(tc, duplicate_keys_refused);
    tcase_add_test(tc, keys_compare_decoded);
    tcase_add_test(tc, many_fields_and_segments);
    tcase_add_test(tc, decodes_escapes);
    tcase_add_test(tc, truncates_at_character_boundary);
    suite_add_tcase(s, tc);
    tcase_add_test(diff, differential_against_jansson);
    tcase_add_test(diff, differential_utf8_exhaustive);
    /* About a million tiny documents through jansson: slow under sanitizers. */
    tcase_set_timeout(diff, 120);
    suite_add_tcase(s, diff);
    return s;
}
