/* webhooks/jscan.c: the strict single-pass JSON scanner behind webhook parsing. One loop
 * walks the document with an explicit stack; strings, the bulk of a GitHub payload, are
 * skipped eight bytes at a time until a byte needs a closer look. */
#include "webhooks/jscan.h"

#include <stdint.h>
#include <string.h>

#include "webhooks/event.h"

enum { KIND_OBJECT = 1, KIND_ARRAY = 2 };

/* One open container. cand: fields whose next path segment may be a key of this object;
 * term: fields whose value is this container, recorded when it closes. */
typedef struct frame {
    uint64_t cand;
    uint64_t term;
    const unsigned char *start;
    int kind;
} frame;

/* Where each segment of a requested path is, computed once per scan. */
typedef struct path_segs {
    const char *path;
    unsigned n;
    uint16_t off[WH_JSCAN_MAX_SEGMENTS];
    uint16_t len[WH_JSCAN_MAX_SEGMENTS];
} path_segs;

typedef struct scanner {
    const unsigned char *at; /* the byte an error is reported at */
    const char *why;
    /* Bit i of seen[k]: requested field i's segment k has been met. Paths never run
     * through arrays, so meeting it twice means one object repeats the key. */
    uint64_t seen[WH_JSCAN_MAX_SEGMENTS];
} scanner;

/* Space, tab, line feed, carriage return: RFC 8259's only whitespace. */
static const unsigned char is_ws[256] = {[' '] = 1, ['\t'] = 1, ['\n'] = 1, ['\r'] = 1};

#define ONES UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)

/* Non-zero when any of the 8 bytes in v is a quote, a backslash, a control character or
 * not ASCII. Each term is exact as a yes/no answer (borrows only run above the first hit),
 * which is all the caller asks. */
static inline uint64_t swar_special(uint64_t v)
{
    uint64_t quote = v ^ (ONES * '"');
    uint64_t bslash = v ^ (ONES * '\\');

    return ((quote - ONES) & ~quote & HIGHS) | ((bslash - ONES) & ~bslash & HIGHS) |
           (((v - ONES * 0x20) | v) & HIGHS);
}

static inline bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static const unsigned char *fail(scanner *s, const unsigned char *at, const char *why)
{
    s->at = at;
    s->why = why;
    return NULL;
}

