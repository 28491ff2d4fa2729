/* dmarc_record: parsing one DMARC Policy Record (RFC 9989 4.7 tags, 4.8
   formal definition).  "v=DMARC1" must be the first tag and match exactly;
   tag names and keyword values are case-insensitive (RFC 5234 strings);
   whitespace around "=" and ";" is allowed; unknown tags are ignored; an
   invalid value is discarded in favour of the default (4.7: "Syntax errors
   in the remainder of the record MUST be discarded in favor of default
   values") and named in problems.  The record text comes from the DNS and
   is hostile: every byte is checked, nothing is copied unchecked.
   Thread-safety: pure functions. */
#include "lib/dmarc/dmarc.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define IS_WSP(c) ((c) == ' ' || (c) == '\t')

struct cursor {
    const char *p, *end;
};

static void skip_wsp(struct cursor *c)
{
    while (c->p < c->end && IS_WSP(*c->p))
        c->p++;
}

/* Appends "what tag=value" (value NULL: "what tag"; tag "": "what \"value\"")
   to rec->problems, keeping only printable ASCII of the record text. */
static void problem(struct fl_dmarc_record *rec, const char *what, const char *tag,
                    const char *val, size_t vlen)
{
    size_t used = strlen(rec->problems);
    if (used + 4 >= sizeof(rec->problems))
        return;
    char clean[48];
    size_t n = 0;
    for (size_t i = 0; val != NULL && i < vlen && n + 1 < sizeof(clean); i++)
        clean[n++] = (val[i] >= 0x20 && val[i] < 0x7f) ? val[i] : '?';
    clean[n] = '\0';
    char tail[128];
    if (val == NULL)
        snprintf(tail, sizeof(tail), "%s %s", what, tag);
    else if (*tag == '\0')
        snprintf(tail, sizeof(tail), "%s \"%s\"", what, clean);
    else
        snprintf(tail, sizeof(tail), "%s %s=%s", what, tag, clean);
    snprintf(rec->problems + used, sizeof(rec->problems) - used, "%s%s", used ? "; " : "",
             tail);
}

static bool value_is(const char *v, size_t n, const char *word)
{
    return strlen(word) == n && strncasecmp(v, word, n) == 0;
}

static enum fl_dmarc_policy parse_policy(const char *v, size_t n)
{
    if (value_is(v, n, "none"))
        return FL_DMARC_POLICY_NONE;
    if (value_is(v, n, "quarantine"))
        return FL_DMARC_POLICY_QUARANTINE;
    if (value_is(v, n, "reject"))
        return FL_DMARC_POLICY_REJECT;
    return FL_DMARC_POLICY_ABSENT;
}

/* RFC 3986 scheme ":" and something: enough to tell a URI from junk. */
static bool uri_valid(const char *s, size_t n)
{
    size_t i = 0;
    if (n == 0 || !isalpha((unsigned char)s[0]))
        return false;
    while (i < n && (isalnum((unsigned char)s[i]) || s[i] == '+' || s[i] == '-' ||
                     s[i] == '.'))
        i++;
    if (i >= n || s[i] != ':' || i + 1 >= n)
        return false;
    for (i++; i < n; i++)
        if (s[i] <= ' ' || s[i] >= 0x7f || s[i] == '!')
            return false;
    return true;
}

static bool urilist_valid(const char *v, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && v[j] != ',')
            j++;
        size_t a = i, b = j;
        while (a < b && IS_WSP(v[a]))
            a++;
        while (b > a && IS_WSP(v[b - 1]))
            b--;
        if (uri_valid(v + a, b - a))
            return true;
        i = j + 1;
    }
    return false;
}

static bool fo_valid(const char *v, size_t n)
{
    /* dmarc-fo, and RFC 7489's colon-separated combinations of 0, 1, d, s. */
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        bool opt = (i % 2) == 0;
        if (opt && !strchr("01dsDS", v[i]))
            return false;
        if (!opt && v[i] != ':')
            return false;
        if (v[i] == '\0')
            return false;
    }
    return n % 2 == 1;
}

