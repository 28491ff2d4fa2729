/* settings: lookup, suggestions and the generated documentation of the
   settings tables (see settings.h). */
#include "lib/core/settings.h"

#include <string.h>

const struct fl_setting *fl_setting_find(const char *name)
{
    for (size_t g = 0; g < fl_setting_group_count; g++)
        for (size_t i = 0; i < fl_setting_groups[g].count; i++)
            if (strcmp(fl_setting_groups[g].settings[i].name, name) == 0)
                return &fl_setting_groups[g].settings[i];
    return NULL;
}

/* Optimal string alignment distance: insertions, deletions,
   substitutions and swaps of two neighbours count one each.  Exact up to
   max; above it, some value over max (the search stops once two rows in
   a row exceed it: every alignment crosses one of any two neighbouring
   rows, a swap jumping one row at most). */
static size_t edit_distance(const char *a, const char *b, size_t max)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64)
        return 99;
    if ((la > lb ? la - lb : lb - la) > max)
        return max + 1; /* every edit changes the length by one at most */
    size_t before[65], prev[65], cur[65];
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    memcpy(before, prev, sizeof(before));
    size_t prev_min = 0;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        size_t cur_min = cur[0];
        for (size_t j = 1; j <= lb; j++) {
            size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                before[j - 2] + 1 < cur[j])
                cur[j] = before[j - 2] + 1;
            if (cur[j] < cur_min)
                cur_min = cur[j];
        }
        if (cur_min > max && prev_min > max)
            return max + 1;
        prev_min = cur_min;
        memcpy(before, prev, sizeof(before));
        memcpy(prev, cur, sizeof(prev));
    }
    return prev[lb];
}

const char *fl_setting_suggest(const char *name)
{
    /* Close means at most one edit per four characters of the longer name
       (at least one, at most three): "foo" is two edits from "log", which
       is no hint; "log_lvl" is two from "log_level", which is. */
    size_t len = strlen(name);
    const char *best = NULL;
    size_t best_d = 99;
    for (size_t g = 0; g < fl_setting_group_count; g++) {
        for (size_t i = 0; i < fl_setting_groups[g].count; i++) {
            const char *cand = fl_setting_groups[g].settings[i].name;
            size_t longer = strlen(cand) > len ? strlen(cand) : len;
            size_t limit = longer / 4 < 1 ? 1 : longer / 4 > 3 ? 3 : longer / 4;
            /* only a closer candidate than the best so far can win */
            size_t max = best_d - 1 < limit ? best_d - 1 : limit;
            size_t d = edit_distance(name, cand, max);
            if (d <= max) {
                best_d = d;
                best = cand;
            }
        }
    }
    return best;
}

const char *fl_setting_type_hint(const struct fl_setting *s)
{
    switch (s->type) {
    case FL_SET_STRING:
        return "a string";
    case FL_SET_BOOL:
        return "yes or no";
    case FL_SET_INT:
        return "a whole number";
    case FL_SET_DURATION:
        return "a duration such as 500ms, 30s, 5m, 2h or 35d (no unit: seconds)";
    case FL_SET_SIZE:
        return "a size such as 512, 64k, 4M or 1G";
    case FL_SET_MODE:
        return "an octal file mode such as 0660";
    case FL_SET_ENUM:
        return s->choices;
    case FL_SET_LIST:
        return "a list separated by commas or spaces, or /path/to/file";
    case FL_SET_CIDRS:
        return "networks such as 192.0.2.0/24, 2001:db8::/32, or /path/to/file";
    }
    return "a value";
}

/* Writes text as comment lines of at most ~76 columns. */
static void write_wrapped(FILE *out, const char *prefix, const char *text)
{
    const char *p = text;
    while (*p) {
        size_t n = strlen(p);
        size_t width = 76 - strlen(prefix);
        if (n > width) {
            n = width;
            while (n > 0 && p[n] != ' ')
                n--;
            if (n == 0)
                n = width;
        }
        fprintf(out, "%s%.*s\n", prefix, (int)n, p);
        p += n;
        while (*p == ' ')
            p++;
    }
}

void fl_settings_write_sample(FILE *out)
{
    for (size_t g = 0; g < fl_setting_group_count; g++) {
        const struct fl_setting_group *grp = &fl_setting_groups[g];
        fprintf(out, "\n# === %s ===\n", grp->title);
        for (size_t i = 0; i < grp->count; i++) {
            const struct fl_setting *s = &grp->settings[i];
            fprintf(out, "\n");
            write_wrapped(out, "# ", s->doc);
            fprintf(out, "# Value: %s.%s\n", fl_setting_type_hint(s),
                    (s->flags & FL_SET_RESTART) ? " Needs a restart to change." : "");
            fprintf(out, "%s =%s%s\n", s->name, *s->def ? " " : "", s->def);
        }
    }
}

/* roff-escapes text: backslashes, and a leading dot or quote. */
static void roff_text(FILE *out, const char *text)
{
    if (*text == '.' || *text == '\'')
        fputs("\\&", out);
    for (const char *p = text; *p; p++) {
        if (*p == '\\')
            fputs("\\e", out);
        else if (*p == '-')
            fputs("\\-", out);
        else
            fputc(*p, out);
    }
}

void fl_settings_write_man(FILE *out)
{
    for (size_t g = 0; g < fl_setting_group_count; g++) {
        const struct fl_setting_group *grp = &fl_setting_groups[g];
        fprintf(out, ".SS ");
        roff_text(out, grp->title);
        fputc('\n', out);
        for (size_t i = 0; i < grp->count; i++) {
            const struct fl_setting *s = &grp->settings[i];
            fprintf(out, ".TP\n.B ");
            roff_text(out, s->name);
            fprintf(out, "\nDefault: ");
            if (*s->def)
                roff_text(out, s->def);
            else
                fputs("(empty)", out);
            fprintf(out, ". Value: ");
            roff_text(out, fl_setting_type_hint(s));
            fputs(".\n.br\n", out);
            roff_text(out, s->doc);
            if (s->flags & FL_SET_RESTART)
                fputs(" A change needs a restart (SIGHUP keeps the old value).", out);
            fputc('\n', out);
        }
    }
}
