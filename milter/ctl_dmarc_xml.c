/* ctl_dmarc_xml: the RFC 9990 aggregate report document (namespace
   urn:ietf:params:xml:ns:dmarc-2.0, elements in the order of the RFC's
   XML schema, appendix A), its gzip compression and the report file.
   Every text is escaped; control characters (none are expected: the
   verdict record's report strings are printable ASCII) become '?'.
   Single-threaded. */
#include "milter/ctl_dmarc.h"
#include "lib/core/xalloc.h"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

struct xml {
    struct fl_buf *out;
    int depth;
};

static void indent(struct xml *x)
{
    for (int i = 0; i < x->depth; i++)
        fl_buf_puts(x->out, "  ");
}

static void escaped(struct fl_buf *out, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        switch (c) {
        case '&':
            fl_buf_puts(out, "&amp;");
            break;
        case '<':
            fl_buf_puts(out, "&lt;");
            break;
        case '>':
            fl_buf_puts(out, "&gt;");
            break;
        case '"':
            fl_buf_puts(out, "&quot;");
            break;
        default:
            fl_buf_putc(out, c < 0x20 || c >= 0x7f ? '?' : (char)c);
        }
    }
}

static void open_el(struct xml *x, const char *name)
{
    indent(x);
    fl_buf_printf(x->out, "<%s>\n", name);
    x->depth++;
}

static void close_el(struct xml *x, const char *name)
{
    x->depth--;
    indent(x);
    fl_buf_printf(x->out, "</%s>\n", name);
}

/* <name>text</name>; nothing when text is NULL. */
static void text_el(struct xml *x, const char *name, const char *text)
{
    if (text == NULL)
        return;
    indent(x);
    fl_buf_printf(x->out, "<%s>", name);
    escaped(x->out, text);
    fl_buf_printf(x->out, "</%s>\n", name);
}

static void num_el(struct xml *x, const char *name, long long v)
{
    indent(x);
    fl_buf_printf(x->out, "<%s>%lld</%s>\n", name, v, name);
}

static const char *policy_or(const char *v, const char *def)
{
    if (v != NULL && (strcmp(v, "none") == 0 || strcmp(v, "quarantine") == 0 ||
                      strcmp(v, "reject") == 0))
        return v;
    return def;
}

static const char *one_of(const char *v, const char *a, const char *b)
{
    return v != NULL && (strcmp(v, a) == 0 || strcmp(v, b) == 0) ? v : NULL;
}

static void published(struct xml *x, const struct fl_dr_domain *d)
{
    open_el(x, "policy_published");
    text_el(x, "domain", d->domain);
    /* RFC 9989: a record without a valid p (but with rua) is p=none;
       unspecified tags have their defaults: sp from p, np from sp. */
    const char *p = policy_or(d->p, "none");
    const char *sp = policy_or(d->sp, p);
    text_el(x, "discovery_method", "treewalk");
    text_el(x, "p", p);
    text_el(x, "sp", sp);
    text_el(x, "np", policy_or(d->np, sp));
    text_el(x, "fo", d->fo);
    text_el(x, "adkim", one_of(d->adkim, "r", "s"));
    text_el(x, "aspf", one_of(d->aspf, "r", "s"));
    text_el(x, "testing", one_of(d->testing, "n", "y"));
    close_el(x, "policy_published");
}

static bool schema_reason(const char *t)
{
    static const char *const types[] = {"local_policy", "mailing_list", "other",
                                        "policy_test_mode", "trusted_forwarder", NULL};
    for (size_t i = 0; types[i]; i++)
        if (strcmp(t, types[i]) == 0)
            return true;
    return false;
}

