/* config: the configuration file parser (Postfix main.cf style).
     key = value          one setting per logical line
     # comment            whole-line comments only
       continued value    a line starting with whitespace continues the last
   Every problem is reported as "file:line: error: ..." with a hint; all of
   them are collected before loading fails. */
#include "lib/core/config.h"
#include "lib/core/linefile.h"
#include "lib/core/log.h"
#include "lib/core/settings.h"
#include "lib/core/xalloc.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* Largest value file (e.g. a trusted networks list) read into a setting,
   and largest configuration file. */
#define MAX_VALUE_FILE (16 * 1024 * 1024)
#define MAX_CONFIG_FILE (16 * 1024 * 1024)
/* Longest line of either. */
#define MAX_LINE 65536
/* Errors reported per file; the rest are counted, not printed. */
#define MAX_ERRORS 50

struct parse_ctx {
    const char *file;
    unsigned int line;
    struct fl_buf *errors;
    int nerrors;
};

static void perr(struct parse_ctx *pc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void perr(struct parse_ctx *pc, const char *fmt, ...)
{
    pc->nerrors++;
    if (pc->nerrors > MAX_ERRORS)
        return;
    if (pc->nerrors == MAX_ERRORS) {
        fl_buf_printf(pc->errors, "%s: error: too many errors; the rest are not shown\n",
                      pc->file ? pc->file : "configuration");
        return;
    }
    struct fl_buf msg;
    fl_buf_init(&msg);
    va_list ap;
    va_start(ap, fmt);
    fl_buf_vprintf(&msg, fmt, ap);
    va_end(ap);
    if (pc->file)
        fl_buf_printf(pc->errors, "%s:%u: error: ", pc->file, pc->line);
    else
        fl_buf_puts(pc->errors, "error: ");
    /* Values quoted from the file may hold any byte: control and 8-bit
       bytes are shown escaped so they never reach a terminal or the log raw. */
    for (size_t i = 0; i < msg.len; i++) {
        unsigned char c = (unsigned char)msg.data[i];
        if (c < 0x20 || c >= 0x7f)
            fl_buf_printf(pc->errors, "\\x%02x", c);
        else
            fl_buf_putc(pc->errors, (char)c);
    }
    fl_buf_putc(pc->errors, '\n');
    fl_buf_free(&msg);
}

static void *field(struct fl_config *cfg, const struct fl_setting *s)
{
    return (char *)cfg + s->offset;
}

static const void *cfield(const struct fl_config *cfg, const struct fl_setting *s)
{
    return (const char *)cfg + s->offset;
}

/* --- scalar parsers: return 0, or -1 with a message in *why ------------ */

static int parse_number(const char *v, long long *n_r, const char **unit_r)
{
    char *end;
    errno = 0;
    if (!isdigit((unsigned char)*v))
        return -1;
    *n_r = strtoll(v, &end, 10);
    if (errno != 0)
        return -1;
    *unit_r = end;
    return 0;
}

static int parse_duration(const char *v, long long *ms_r)
{
    long long n;
    const char *unit;
    if (parse_number(v, &n, &unit) < 0)
        return -1;
    static const struct {
        const char *unit;
        long long ms;
    } units[] = {{"", 1000}, {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000},
                 {"d", 86400000LL}, {"w", 604800000LL}};
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(unit, units[i].unit) == 0) {
            if (n > (long long)1e15 / units[i].ms)
                return -1;
            *ms_r = n * units[i].ms;
            return 0;
        }
    }
    return -1;
}

static int parse_size(const char *v, long long *bytes_r)
{
    long long n;
    const char *unit;
    if (parse_number(v, &n, &unit) < 0)
        return -1;
    long long mult;
    switch (tolower((unsigned char)unit[0])) {
    case '\0':
        mult = 1;
        break;
    case 'k':
        mult = 1024;
        break;
    case 'm':
        mult = 1024 * 1024;
        break;
    case 'g':
        mult = 1024LL * 1024 * 1024;
        break;
    default:
        return -1;
    }
    if (unit[0] != '\0' && unit[1] != '\0' && strcasecmp(unit + 1, "b") != 0)
        return -1;
    if (n > (long long)1e15 / mult)
        return -1;
    *bytes_r = n * mult;
    return 0;
}