static void copy_text(char *dst, size_t size, const char *v, size_t n)
{
    size_t k = n < size - 1 ? n : size - 1;
    memcpy(dst, v, k);
    dst[k] = '\0';
}

enum tag_bit {
    TAG_P = 1 << 0, TAG_SP = 1 << 1, TAG_NP = 1 << 2, TAG_ADKIM = 1 << 3,
    TAG_ASPF = 1 << 4, TAG_T = 1 << 5, TAG_PSD = 1 << 6, TAG_FO = 1 << 7,
    TAG_RUA = 1 << 8, TAG_RUF = 1 << 9, TAG_PCT = 1 << 10, TAG_V = 1 << 11,
};

static const struct {
    const char *name;
    unsigned int bit;
} tags[] = {
    {"p", TAG_P},     {"sp", TAG_SP},   {"np", TAG_NP},   {"adkim", TAG_ADKIM},
    {"aspf", TAG_ASPF}, {"t", TAG_T},   {"psd", TAG_PSD}, {"fo", TAG_FO},
    {"rua", TAG_RUA}, {"ruf", TAG_RUF}, {"pct", TAG_PCT}, {"v", TAG_V},
};

static void set_policy(struct fl_dmarc_record *rec, const char *tag, enum fl_dmarc_policy *dst,
                       bool *invalid, const char *v, size_t n)
{
    *dst = parse_policy(v, n);
    if (*dst == FL_DMARC_POLICY_ABSENT) {
        *invalid = true;
        problem(rec, "bad value", tag, v, n);
    }
}

static void set_flag(struct fl_dmarc_record *rec, const char *tag, bool *dst, const char *yes,
                     const char *no, const char *v, size_t n)
{
    if (value_is(v, n, yes))
        *dst = true;
    else if (value_is(v, n, no))
        *dst = false;
    else
        problem(rec, "bad value", tag, v, n);
}

static void apply_tag(struct fl_dmarc_record *rec, unsigned int bit, const char *name,
                      const char *v, size_t n)
{
    switch (bit) {
    case TAG_P:
        set_policy(rec, name, &rec->p, &rec->p_invalid, v, n);
        break;
    case TAG_SP:
        set_policy(rec, name, &rec->sp, &rec->sp_invalid, v, n);
        break;
    case TAG_NP:
        set_policy(rec, name, &rec->np, &rec->np_invalid, v, n);
        break;
    case TAG_ADKIM:
        set_flag(rec, name, &rec->adkim_strict, "s", "r", v, n);
        break;
    case TAG_ASPF:
        set_flag(rec, name, &rec->aspf_strict, "s", "r", v, n);
        break;
    case TAG_T:
        set_flag(rec, name, &rec->testing, "y", "n", v, n);
        break;
    case TAG_PSD:
        if (value_is(v, n, "y"))
            rec->psd = FL_DMARC_PSD_Y;
        else if (value_is(v, n, "n"))
            rec->psd = FL_DMARC_PSD_N;
        else if (value_is(v, n, "u"))
            rec->psd = FL_DMARC_PSD_U;
        else
            problem(rec, "bad value", name, v, n);
        break;
    case TAG_FO:
        if (fo_valid(v, n))
            copy_text(rec->fo, sizeof(rec->fo), v, n);
        else
            problem(rec, "bad value", name, v, n);
        break;
    case TAG_RUA:
        copy_text(rec->rua, sizeof(rec->rua), v, n);
        rec->rua_valid = urilist_valid(v, n);
        if (!rec->rua_valid)
            problem(rec, "no valid URI in", name, v, n);
        break;
    case TAG_RUF:
        copy_text(rec->ruf, sizeof(rec->ruf), v, n);
        if (!urilist_valid(v, n))
            problem(rec, "no valid URI in", name, v, n);
        break;
    case TAG_PCT: {
        /* RFC 9989 "Removal of the pct Tag": historic; recorded only. */
        int val = 0;
        bool ok = n > 0 && n <= 3;
        for (size_t i = 0; ok && i < n; i++) {
            ok = v[i] >= '0' && v[i] <= '9';
            val = val * 10 + (v[i] - '0');
        }
        if (ok && val <= 100)
            rec->pct = val;
        else
            problem(rec, "bad value", name, v, n);
        break;
    }
    default: /* a second v= */
        problem(rec, "misplaced tag", name, NULL, 0);
        break;
    }
}

