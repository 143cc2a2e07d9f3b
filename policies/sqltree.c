/* A read-only tree of libpg_query's JSON output, built in one arena. The rules in sqlrisk.c
 * only look fields up and walk lists; a general JSON library builds a hash table and makes an
 * allocation for every object, which cost more than parsing the SQL on large migrations.
 * The input is libpg_query's own output, so the reader is strict and small: anything it does
 * not expect makes the whole tree fail, as a JSON library's error would. */
#include <stdlib.h>
#include <string.h>

#include "policies/inspect.h"

/* Deeper trees are refused, as jansson refuses them (its JSON_PARSER_MAX_DEPTH). */
#define TREE_MAX_DEPTH 2048
#define BLOCK_MIN 8192

typedef struct block {
    struct block *next;
    size_t used, size;
    _Alignas(max_align_t) unsigned char data[];
} block;

struct sql_tree {
    block *blocks;
    sql_node *root;
    /* Children of the containers being read, until their container closes. */
    sql_node *stack;
    size_t n_stack, cap_stack;
    const char *p, *end;
    int depth;
    bool failed;
};

static void *arena_alloc(sql_tree *t, size_t n)
{
    block *b = t->blocks;

    n = (n + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
    if (!b || b->size - b->used < n) {
        size_t size = n > BLOCK_MIN ? n : BLOCK_MIN;

        b = malloc(sizeof(*b) + size);
        if (!b)
            return NULL;
        b->next = t->blocks;
        b->used = 0;
        b->size = size;
        t->blocks = b;
    }
    b->used += n;
    return b->data + b->used - n;
}

static void skip_ws(sql_tree *t)
{
    while (t->p < t->end && (*t->p == ' ' || *t->p == '\n' || *t->p == '\t' || *t->p == '\r'))
        t->p++;
}

static int hex4(const char *s)
{
    int v = 0;

    for (int i = 0; i < 4; i++) {
        char c = s[i];

        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= c - '0';
        else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
            v |= (c | 0x20) - 'a' + 10;
        else
            return -1;
    }
    return v;
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* A string at t->p (on its opening quote), unescaped into the arena. An escape never
 * decodes to more bytes than it takes, so the raw length bounds the copy. */
static const char *read_string(sql_tree *t)
{
    const char *s = ++t->p, *q = s;
    char *out, *o;
    bool escaped = false;

    while (q < t->end && *q != '"') {
        if (*q == '\\') {
            escaped = true;
            q++;
        }
        q++;
    }
    if (q >= t->end || !(out = arena_alloc(t, (size_t)(q - s) + 1)))
        return NULL;
    if (!escaped) { /* most strings: names and keywords */
        memcpy(out, s, (size_t)(q - s));
        out[q - s] = '\0';
        t->p = q + 1;
        return out;
    }
    for (o = out; s < q; s++) {
        if (*s != '\\') {
            *o++ = *s;
            continue;
        }
        switch (*++s) {
        case 'n':
            *o++ = '\n';
            break;
        case 't':
            *o++ = '\t';
            break;
        case 'r':
            *o++ = '\r';
            break;
        case 'b':
            *o++ = '\b';
            break;
        case 'f':
            *o++ = '\f';
            break;
        case 'u': {
            int hi = q - s > 4 ? hex4(s + 1) : -1;
            unsigned cp;

            if (hi <= 0) /* a NUL inside a string is refused, as jansson does by default */
                return NULL;
            cp = (unsigned)hi;
            s += 4;
            if (hi >= 0xd800 && hi <= 0xdbff && q - s > 6 && s[1] == '\\' && s[2] == 'u') {
                int lo = hex4(s + 3);

                if (lo >= 0xdc00 && lo <= 0xdfff) {
                    cp = 0x10000 + (((unsigned)hi - 0xd800) << 10) + ((unsigned)lo - 0xdc00);
                    s += 6;
                }
            }
            o += put_utf8(o, cp);
            break;
        }
        default:
            *o++ = *s;
            break; /* \" \\ \/ */
        }
    }
    *o = '\0';
    t->p = q + 1;
    return out;
}

static bool read_value(sql_tree *t, sql_node *n);

static bool stack_push(sql_tree *t, const sql_node *n)
{
    void *s = t->stack;
    int rc = core_array_room(&s, &t->cap_stack, t->n_stack, sizeof(*t->stack), 256);

    t->stack = s;
    if (rc < 0)
        return false;
    t->stack[t->n_stack++] = *n;
    return true;
}

/* An array or object at t->p: its children are read onto the stack, then moved into the
 * arena in one piece. */
static bool read_container(sql_tree *t, sql_node *n, bool object)
{
    char close = object ? '}' : ']';
    size_t base = t->n_stack;

    if (++t->depth > TREE_MAX_DEPTH)
        return false;
    t->p++;
    skip_ws(t);
    while (t->p < t->end && *t->p != close) {
        sql_node child = {0};

        if (object) {
            if (*t->p != '"' || !(child.key = read_string(t)))
                return false;
            skip_ws(t);
            if (t->p >= t->end || *t->p++ != ':')
                return false;
            skip_ws(t);
        }
        if (!read_value(t, &child) || !stack_push(t, &child))
            return false;
        skip_ws(t);
        if (t->p < t->end && *t->p == ',') {
            t->p++;
            skip_ws(t);
        } else if (t->p < t->end && *t->p != close) {
            return false;
        }
    }
    if (t->p >= t->end)
        return false;
    t->p++;
    t->depth--;
    n->kind = object ? SQL_NODE_OBJECT : SQL_NODE_ARRAY;
    n->n = t->n_stack - base;
    if (n->n) {
        n->items = arena_alloc(t, n->n * sizeof(sql_node));
        if (!n->items)
            return false;
        memcpy(n->items, t->stack + base, n->n * sizeof(sql_node));
    }
    t->n_stack = base;
    return true;
}

static bool read_number(sql_tree *t, sql_node *n)
{
    char *endp;
    long long v = strtoll(t->p, &endp, 10);

    if (endp == t->p)
        return false;
    if (endp < t->end && (*endp == '.' || *endp == 'e' || *endp == 'E')) {
        (void)strtod(t->p, &endp); /* a real: no rule reads one as a number */
        n->kind = SQL_NODE_REAL;
    } else {
        n->kind = SQL_NODE_INT;
        n->i = v;
    }
    t->p = endp;
    return true;
}

static bool read_word(sql_tree *t, const char *w, size_t len)
{
    if ((size_t)(t->end - t->p) < len || memcmp(t->p, w, len) != 0)
        return false;
    t->p += len;
    return true;
}

static bool read_value(sql_tree *t, sql_node *n)
{
    if (t->p >= t->end)
        return false;
    switch (*t->p) {
    case '{':
        return read_container(t, n, true);
    case '[':
        return read_container(t, n, false);
    case '"':
        n->kind = SQL_NODE_STRING;
        return (n->s = read_string(t)) != NULL;
    case 't':
        n->kind = SQL_NODE_TRUE;
        return read_word(t, "true", 4);
    case 'f':
        n->kind = SQL_NODE_FALSE;
        return read_word(t, "false", 5);
    case 'n':
        n->kind = SQL_NODE_NULL;
        return read_word(t, "null", 4);
    default:
        return read_number(t, n);
    }
}

int sql_tree_parse(const char *json, sql_tree **out)
{
    sql_tree *t = calloc(1, sizeof(*t));
    sql_node *root;

    *out = NULL;
    if (!t)
        return CORE_ENOMEM;
    t->p = json;
    t->end = json + strlen(json);
    root = arena_alloc(t, sizeof(*root));
    skip_ws(t);
    if (!root || !read_value(t, memset(root, 0, sizeof(*root)))) {
        sql_tree_free(t);
        return CORE_EINVAL;
    }
    skip_ws(t);
    if (t->p != t->end) {
        sql_tree_free(t);
        return CORE_EINVAL;
    }
    free(t->stack);
    t->stack = NULL;
    t->root = root;
    *out = t;
    return 0;
}

const sql_node *sql_tree_root(const sql_tree *t)
{
    return t ? t->root : NULL;
}

void sql_tree_free(sql_tree *t)
{
    if (!t)
        return;
    while (t->blocks) {
        block *b = t->blocks;

        t->blocks = b->next;
        free(b);
    }
    free(t->stack);
    free(t);
}

const sql_node *sql_node_get(const sql_node *o, const char *key)
{
    if (!o || o->kind != SQL_NODE_OBJECT)
        return NULL;
    for (size_t i = 0; i < o->n; i++) {
        if (strcmp(o->items[i].key, key) == 0)
            return &o->items[i];
    }
    return NULL;
}

size_t sql_node_size(const sql_node *a)
{
    return a && a->kind == SQL_NODE_ARRAY ? a->n : 0;
}

const sql_node *sql_node_at(const sql_node *a, size_t i)
{
    return i < sql_node_size(a) ? &a->items[i] : NULL;
}