static void format_duration(long long ms, struct fl_buf *out)
{
    if (ms % 86400000LL == 0 && ms != 0)
        fl_buf_printf(out, "%lldd", ms / 86400000LL);
    else if (ms % 3600000 == 0 && ms != 0)
        fl_buf_printf(out, "%lldh", ms / 3600000);
    else if (ms % 60000 == 0 && ms != 0)
        fl_buf_printf(out, "%lldm", ms / 60000);
    else if (ms % 1000 == 0)
        fl_buf_printf(out, "%llds", ms / 1000);
    else
        fl_buf_printf(out, "%lldms", ms);
}

static void format_size(long long n, struct fl_buf *out)
{
    if (n != 0 && n % (1024LL * 1024 * 1024) == 0)
        fl_buf_printf(out, "%lldG", n / (1024LL * 1024 * 1024));
    else if (n != 0 && n % (1024 * 1024) == 0)
        fl_buf_printf(out, "%lldM", n / (1024 * 1024));
    else if (n != 0 && n % 1024 == 0)
        fl_buf_printf(out, "%lldk", n / 1024);
    else
        fl_buf_printf(out, "%lld", n);
}

static void format_bound(const struct fl_setting *s, long long v, struct fl_buf *out)
{
    if (s->type == FL_SET_DURATION)
        format_duration(v, out);
    else if (s->type == FL_SET_SIZE)
        format_size(v, out);
    else if (s->type == FL_SET_MODE)
        fl_buf_printf(out, "%04llo", v);
    else
        fl_buf_printf(out, "%lld", v);
}

static int enum_index(const char *choices, const char *v)
{
    int idx = 0;
    size_t vlen = strlen(v);
    for (const char *p = choices; *p; idx++) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen(p);
        if (n == vlen && strncasecmp(p, v, n) == 0)
            return idx;
        if (bar == NULL)
            break;
        p = bar + 1;
    }
    return -1;
}

static const char *enum_name(const char *choices, int idx, struct fl_buf *tmp)
{
    const char *p = choices;
    for (int i = 0; i < idx && p; i++) {
        p = strchr(p, '|');
        if (p)
            p++;
    }
    if (p == NULL)
        return "?";
    const char *bar = strchr(p, '|');
    fl_buf_append(tmp, p, bar ? (size_t)(bar - p) : strlen(p));
    return tmp->data;
}

/* --- lists ------------------------------------------------------------ */

static void strlist_add(struct fl_strlist *l, const char *item, size_t n)
{
    l->items = fl_realloc(l->items, (l->count + 1) * sizeof(*l->items));
    l->items[l->count++] = fl_strndup(item, n);
}

static void strlist_free(struct fl_strlist *l)
{
    for (size_t i = 0; i < l->count; i++)
        free(l->items[i]);
    free(l->items);
    l->items = NULL;
    l->count = 0;
}

/* Splits text at commas and whitespace. */
static void split_items(const char *text, struct fl_strlist *out)
{
    const char *p = text;
    for (;;) {
        while (*p == ',' || isspace((unsigned char)*p))
            p++;
        if (*p == '\0')
            break;
        const char *start = p;
        while (*p && *p != ',' && !isspace((unsigned char)*p))
            p++;
        strlist_add(out, start, (size_t)(p - start));
    }
}

/* Reads a value file: one or more items per line, # comments.  Each item
   remembers its line for error messages via *lines (parallel array). */
