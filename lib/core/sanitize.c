/* sanitize: see sanitize.h. */
#include "lib/core/sanitize.h"

#include <string.h>

void fl_sanitize_ascii(struct fl_buf *out, const char *s, size_t max)
{
    fl_sanitize_ascii_n(out, s, strlen(s), max);
}

void fl_sanitize_ascii_n(struct fl_buf *out, const char *s, size_t len, size_t max)
{
    bool cut = max > 0 && len > max;
    if (cut)
        len = max;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        fl_buf_putc(out, (c < 0x20 || c >= 0x7f) ? '?' : (char)c);
    }
    if (cut)
        fl_buf_puts(out, "...");
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0 if invalid. */
static size_t utf8_seq_len(const unsigned char *p, size_t avail)
{
    unsigned char c = p[0];
    size_t len;
    unsigned int cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (avail < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

void fl_sanitize_utf8(struct fl_buf *out, const char *s, size_t max)
{
    static const char replacement[] = "\xef\xbf\xbd";
    size_t n = strlen(s);
    bool cut = max > 0 && n > max;
    if (cut) {
        n = max;
        /* Cut at a character boundary: back off over at most 3
           continuation bytes, so a valid character is never split. */
        for (int k = 0; k < 3 && n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80; k++)
            n--;
    }
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        /* a run of printable ASCII (and tabs) goes out at once */
        size_t run = i;
        while (run < n && ((p[run] >= 0x20 && p[run] < 0x7f) || p[run] == '\t'))
            run++;
        if (run > i) {
            fl_buf_append(out, p + i, run - i);
            i = run;
            continue;
        }
        if ((p[i] < 0x20 && p[i] != '\t') || p[i] == 0x7f) {
            fl_buf_append(out, replacement, 3);
            i++;
            continue;
        }
        size_t len = utf8_seq_len(p + i, n - i);
        if (len == 0) {
            fl_buf_append(out, replacement, 3);
            i++;
            continue;
        }
        fl_buf_append(out, p + i, len);
        i += len;
    }
    if (cut)
        fl_buf_puts(out, "...");
}

bool fl_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        size_t len = utf8_seq_len(p + i, n - i);
        if (len == 0)
            return false;
        i += len;
    }
    return true;
}

bool fl_is_printable_ascii(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
            return false;
    return true;
}