static inline const unsigned char *skip_ws(const unsigned char *p, const unsigned char *end)
{
    while (p < end && is_ws[*p])
        p++;
    return p;
}

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* The code unit of the four hex digits at p, or -1. */
static long hex4(const unsigned char *p, const unsigned char *end)
{
    long v = 0;

    if (end - p < 4)
        return -1;
    for (int i = 0; i < 4; i++) {
        int d = hex_value(p[i]);

        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

/* p is at a backslash inside a string; returns the byte after the escape. */
static const unsigned char *scan_escape(scanner *s, const unsigned char *p,
                                        const unsigned char *end)
{
    long cp, lo;

    if (end - p < 2)
        return fail(s, end, "unterminated string");
    switch (p[1]) {
    case '"':
    case '\\':
    case '/':
    case 'b':
    case 'f':
    case 'n':
    case 'r':
    case 't':
        return p + 2;
    case 'u':
        break;
    default:
        return fail(s, p, "invalid escape");
    }
    cp = hex4(p + 2, end);
    if (cp < 0)
        return fail(s, p, "invalid \\u escape");
    /* jansson (without JSON_ALLOW_NUL) refuses it; C strings could not hold it anyway. */
    if (cp == 0)
        return fail(s, p, "\\u0000 is not allowed");
    if (cp >= 0xDC00 && cp <= 0xDFFF)
        return fail(s, p, "lone low surrogate");
    if (cp < 0xD800 || cp > 0xDBFF)
        return p + 6;
    if (end - p < 12 || p[6] != '\\' || p[7] != 'u')
        return fail(s, p, "lone high surrogate");
    lo = hex4(p + 8, end);
    if (lo < 0)
        return fail(s, p + 6, "invalid \\u escape");
    if (lo < 0xDC00 || lo > 0xDFFF)
        return fail(s, p, "lone high surrogate");
    return p + 12;
}

/* p is at a byte >= 0x80; returns the byte after its well-formed UTF-8 sequence (Unicode
 * table 3-7: no overlong forms, no surrogates, nothing above U+10FFFF). */
static const unsigned char *scan_utf8(scanner *s, const unsigned char *p, const unsigned char *end)
{
    unsigned char c = p[0], lo = 0x80, hi = 0xBF;
    ptrdiff_t n;

    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        return fail(s, p, "invalid UTF-8");
    }
    if (end - p < n)
        return fail(s, p, "truncated UTF-8 sequence");
    if (p[1] < lo || p[1] > hi)
        return fail(s, p, "invalid UTF-8");
    for (ptrdiff_t i = 2; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return fail(s, p, "invalid UTF-8");
    }
    return p + n;
}

/* p is just after an opening quote; returns the byte after the closing one. *escaped is
 * set when the string holds a backslash. */
static const unsigned char *scan_string(scanner *s, const unsigned char *p,
                                        const unsigned char *end, bool *escaped)
{
    for (;;) {
        uint64_t v;

        while (end - p >= 8) {
            memcpy(&v, p, sizeof(v));
            if (swar_special(v))
                break;
            p += 8;
        }
        while (p < end && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
            p++;
        if (p == end)
            return fail(s, p, "unterminated string");
        if (*p == '"')
            return p + 1;
        if (*p == '\\') {
            *escaped = true;
            p = scan_escape(s, p, end);
        } else if (*p < 0x20) {
            return fail(s, p, "control character in string");
        } else {
            p = scan_utf8(s, p, end);
        }
        if (!p)
            return NULL;
    }
}

/* Digits of 2^1024 - 2^970, the smallest decimal that strtod rounds to infinity (it ties
 * with DBL_MAX and rounds to even), times 10^-309. */
static const char dbl_overflow_digits[] =
    "179769313486231580793728971405303415079934132710037826936173778980444968292764750946649"
    "017977587207096330286416692887910946555547851940402630657488671505820681908902000708383"
    "676273854845817711531764475730270069855571366959622842914819860834936475292719074168444"
    "365510704342711559699508093042880177904174497792";

/* True when the real number [p, end) (valid syntax) is too large for a double, which
 * jansson rejects: compares it with dbl_overflow_digits exactly, without strtod (whose
 * result depends on the locale) and without copying the digits. */
static bool real_overflows(const unsigned char *p, const unsigned char *end)
{
    const unsigned char *q, *first = NULL, *mant_end;
    int64_t e10 = 0, exp = 0;
    bool exp_neg = false;
    size_t i = 0;

    if (*p == '-')
        p++;
    /* The value is 0.d1d2... * 10^e10, d1 being its first non-zero digit. */
    for (q = p; q < end && is_digit(*q); q++) {
        if (!first && *q != '0')
            first = q;
    }
    if (first)
        e10 = q - first;
    if (q < end && *q == '.') {
        const unsigned char *frac = ++q;

        for (; q < end && is_digit(*q); q++) {
            if (!first && *q != '0') {
                first = q;
                e10 = -(q - frac);
            }
        }
    }
    mant_end = q;
    if (!first)
        return false; /* zero, whatever the exponent */
    if (q < end) {
        q++; /* 'e' or 'E' */
        if (*q == '+' || *q == '-')
            exp_neg = *q++ == '-';
        for (; q < end; q++) {
            /* Saturate: an exponent this large decides the answer on its own. */
            if (exp < 1000000)
                exp = exp * 10 + (*q - '0');
        }
    }
    e10 += exp_neg ? -exp : exp;
    if (e10 != 309)
        return e10 > 309;
    for (q = first; q < mant_end; q++) {
        if (*q == '.')
            continue;
        if (i == sizeof(dbl_overflow_digits) - 1)
            return true; /* equal to the bound so far: at or above it */
        if (*q != (unsigned char)dbl_overflow_digits[i])
            return *q > (unsigned char)dbl_overflow_digits[i];
        i++;
    }
    /* Equal so far, but the bound has digits left and its last is not zero: below it, unless
     * every digit of the bound was matched. */
    return i == sizeof(dbl_overflow_digits) - 1;
}

static const unsigned char *scan_literal(scanner *s, const unsigned char *p,
                                         const unsigned char *end, const char *word, size_t len)
{
    if ((size_t)(end - p) < len || memcmp(p, word, len) != 0)
        return fail(s, p, "invalid literal");
    return p + len;
}

/* p is at '-' or a digit; returns the byte after the number. */
static const unsigned char *scan_number(scanner *s, const unsigned char *p,
                                        const unsigned char *end)
{
    const unsigned char *start = p, *digits;
    bool real = false;
    ptrdiff_t n;

    if (*p == '-')
        p++;
    digits = p;
    if (p == end || !is_digit(*p))
        return fail(s, p, "invalid number");
    if (*p == '0') {
        p++;
        if (p < end && is_digit(*p))
            return fail(s, start, "leading zero in number");
    } else {
        while (p < end && is_digit(*p))
            p++;
    }
    n = p - digits;
    if (p < end && *p == '.') {
        p++;
        if (p == end || !is_digit(*p))
            return fail(s, p, "expected a digit after the decimal point");
        while (p < end && is_digit(*p))
            p++;
        real = true;
    }
    if (p < end && (*p | 0x20) == 'e') {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (p == end || !is_digit(*p))
            return fail(s, p, "expected a digit in the exponent");
        while (p < end && is_digit(*p))
            p++;
        real = true;
    }
    /* RFC 8259 lets a parser limit the range; jansson takes integers as int64 and reals as
     * doubles and refuses what does not fit, so the same documents are accepted here. */
    if (real) {
        if (real_overflows(start, p))
            return fail(s, start, "number too large");
    } else if (n > 19 ||
               (n == 19 &&
                memcmp(digits, *start == '-' ? "9223372036854775808" : "9223372036854775807", 19) >
                    0)) {
        return fail(s, start, "integer out of range");
    }
    return p;
}

static void split_paths(wh_jscan_field *fields, size_t nfields, path_segs *segs)
{
    for (size_t i = 0; i < nfields; i++) {
        const char *path = fields[i].path;
        size_t off = 0;

        CORE_ASSERT(path != NULL && path[0] != '\0');
        segs[i].path = path;
        segs[i].n = 0;
        for (;;) {
            size_t len = strcspn(path + off, ".");

            CORE_ASSERT(len > 0 && len <= WH_JSCAN_MAX_SEGMENT_LEN);
            CORE_ASSERT(segs[i].n < WH_JSCAN_MAX_SEGMENTS && off <= UINT16_MAX);
            segs[i].off[segs[i].n] = (uint16_t)off;
            segs[i].len[segs[i].n] = (uint16_t)len;
            segs[i].n++;
            off += len;
            if (path[off] == '\0')
                break;
            off++;
        }
        fields[i].type = WH_JSCAN_MISSING;
        fields[i].raw = NULL;
        fields[i].raw_len = 0;
    }
}

/* A key [key, key+len) at nesting level seg of an object with candidates cand: finds the
 * fields it leads to. A key that one object holds twice, on the way to a field we read, is
 * refused: parsers disagree on which of the two counts (jansson takes the last, others the
 * first), and that disagreement is how a payload says one thing to a proxy or a signature
 * check and another to us. Returns false for such a duplicate. */
static bool match_key(scanner *s, const path_segs *segs, uint64_t cand, unsigned seg,
                      const char *key, size_t len, uint64_t *term, uint64_t *next)
{
    *term = 0;
    *next = 0;
    while (cand) {
        unsigned i = (unsigned)__builtin_ctzll(cand);
        uint64_t bit = UINT64_C(1) << i;

        cand &= cand - 1;
        if (segs[i].len[seg] != len || memcmp(segs[i].path + segs[i].off[seg], key, len) != 0)
            continue;
        if (s->seen[seg] & bit)
            return false;
        s->seen[seg] |= bit;
        if (seg + 1 == segs[i].n)
            *term |= bit;
        else
            *next |= bit;
    }
    return true;
}

static void record(wh_jscan_field *fields, uint64_t term, wh_jscan_type type,
                   const unsigned char *start, const unsigned char *end)
{
    while (term) {
        unsigned i = (unsigned)__builtin_ctzll(term);

        term &= term - 1;
        fields[i].type = type;
        fields[i].raw = (const char *)start;
        fields[i].raw_len = (size_t)(end - start);
    }
}

/* Reads `"key" :` at p (just after '{' or ',' and whitespace) and leaves p at the value. */
static const unsigned char *scan_key(scanner *s, const unsigned char *p, const unsigned char *end,
                                     const path_segs *segs, const frame *top, unsigned seg,
                                     uint64_t *term, uint64_t *next)
{
    const unsigned char *key = p + 1;
    bool escaped = false;

    if (p == end || *p != '"')
        return fail(s, p, p == end ? "unexpected end of input" : "expected a string key");
    p = scan_string(s, p + 1, end, &escaped);
    if (!p)
        return NULL;
    *term = 0;
    *next = 0;
    if (top->cand) {
        bool unique = true;

        if (!escaped) {
            unique = match_key(s, segs, top->cand, seg, (const char *)key, (size_t)(p - 1 - key),
                               term, next);
        } else {
            /* Escaped keys are rare: decode to compare. A key too long for the buffer is
             * longer than any segment a caller may ask for. */
            char buf[WH_JSCAN_MAX_SEGMENT_LEN + 1];
            bool cut;
            size_t n = wh_jscan_string_decode((const char *)key - 1, (size_t)(p - key + 1), buf,
                                              sizeof(buf), &cut);

            if (!cut)
                unique = match_key(s, segs, top->cand, seg, buf, n, term, next);
        }
        if (!unique)
            return fail(s, key - 1, "duplicate key");
    }
    p = skip_ws(p, end);
    if (p == end || *p != ':')
        return fail(s, p, p == end ? "unexpected end of input" : "expected ':'");
    p = skip_ws(p + 1, end);
    if (p == end)
        return fail(s, p, "unexpected end of input");
    return p;
}

/* p is at the first byte of a member after '{', '[' or ','; for an object reads its key.
 * Leaves p at the member's value, with term and next the fields it is for. */
static const unsigned char *scan_member(scanner *s, const unsigned char *p,
                                        const unsigned char *end, const path_segs *segs,
                                        const frame *top, unsigned seg, uint64_t *term,
                                        uint64_t *next)
{
    if (top->kind == KIND_OBJECT)
        return scan_key(s, p, end, segs, top, seg, term, next);
    *term = 0;
    *next = 0;
    if (p == end)
        return fail(s, p, "unexpected end of input");
    return p;
}

int wh_jscan_scan(const char *buf, size_t len, wh_jscan_field *fields, size_t nfields,
                  core_error *err)
{
    const unsigned char *base = (const unsigned char *)buf;
    const unsigned char *p = base, *end = base + len, *start;
    frame stack[WH_JSON_MAX_DEPTH];
    path_segs segs[WH_JSCAN_MAX_FIELDS];
    scanner s = {0};
    uint64_t term, next;
    int depth = 0;
    wh_jscan_type type;
    frame *top;
    bool escaped;

    CORE_ASSERT(nfields <= WH_JSCAN_MAX_FIELDS);
    CORE_ASSERT(buf != NULL || len == 0);
    CORE_ASSERT(fields != NULL || nfields == 0);
    split_paths(fields, nfields, segs);

    p = skip_ws(p, end);
    if (p == end) {
        fail(&s, p, len ? "unexpected end of input" : "empty body");
        goto invalid;
    }
    if (*p != '{') {
        fail(&s, p, "top level must be an object");
        goto invalid;
    }
    /* The top level is a value like any other, whose fields are all the paths. */
    term = 0;
    next = nfields == 64 ? UINT64_MAX : (UINT64_C(1) << nfields) - 1;

    for (;;) {
        /* p is at the first byte of a value; term and next say which fields it is for. */
        start = p;
        switch (*p) {
        case '{':
        case '[':
            if (depth == WH_JSON_MAX_DEPTH) {
                fail(&s, p, "nesting too deep");
                goto invalid;
            }
            top = &stack[depth++];
            top->kind = *p == '{' ? KIND_OBJECT : KIND_ARRAY;
            top->cand = top->kind == KIND_OBJECT ? next : 0;
            top->term = term;
            top->start = p;
            p = skip_ws(p + 1, end);
            if (p < end && *p == (top->kind == KIND_OBJECT ? '}' : ']')) {
                /* Empty: the value is complete. */
                p++;
                depth--;
                type = top->kind == KIND_OBJECT ? WH_JSCAN_OBJECT : WH_JSCAN_ARRAY;
                break;
            }
            p = scan_member(&s, p, end, segs, top, (unsigned)depth - 1, &term, &next);
            if (!p)
                goto invalid;
            continue;
        case '"':
            escaped = false;
            type = WH_JSCAN_STRING;
            p = scan_string(&s, p + 1, end, &escaped);
            break;
        case 't':
            type = WH_JSCAN_TRUE;
            p = scan_literal(&s, p, end, "true", 4);
            break;
        case 'f':
            type = WH_JSCAN_FALSE;
            p = scan_literal(&s, p, end, "false", 5);
            break;
        case 'n':
            type = WH_JSCAN_NULL;
            p = scan_literal(&s, p, end, "null", 4);
            break;
        case '-':
        case '0':
        case '1':
        case '2':
        case '3':
        case '4':
        case '5':
        case '6':
        case '7':
        case '8':
        case '9':
            type = WH_JSCAN_NUMBER;
            p = scan_number(&s, p, end);
            break;
        default:
            fail(&s, p, "unexpected character");
            goto invalid;
        }
        if (!p)
            goto invalid;
        if (term)
            record(fields, term, type, start, p);

        /* After a value: close containers until a comma leads to the next value. */
        for (;;) {
            if (depth == 0) {
                p = skip_ws(p, end);
                if (p != end) {
                    fail(&s, p, "unexpected data after the top-level object");
                    goto invalid;
                }
                return 0;
            }
            top = &stack[depth - 1];
            p = skip_ws(p, end);
            if (p == end) {
                fail(&s, p, "unexpected end of input");
                goto invalid;
            }
            if (*p == ',') {
                p = scan_member(&s, skip_ws(p + 1, end), end, segs, top, (unsigned)depth - 1, &term,
                                &next);
                if (!p)
                    goto invalid;
                break;
            }
            if (*p != (top->kind == KIND_OBJECT ? '}' : ']')) {
                fail(&s, p,
                     top->kind == KIND_OBJECT ? "expected ',' or '}'" : "expected ',' or ']'");
                goto invalid;
            }
            p++;
            depth--;
            record(fields, top->term, top->kind == KIND_OBJECT ? WH_JSCAN_OBJECT : WH_JSCAN_ARRAY,
                   top->start, p);
        }
    }

invalid:
    return core_error_set(err, CORE_EINVAL, "invalid JSON at byte %zu: %s", (size_t)(s.at - base),
                          s.why);
}

static size_t utf8_encode(unsigned long cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* The escape at p (a backslash, p < end) as UTF-8 in out; returns its length and advances
 * *pp past it, or returns 0 for a malformed one. */
static size_t decode_escape(const unsigned char **pp, const unsigned char *end, char out[4])
{
    const unsigned char *p = *pp;
    long cp, lo;

    if (end - p < 2)
        return 0;
    *pp = p + 2;
    switch (p[1]) {
    case '"':
    case '\\':
    case '/':
        out[0] = (char)p[1];
        return 1;
    case 'b':
        out[0] = '\b';
        return 1;
    case 'f':
        out[0] = '\f';
        return 1;
    case 'n':
        out[0] = '\n';
        return 1;
    case 'r':
        out[0] = '\r';
        return 1;
    case 't':
        out[0] = '\t';
        return 1;
    case 'u':
        break;
    default:
        return 0;
    }
    cp = hex4(p + 2, end);
    if (cp < 0)
        return 0;
    *pp = p + 6;
    if (cp >= 0xD800 && cp <= 0xDBFF && end - p >= 12 && p[6] == '\\' && p[7] == 'u') {
        lo = hex4(p + 8, end);
        if (lo >= 0xDC00 && lo <= 0xDFFF) {
            *pp = p + 12;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
    }
    if (cp >= 0xD800 && cp <= 0xDFFF)
        cp = 0xFFFD; /* unpaired: only in tokens the scanner refused */
    return utf8_encode((unsigned long)cp, out);
}

size_t wh_jscan_string_decode(const char *raw, size_t raw_len, char *out, size_t cap,
                              bool *truncated)
{
    const unsigned char *p = (const unsigned char *)raw;
    const unsigned char *end = p + raw_len;
    size_t n = 0, room;
    bool cut = false;

    CORE_ASSERT(out != NULL && cap >= 1);
    CORE_ASSERT(raw != NULL || raw_len == 0);
    room = cap - 1;
    if (raw_len >= 2 && p[0] == '"' && end[-1] == '"') {
        p++;
        end--;
    }
    while (p < end) {
        const unsigned char *bs = memchr(p, '\\', (size_t)(end - p));
        size_t run = (size_t)((bs ? bs : end) - p);
        char esc[4];
        size_t elen;

        if (run > room - n) {
            size_t keep = room - n;

            /* p[keep] is the first byte left out: back off to the start of its character. */
            while (keep > 0 && (p[keep] & 0xC0) == 0x80)
                keep--;
            memcpy(out + n, p, keep);
            n += keep;
            cut = true;
            break;
        }
        memcpy(out + n, p, run);
        n += run;
        p += run;
        if (p == end)
            break;
        elen = decode_escape(&p, end, esc);
        if (elen == 0)
            break;
        if (elen > room - n) {
            cut = true;
            break;
        }
        memcpy(out + n, esc, elen);
        n += elen;
    }
    out[n] = '\0';
    if (truncated)
        *truncated = cut;
    return n;
}