static int read_value_file(struct parse_ctx *pc, const char *path, struct fl_strlist *out,
                           struct fl_strlist *where)
{
    struct fl_linefile lf;
    struct fl_buf why; /* written only by a failing open or read */
    fl_buf_init(&why);
    if (fl_linefile_open(&lf, path, MAX_LINE, &why) < 0) {
        perr(pc, "cannot read %s: %s", path, why.data);
        fl_buf_free(&why);
        return -1;
    }
    char *line;
    size_t n, total = 0;
    int rc;
    while ((rc = fl_linefile_next(&lf, &line, &n, &why)) > 0) {
        total += n + 1;
        if (total > MAX_VALUE_FILE) {
            perr(pc, "%s is larger than %d bytes", path, MAX_VALUE_FILE);
            rc = -1;
            break;
        }
        if (strlen(line) != n) {
            perr(pc, "%s:%u: NUL byte in the file", path, lf.lineno);
            rc = -1;
            break;
        }
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        size_t before = out->count;
        split_items(line, out);
        char loc[512];
        snprintf(loc, sizeof(loc), "%s:%u", path, lf.lineno);
        for (size_t i = before; i < out->count; i++)
            strlist_add(where, loc, strlen(loc));
    }
    if (rc < 0 && why.len > 0)
        perr(pc, "%s:%u: %s", path, lf.lineno, why.data);
    fl_buf_free(&why);
    fl_linefile_close(&lf);
    return rc < 0 ? -1 : 0;
}

/* Expands a list value: items, and /file items replaced by the file's items.
   where gets, per item, "" or "file:line". */
static int expand_list(struct parse_ctx *pc, const char *value, struct fl_strlist *out,
                       struct fl_strlist *where)
{
    struct fl_strlist raw = {0};
    split_items(value, &raw);
    int rc = 0;
    for (size_t i = 0; i < raw.count; i++) {
        if (raw.items[i][0] == '/') {
            if (read_value_file(pc, raw.items[i], out, where) < 0)
                rc = -1;
        } else {
            strlist_add(out, raw.items[i], strlen(raw.items[i]));
            strlist_add(where, "", 0);
        }
    }
    strlist_free(&raw);
    return rc;
}

/* --- setting a value -------------------------------------------------- */

static void free_value(struct fl_config *cfg, const struct fl_setting *s)
{
    void *f = field(cfg, s);
    switch (s->type) {
    case FL_SET_STRING:
        free(*(char **)f);
        *(char **)f = NULL;
        break;
    case FL_SET_LIST:
        strlist_free(f);
        break;
    case FL_SET_CIDRS:
        fl_cidr_list_free(f);
        break;
    default:
        break;
    }
}

static void range_error(struct parse_ctx *pc, const struct fl_setting *s, const char *v)
{
    struct fl_buf lo, hi;
    fl_buf_init(&lo);
    fl_buf_init(&hi);
    format_bound(s, s->min, &lo);
    format_bound(s, s->max, &hi);
    perr(pc, "%s = %s: out of range (must be between %s and %s)", s->name, v, lo.data, hi.data);
    fl_buf_free(&lo);
    fl_buf_free(&hi);
}

/* Runs the setting's check on a scalar value.  Returns 0 or -1 (error
   reported). */
static int check_value(struct parse_ctx *pc, const struct fl_setting *s, const char *v)
{
    struct fl_buf why;
    fl_buf_init(&why);
    int rc = s->check(v, &why);
    if (rc < 0)
        perr(pc, "%s = %s: %s", s->name, v, why.data);
    fl_buf_free(&why);
    return rc < 0 ? -1 : 0;
}

/* Reports a bad list item, at its file:line when it came from a value file. */
static void item_error(struct parse_ctx *pc, const struct fl_setting *s, const char *item,
                       const char *where, const char *why)
{
    if (where[0]) {
        fl_buf_printf(pc->errors, "%s: error: %s: \"%s\": %s\n", where, s->name, item,
                      why);
        pc->nerrors++;
    } else {
        perr(pc, "%s: \"%s\": %s", s->name, item, why);
    }
}

