/* json_out: see json_out.h. */
#include "lib/core/json_out.h"
#include "lib/core/sanitize.h"

#include <stdio.h>
#include <string.h>

void fl_json_escaped(struct fl_buf *out, const char *s, size_t n)
{
    fl_buf_putc(out, '"');
    size_t run = 0; /* bytes copied as they are, pending */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char hex[8];
        switch (c) {
        case '"':
            esc = "\\\"";
            break;
        case '\\':
            esc = "\\\\";
            break;
        case '\b':
            esc = "\\b";
            break;
        case '\f':
            esc = "\\f";
            break;
        case '\n':
            esc = "\\n";
            break;
        case '\r':
            esc = "\\r";
            break;
        case '\t':
            esc = "\\t";
            break;
        default:
            if (c < 0x20) {
                snprintf(hex, sizeof(hex), "\\u%04X", c);
                esc = hex;
            }
        }
        if (esc == NULL) {
            run++;
            continue;
        }
        fl_buf_append(out, s + i - run, run);
        run = 0;
        fl_buf_puts(out, esc);
    }
    fl_buf_append(out, s + n - run, run);
    fl_buf_putc(out, '"');
}

void fl_json_out_init(struct fl_json_out *j, struct fl_buf *buf)
{
    j->buf = buf;
    j->comma = false;
}

/* Before a value: the comma after the one before it (in an array). */
static void value(struct fl_json_out *j)
{
    if (j->comma)
        fl_buf_putc(j->buf, ',');
    j->comma = true;
}

void fl_json_begin(struct fl_json_out *j, char open)
{
    value(j);
    fl_buf_putc(j->buf, open);
    j->comma = false;
}

void fl_json_end(struct fl_json_out *j, char close)
{
    fl_buf_putc(j->buf, close);
    j->comma = true;
}

void fl_json_key(struct fl_json_out *j, const char *key)
{
    if (j->comma)
        fl_buf_putc(j->buf, ',');
    fl_json_escaped(j->buf, key, strlen(key));
    fl_buf_putc(j->buf, ':');
    j->comma = false;
}

void fl_json_str(struct fl_json_out *j, const char *s)
{
    value(j);
    if (s == NULL) {
        fl_buf_puts(j->buf, "null");
        return;
    }
    size_t n = 0;
    bool ascii = true;
    for (; s[n]; n++)
        ascii &= (unsigned char)s[n] < 0x80;
    if (ascii || fl_utf8_valid(s, n)) {
        fl_json_escaped(j->buf, s, n);
        return;
    }
    /* text that is not UTF-8 is made so first (U+FFFD for what is not) */
    struct fl_buf clean;
    fl_buf_init(&clean);
    fl_sanitize_utf8(&clean, s, 0);
    fl_json_escaped(j->buf, clean.data ? clean.data : "", clean.len);
    fl_buf_free(&clean);
}

void fl_json_int(struct fl_json_out *j, long long v)
{
    value(j);
    fl_buf_printf(j->buf, "%lld", v);
}

void fl_json_bool(struct fl_json_out *j, bool v)
{
    value(j);
    fl_buf_puts(j->buf, v ? "true" : "false");
}

void fl_json_null(struct fl_json_out *j)
{
    value(j);
    fl_buf_puts(j->buf, "null");
}
