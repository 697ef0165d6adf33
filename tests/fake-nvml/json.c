#include "json.h"
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct { const char *s; int pos; char *err; int errlen; } parser;

static jnode *parse_value(parser *p);

static void skip_ws(parser *p) { while (p->s[p->pos] && isspace((unsigned char)p->s[p->pos])) p->pos++; }

static jnode *fail(parser *p, const char *what)
{
    if (p->err[0] == 0) snprintf(p->err, p->errlen, "%s at byte %d", what, p->pos);
    return NULL;
}

static jnode *node(jtype t) { jnode *n = calloc(1, sizeof *n); n->type = t; return n; }

static void add(jnode *parent, jnode *child)
{
    parent->items = realloc(parent->items, sizeof(jnode *) * (parent->count + 1));
    parent->items[parent->count++] = child;
}

static char *parse_string_raw(parser *p)
{
    if (p->s[p->pos] != '"') return NULL;
    p->pos++;
    size_t cap = 16, len = 0;
    char *out = malloc(cap);
    while (p->s[p->pos] && p->s[p->pos] != '"') {
        char c = p->s[p->pos++];
        if (c == '\\') {
            char e = p->s[p->pos++];
            if (e == 'u') {
                /* \uXXXX: state files are ASCII; anything wider becomes '?' */
                char hex[5] = {0};
                for (int i = 0; i < 4 && p->s[p->pos]; i++) hex[i] = p->s[p->pos++];
                long code = strtol(hex, NULL, 16);
                c = code < 0x80 ? (char)code : '?';
            } else {
                c = e == 'n' ? '\n' : e == 't' ? '\t' : e;
            }
        }
        if (len + 2 > cap) out = realloc(out, cap *= 2);
        out[len++] = c;
    }
    if (p->s[p->pos] != '"') { free(out); return NULL; }
    p->pos++;
    out[len] = 0;
    return out;
}

static jnode *parse_value(parser *p)
{
    skip_ws(p);
    char c = p->s[p->pos];
    if (c == '{' || c == '[') {
        int obj = c == '{';
        jnode *n = node(obj ? J_OBJ : J_ARR);
        p->pos++;
        skip_ws(p);
        if (p->s[p->pos] == (obj ? '}' : ']')) { p->pos++; return n; }
        for (;;) {
            char *key = NULL;
            if (obj) {
                skip_ws(p);
                key = parse_string_raw(p);
                if (!key) return fail(p, "expected a member name");
                skip_ws(p);
                if (p->s[p->pos++] != ':') return fail(p, "expected ':'");
            }
            jnode *child = parse_value(p);
            if (!child) return NULL;
            child->key = key;
            add(n, child);
            skip_ws(p);
            char d = p->s[p->pos++];
            if (d == ',') continue;
            if (d == (obj ? '}' : ']')) return n;
            return fail(p, obj ? "expected ',' or '}'" : "expected ',' or ']'");
        }
    }
    if (c == '"') {
        jnode *n = node(J_STR);
        n->str = parse_string_raw(p);
        return n->str ? n : fail(p, "unterminated string");
    }
    if (strncmp(p->s + p->pos, "true", 4) == 0) { p->pos += 4; jnode *n = node(J_BOOL); n->num = 1; return n; }
    if (strncmp(p->s + p->pos, "false", 5) == 0) { p->pos += 5; return node(J_BOOL); }
    if (strncmp(p->s + p->pos, "null", 4) == 0) { p->pos += 4; return node(J_NULL); }
    if (c == '-' || isdigit((unsigned char)c)) {
        char *end;
        jnode *n = node(J_NUM);
        n->num = strtod(p->s + p->pos, &end);
        p->pos = (int)(end - p->s);
        return n;
    }
    return fail(p, "unexpected character");
}

jnode *json_parse(const char *text, char *err, int errlen)
{
    parser p = { text, 0, err, errlen };
    err[0] = 0;
    jnode *n = parse_value(&p);
    if (!n) return NULL;
    skip_ws(&p);
    if (p.s[p.pos]) return fail(&p, "trailing text");
    return n;
}

jnode *json_get(const jnode *obj, const char *key)
{
    if (!obj || obj->type != J_OBJ) return NULL;
    for (int i = 0; i < obj->count; i++)
        if (strcmp(obj->items[i]->key, key) == 0) return obj->items[i];
    return NULL;
}

const char *json_str(const jnode *obj, const char *key, const char *fallback)
{
    jnode *n = json_get(obj, key);
    return n && n->type == J_STR ? n->str : fallback;
}

double json_num(const jnode *obj, const char *key, double fallback)
{
    jnode *n = json_get(obj, key);
    return n && (n->type == J_NUM || n->type == J_BOOL) ? n->num : fallback;
}

int json_bool(const jnode *obj, const char *key, int fallback)
{
    jnode *n = json_get(obj, key);
    return n && (n->type == J_BOOL || n->type == J_NUM) ? n->num != 0 : fallback;
}