/* Parses value into cfg.  Returns 0 or -1 (error reported). */
static int set_value(struct parse_ctx *pc, struct fl_config *cfg, const struct fl_setting *s,
                     const char *v)
{
    void *f = field(cfg, s);
    long long n;
    switch (s->type) {
    case FL_SET_STRING:
        if (s->check && check_value(pc, s, v) < 0)
            return -1;
        free_value(cfg, s);
        *(char **)f = fl_strdup(v);
        return 0;
    case FL_SET_BOOL: {
        static const char *const yes[] = {"yes", "true", "on", "1"};
        static const char *const no[] = {"no", "false", "off", "0"};
        for (size_t i = 0; i < 4; i++) {
            if (strcasecmp(v, yes[i]) == 0 || strcasecmp(v, no[i]) == 0) {
                *(bool *)f = strcasecmp(v, yes[i]) == 0;
                return 0;
            }
        }
        perr(pc, "%s = %s: expected yes or no", s->name, v);
        return -1;
    }
    case FL_SET_INT:
    case FL_SET_DURATION:
    case FL_SET_SIZE:
    case FL_SET_MODE: {
        int rc;
        const char *unit = "";
        if (s->type == FL_SET_DURATION) {
            rc = parse_duration(v, &n);
        } else if (s->type == FL_SET_SIZE) {
            rc = parse_size(v, &n);
        } else if (s->type == FL_SET_MODE) {
            char *end;
            n = strtoll(v, &end, 8);
            rc = (*v >= '0' && *v <= '7' && *end == '\0') ? 0 : -1;
        } else {
            rc = parse_number(v, &n, &unit);
            if (rc == 0 && *unit != '\0')
                rc = -1;
        }
        if (rc < 0) {
            perr(pc, "%s = %s: expected %s", s->name, v, fl_setting_type_hint(s));
            return -1;
        }
        if (n < s->min || n > s->max) {
            range_error(pc, s, v);
            return -1;
        }
        *(long long *)f = n;
        return 0;
    }
    case FL_SET_ENUM: {
        int idx = enum_index(s->choices, v);
        if (idx < 0) {
            perr(pc, "%s = %s: expected one of %s", s->name, v, s->choices);
            return -1;
        }
        *(int *)f = idx;
        return 0;
    }
    case FL_SET_LIST:
    case FL_SET_CIDRS: {
        struct fl_strlist items = {0}, where = {0};
        struct fl_buf why;
        fl_buf_init(&why);
        int rc = expand_list(pc, v, &items, &where);
        if (s->type == FL_SET_LIST) {
            for (size_t i = 0; s->check && i < items.count; i++) {
                fl_buf_reset(&why);
                if (s->check(items.items[i], &why) == 0)
                    continue;
                item_error(pc, s, items.items[i], where.items[i], why.data);
                rc = -1;
            }
            if (rc == 0) {
                free_value(cfg, s);
                *(struct fl_strlist *)f = items;
                items = (struct fl_strlist){0};
            }
        } else {
            struct fl_cidr_list nets = {0};
            for (size_t i = 0; i < items.count; i++) {
                struct fl_cidr c;
                fl_buf_reset(&why);
                if (fl_cidr_parse(items.items[i], &c, &why) < 0) {
                    item_error(pc, s, items.items[i], where.items[i], why.data);
                    rc = -1;
                    continue;
                }
                fl_cidr_list_add(&nets, &c);
            }
            if (rc == 0) {
                free_value(cfg, s);
                *(struct fl_cidr_list *)f = nets;
            } else {
                fl_cidr_list_free(&nets);
            }
        }
        fl_buf_free(&why);
        strlist_free(&items);
        strlist_free(&where);
        return rc;
    }
    }
    return -1;
}

void fl_config_format_value(const struct fl_config *cfg, const char *name, struct fl_buf *out)
{
    const struct fl_setting *s = fl_setting_find(name);
    if (s == NULL)
        return;
    const void *f = cfield(cfg, s);
    struct fl_buf tmp;
    switch (s->type) {
    case FL_SET_STRING:
        fl_buf_puts(out, *(char *const *)f ? *(char *const *)f : "");
        break;
    case FL_SET_BOOL:
        fl_buf_puts(out, *(const bool *)f ? "yes" : "no");
        break;
    case FL_SET_INT:
        fl_buf_printf(out, "%lld", *(const long long *)f);
        break;
    case FL_SET_DURATION:
        format_duration(*(const long long *)f, out);
        break;
    case FL_SET_SIZE:
        format_size(*(const long long *)f, out);
        break;
    case FL_SET_MODE:
        fl_buf_printf(out, "%04llo", *(const long long *)f);
        break;
    case FL_SET_ENUM:
        fl_buf_init(&tmp);
        fl_buf_puts(out, enum_name(s->choices, *(const int *)f, &tmp));
        fl_buf_free(&tmp);
        break;
    case FL_SET_LIST: {
        const struct fl_strlist *l = f;
        for (size_t i = 0; i < l->count; i++)
            fl_buf_printf(out, "%s%s", i ? ", " : "", l->items[i]);
        break;
    }
    case FL_SET_CIDRS: {
        const struct fl_cidr_list *l = f;
        char text[64];
        for (size_t i = 0; i < l->count; i++) {
            fl_cidr_format(&l->items[i], text, sizeof(text));
            fl_buf_printf(out, "%s%s", i ? ", " : "", text);
        }
        break;
    }
    }
}