static void record(struct xml *x, const struct fl_dr_row *r)
{
    open_el(x, "record");
    open_el(x, "row");
    text_el(x, "source_ip", r->ip);
    num_el(x, "count", (long long)r->count);
    open_el(x, "policy_evaluated");
    text_el(x, "disposition", r->disposition);
    text_el(x, "dkim", r->dkim_pass ? "pass" : "fail");
    text_el(x, "spf", r->spf_pass ? "pass" : "fail");
    for (size_t i = 0; i < r->nreasons; i++) {
        open_el(x, "reason");
        const char *t = r->reasons[i].type, *c = r->reasons[i].comment;
        if (schema_reason(t)) {
            text_el(x, "type", t);
            text_el(x, "comment", c);
        } else {
            /* A type the schema does not list: "other", the name kept. */
            struct fl_buf cm;
            fl_buf_init(&cm);
            fl_buf_printf(&cm, "%s%s%s", t, c ? ": " : "", c ? c : "");
            text_el(x, "type", "other");
            text_el(x, "comment", cm.data);
            fl_buf_free(&cm);
        }
        close_el(x, "reason");
    }
    close_el(x, "policy_evaluated");
    close_el(x, "row");
    open_el(x, "identifiers");
    text_el(x, "header_from", r->header_from);
    text_el(x, "envelope_from", r->envelope_from);
    close_el(x, "identifiers");
    open_el(x, "auth_results");
    for (size_t i = 0; i < r->ndkim; i++) {
        open_el(x, "dkim");
        text_el(x, "domain", r->dkim[i].domain);
        text_el(x, "selector", r->dkim[i].selector);
        text_el(x, "result", r->dkim[i].result);
        close_el(x, "dkim");
    }
    if (r->has_spf) {
        open_el(x, "spf");
        text_el(x, "domain", r->spf.domain);
        /* RFC 9990 2.1.4: "mfrom" is the only scope; a HELO check (null
           reverse-path) is reported without one. */
        if (r->spf.selector != NULL && strcmp(r->spf.selector, "mfrom") == 0)
            text_el(x, "scope", "mfrom");
        text_el(x, "result", r->spf.result);
        close_el(x, "spf");
    }
    close_el(x, "auth_results");
    close_el(x, "record");
}

void fl_dr_xml(const struct fl_dr_settings *s, const struct fl_dr_domain *d,
               struct fl_dr_row *const *rows, const char *report_id, struct fl_buf *out)
{
    struct xml x = {out, 0};
    fl_buf_puts(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                     "<feedback xmlns=\"urn:ietf:params:xml:ns:dmarc-2.0\">\n");
    x.depth = 1;
    text_el(&x, "version", "1.0");
    open_el(&x, "report_metadata");
    text_el(&x, "org_name", s->org_name);
    text_el(&x, "email", s->email);
    if (s->extra_contact != NULL && *s->extra_contact)
        text_el(&x, "extra_contact_info", s->extra_contact);
    text_el(&x, "report_id", report_id);
    open_el(&x, "date_range");
    num_el(&x, "begin", s->begin);
    num_el(&x, "end", s->end);
    close_el(&x, "date_range");
    if (d->errors != NULL)
        text_el(&x, "error", d->errors);
    text_el(&x, "generator", "faultline " PACKAGE_VERSION);
    close_el(&x, "report_metadata");
    published(&x, d);
    for (size_t i = 0; i < d->nrows; i++)
        record(&x, rows[i]);
    fl_buf_puts(out, "</feedback>\n");
}

int fl_dr_gzip(const char *data, size_t len, unsigned char **out_r, size_t *out_len_r,
               const char **error_r)
{
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    /* windowBits 15 + 16: a gzip wrapper with a zero time and no name. */
    if (deflateInit2(&zs, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        *error_r = "deflateInit2 failed";
        return -1;
    }
    size_t cap = deflateBound(&zs, (uLong)len) + 32;
    unsigned char *out = fl_malloc(cap);
    zs.next_in = (Bytef *)(uintptr_t)data;
    zs.avail_in = (uInt)len;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    int zr = deflate(&zs, Z_FINISH);
    size_t n = cap - zs.avail_out;
    deflateEnd(&zs);
    if (zr != Z_STREAM_END) {
        free(out);
        *error_r = "deflate did not finish";
        return -1;
    }
    *out_r = out;
    *out_len_r = n;
    return 0;
}

/* No fsync: a report lost in a crash is written again by a rerun from the
   logs, and 10,000 fsyncs would cost more than building the reports. */
int fl_dr_write_file(const char *dir, const char *name, const void *data, size_t len)
{
    struct fl_buf tmp, final;
    fl_buf_init(&tmp);
    fl_buf_init(&final);
    fl_buf_printf(&tmp, "%s/.%s.tmp", dir, name);
    fl_buf_printf(&final, "%s/%s", dir, name);
    int rc = -1, fd = open(tmp.data, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd >= 0) {
        const char *p = data;
        size_t left = len;
        while (left > 0) {
            ssize_t w = write(fd, p, left);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                break;
            p += w;
            left -= (size_t)w;
        }
        int saved = errno;
        if (left == 0 && close(fd) == 0) {
            fd = -1;
            rc = rename(tmp.data, final.data);
        }
        if (fd >= 0)
            close(fd);
        if (rc < 0) {
            saved = errno ? errno : saved;
            unlink(tmp.data);
            errno = saved;
        }
    }
    fl_buf_free(&tmp);
    fl_buf_free(&final);
    return rc;
}