/* Reads "name *WSP = *WSP value" up to ';' or the end.  Returns false
   on a syntax error (c moved past the next ';'). */
static bool next_tag(struct cursor *c, const char **name, size_t *nlen, const char **val,
                     size_t *vlen)
{
    skip_wsp(c);
    *name = c->p;
    while (c->p < c->end && isalpha((unsigned char)*c->p))
        c->p++;
    *nlen = (size_t)(c->p - *name);
    skip_wsp(c);
    bool ok = *nlen > 0 && c->p < c->end && *c->p == '=';
    if (ok)
        c->p++;
    skip_wsp(c);
    *val = c->p;
    while (c->p < c->end && *c->p != ';')
        c->p++;
    const char *vend = c->p;
    while (vend > *val && IS_WSP(vend[-1]))
        vend--;
    *vlen = (size_t)(vend - *val);
    if (c->p < c->end)
        c->p++; /* the ';' */
    return ok;
}

int fl_dmarc_record_parse(const char *txt, size_t len, struct fl_dmarc_record *rec)
{
    memset(rec, 0, sizeof(*rec));
    rec->p = rec->sp = rec->np = FL_DMARC_POLICY_ABSENT;
    rec->pct = -1;
    snprintf(rec->fo, sizeof(rec->fo), "0");
    if (txt == NULL)
        return 0;
    struct cursor c = {txt, txt + len};
    const char *name, *val;
    size_t nlen, vlen;
    /* RFC 9989 4.8: dmarc-version = "v" equals %s"DMARC1", first. */
    if (!next_tag(&c, &name, &nlen, &val, &vlen) || nlen != 1 || (*name != 'v' && *name != 'V'))
        return 0;
    if (vlen != 6 || memcmp(val, "DMARC1", 6) != 0)
        return 0;
    unsigned int seen = TAG_V;
    while (c.p < c.end) {
        skip_wsp(&c);
        if (c.p < c.end && *c.p == ';') { /* an empty tag: tolerated */
            c.p++;
            continue;
        }
        if (c.p >= c.end)
            break;
        if (!next_tag(&c, &name, &nlen, &val, &vlen)) {
            problem(rec, "syntax error near", "", name,
                    (size_t)(c.p - name) < 24 ? (size_t)(c.p - name) : 24);
            continue;
        }
        bool printable = vlen > 0;
        for (size_t i = 0; i < vlen; i++)
            if ((unsigned char)val[i] < 0x20 || (unsigned char)val[i] > 0x7e)
                printable = false;
        unsigned int bit = 0;
        char lname[8] = "";
        for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) {
            if (strlen(tags[i].name) == nlen && strncasecmp(tags[i].name, name, nlen) == 0) {
                bit = tags[i].bit;
                snprintf(lname, sizeof(lname), "%s", tags[i].name);
            }
        }
        if (bit == 0)
            continue; /* unknown (or historic rf, ri): ignored */
        if (seen & bit) {
            problem(rec, "duplicate tag", lname, NULL, 0);
            continue;
        }
        seen |= bit;
        if (!printable) {
            problem(rec, "bad value", lname, val, vlen);
            if (bit == TAG_P || bit == TAG_SP || bit == TAG_NP)
                *(bit == TAG_P ? &rec->p_invalid
                               : bit == TAG_SP ? &rec->sp_invalid : &rec->np_invalid) = true;
            continue;
        }
        apply_tag(rec, bit, lname, val, vlen);
    }
    return 1;
}

const char *fl_dmarc_policy_name(enum fl_dmarc_policy p)
{
    switch (p) {
    case FL_DMARC_POLICY_NONE:
        return "none";
    case FL_DMARC_POLICY_QUARANTINE:
        return "quarantine";
    case FL_DMARC_POLICY_REJECT:
        return "reject";
    case FL_DMARC_POLICY_ABSENT:
        break;
    }
    return "absent";
}