/* --- loading ---------------------------------------------------------- */

static void apply_defaults(struct fl_config *cfg)
{
    struct fl_buf errors;
    fl_buf_init(&errors);
    struct parse_ctx pc = {"(built-in default)", 0, &errors, 0};
    for (size_t g = 0; g < fl_setting_group_count; g++)
        for (size_t i = 0; i < fl_setting_groups[g].count; i++)
            set_value(&pc, cfg, &fl_setting_groups[g].settings[i],
                      fl_setting_groups[g].settings[i].def);
    /* A default that does not parse is a bug; the unit tests catch it. */
    if (pc.nerrors > 0)
        fl_fatal("%s", errors.data);
    fl_buf_free(&errors);
}

/* Fills in defaults that depend on the host. */
static void derive(struct fl_config *cfg)
{
    if (cfg->authserv_id == NULL || cfg->authserv_id[0] == '\0') {
        char host[256];
        if (gethostname(host, sizeof(host)) != 0 || host[0] == '\0')
            snprintf(host, sizeof(host), "localhost");
        host[sizeof(host) - 1] = '\0';
        free(cfg->authserv_id);
        cfg->authserv_id = fl_strdup(host);
    }
}

struct fl_config *fl_config_defaults(void)
{
    struct fl_config *cfg = fl_calloc(1, sizeof(*cfg));
    cfg->refcount = 1;
    apply_defaults(cfg);
    derive(cfg);
    return cfg;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

/* Handles one logical line "key = value" that started at line pc->line. */
static void parse_entry(struct parse_ctx *pc, struct fl_config *cfg, char *text,
                        unsigned int *seen_at)
{
    char *eq = strchr(text, '=');
    if (eq == NULL) {
        perr(pc, "expected \"key = value\", got \"%.60s\"", trim(text));
        return;
    }
    *eq = '\0';
    char *key = trim(text), *value = trim(eq + 1);
    const struct fl_setting *s = fl_setting_find(key);
    if (s == NULL) {
        /* A suggestion costs an edit distance against every key: none
           for names no key is close to, nor once errors are no longer
           shown (a hostile file must not make the check quadratic). */
        const char *hint = strlen(key) <= 64 && pc->nerrors < MAX_ERRORS
                               ? fl_setting_suggest(key)
                               : NULL;
        if (hint)
            perr(pc, "unknown key \"%s\" (did you mean \"%s\"?)", key, hint);
        else
            perr(pc, "unknown key \"%s\" (faultline -d lists every key)", key);
        return;
    }
    /* Index of s among all settings, to find duplicates. */
    size_t idx = 0;
    for (size_t g = 0; g < fl_setting_group_count; g++) {
        const struct fl_setting_group *grp = &fl_setting_groups[g];
        if (s >= grp->settings && s < grp->settings + grp->count) {
            idx += (size_t)(s - grp->settings);
            break;
        }
        idx += grp->count;
    }
    if (seen_at[idx]) {
        perr(pc, "\"%s\" is already set at line %u", key, seen_at[idx]);
        return;
    }
    seen_at[idx] = pc->line;
    set_value(pc, cfg, s, value);
}

static size_t settings_total(void)
{
    size_t n = 0;
    for (size_t g = 0; g < fl_setting_group_count; g++)
        n += fl_setting_groups[g].count;
    return n;
}

int fl_config_load(const char *path, struct fl_config **cfg_r, struct fl_buf *errors)
{
    struct fl_config *cfg = fl_config_defaults();
    if (path == NULL) {
        *cfg_r = cfg;
        return 0;
    }
    free(cfg->authserv_id); /* re-derived after parsing */
    cfg->authserv_id = fl_strdup("");
    cfg->path = fl_strdup(path);
    struct parse_ctx pc = {path, 0, errors, 0};
    struct fl_linefile lf;
    struct fl_buf why;
    fl_buf_init(&why);
    if (fl_linefile_open(&lf, path, MAX_LINE, &why) < 0) {
        fl_buf_printf(errors, "%s: error: cannot read: %s\n", path, why.data);
        fl_buf_free(&why);
        fl_config_unref(&cfg);
        return -1;
    }
    unsigned int *seen_at = fl_calloc(settings_total(), sizeof(*seen_at));
    struct fl_buf entry;
    fl_buf_init(&entry);
    unsigned int entry_line = 0;
    size_t total = 0;
    for (;;) {
        char *line = NULL, *t = NULL;
        size_t n = 0;
        int got = fl_linefile_next(&lf, &line, &n, &why);
        if (got < 0) {
            pc.line = lf.lineno;
            perr(&pc, "%s", why.data);
        } else if (got > 0) {
            total += n + 1;
            if (total > MAX_CONFIG_FILE) {
                pc.line = lf.lineno;
                perr(&pc, "the file is larger than %d bytes", MAX_CONFIG_FILE);
                got = -1;
            } else if (strlen(line) != n) {
                pc.line = lf.lineno;
                perr(&pc, "NUL byte in configuration line");
                continue;
            }
        }
        if (got > 0) {
            bool continuation = line[0] == ' ' || line[0] == '\t';
            t = trim(line);
            if (*t == '\0' || *t == '#')
                continue; /* blank and comment lines neither start nor end an entry */
            if (continuation) {
                if (entry_line == 0) {
                    pc.line = lf.lineno;
                    perr(&pc, "continuation line without a setting above it");
                } else {
                    fl_buf_putc(&entry, ' ');
                    fl_buf_puts(&entry, t);
                }
                continue;
            }
        }
        if (entry_line != 0) {
            pc.line = entry_line;
            parse_entry(&pc, cfg, entry.data, seen_at);
            fl_buf_reset(&entry);
            entry_line = 0;
        }
        if (got <= 0)
            break; /* end of file, or a read error: nothing after it is trusted */
        fl_buf_puts(&entry, t);
        entry_line = lf.lineno;
    }
    fl_linefile_close(&lf);
    fl_buf_free(&why);
    fl_buf_free(&entry);
    free(seen_at);
    if (pc.nerrors > 0) {
        fl_config_unref(&cfg);
        return -1;
    }
    derive(cfg);
    *cfg_r = cfg;
    return 0;
}

struct fl_config *fl_config_ref(struct fl_config *cfg)
{
    __atomic_add_fetch(&cfg->refcount, 1, __ATOMIC_RELAXED);
    return cfg;
}

void fl_config_unref(struct fl_config **cfgp)
{
    struct fl_config *cfg = *cfgp;
    if (cfg == NULL)
        return;
    *cfgp = NULL;
    if (__atomic_sub_fetch(&cfg->refcount, 1, __ATOMIC_ACQ_REL) > 0)
        return;
    for (size_t g = 0; g < fl_setting_group_count; g++)
        for (size_t i = 0; i < fl_setting_groups[g].count; i++)
            free_value(cfg, &fl_setting_groups[g].settings[i]);
    free(cfg->path);
    free(cfg);
}

void fl_config_restart_changes(const struct fl_config *a, const struct fl_config *b,
                               struct fl_buf *out)
{
    struct fl_buf va, vb;
    fl_buf_init(&va);
    fl_buf_init(&vb);
    for (size_t g = 0; g < fl_setting_group_count; g++) {
        for (size_t i = 0; i < fl_setting_groups[g].count; i++) {
            const struct fl_setting *s = &fl_setting_groups[g].settings[i];
            if (!(s->flags & FL_SET_RESTART))
                continue;
            fl_buf_reset(&va);
            fl_buf_reset(&vb);
            fl_config_format_value(a, s->name, &va);
            fl_config_format_value(b, s->name, &vb);
            if (strcmp(va.data, vb.data) != 0)
                fl_buf_printf(out, "%s changed from \"%s\" to \"%s\": takes effect after a restart\n",
                              s->name, va.data, vb.data);
        }
    }
    fl_buf_free(&va);
    fl_buf_free(&vb);
}
