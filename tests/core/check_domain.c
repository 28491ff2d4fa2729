/* check_domain: unit tests for lib/core/domain, the one domain-name shape
   check: label lengths 63/64, total lengths 253/254, empty labels, the
   character classes and each flag, one row per rule.  Run by `make check`. */
#include "lib/core/domain.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* A name of nlabels labels of len octets each ("aaa.aaa..."). */
static char *labels_of(size_t nlabels, size_t len)
{
    char *s = malloc(nlabels * (len + 1) + 1);
    size_t k = 0;
    for (size_t l = 0; l < nlabels; l++) {
        if (l > 0)
            s[k++] = '.';
        memset(s + k, 'a', len);
        k += len;
    }
    s[k] = '\0';
    return s;
}

/* A name of exactly total octets: labels of 63 and a last shorter one. */
static char *name_of_length(size_t total)
{
    char *s = malloc(total + 1);
    for (size_t i = 0; i < total; i++)
        s[i] = (i % 64 == 63) ? '.' : 'a';
    if (s[total - 1] == '.')
        s[total - 1] = 'b';
    s[total] = '\0';
    return s;
}

static const unsigned int host = FL_DOMAIN_HOSTCHARS;
static const unsigned int fqdn = FL_DOMAIN_HOSTCHARS | FL_DOMAIN_TWO_LABELS;

static const struct row {
    const char *label;
    const char *name;
    unsigned int flags;
    enum fl_domain_problem want;
} rows[] = {
    {"a plain two-label name is good", "example.org", fqdn, FL_DOMAIN_OK},
    {"an empty name is empty", "", 0, FL_DOMAIN_EMPTY},
    {"a leading dot is an empty label", ".example.org", 0, FL_DOMAIN_EMPTY_LABEL},
    {"two dots are an empty label", "example..org", 0, FL_DOMAIN_EMPTY_LABEL},
    {"a dot left after the root dot is an empty last label", "example.org.", 0,
     FL_DOMAIN_EMPTY_LABEL},
    {"FL_DOMAIN_EMPTY_LAST lets a last dot through", "example.org.", FL_DOMAIN_EMPTY_LAST,
     FL_DOMAIN_OK},
    {"FL_DOMAIN_EMPTY_LAST still refuses two dots inside", "a..b.", FL_DOMAIN_EMPTY_LAST,
     FL_DOMAIN_EMPTY_LABEL},
    {"without flags a label may hold any octet but a dot", "a b\\\"c.org", 0,
     FL_DOMAIN_OK},
    {"host characters: letters, digits, '-' and '_'", "_dmarc.Mail-1.example", fqdn,
     FL_DOMAIN_OK},
    {"host characters: a space is a bad character", "a b.example", host,
     FL_DOMAIN_BAD_CHAR},
    {"host characters: a quote is a bad character", "a\".example", host,
     FL_DOMAIN_BAD_CHAR},
    {"host characters: a UTF-8 octet is not ASCII",
     "b\xc3\xbc"
     "cher.example",
     host, FL_DOMAIN_NON_ASCII},
    {"FL_DOMAIN_8BIT accepts a U-label",
     "b\xc3\xbc"
     "cher.example",
     FL_DOMAIN_HOSTCHARS | FL_DOMAIN_8BIT, FL_DOMAIN_OK},
    {"FL_DOMAIN_8BIT still refuses a space", "b\xc3\xbc cher.example",
     FL_DOMAIN_HOSTCHARS | FL_DOMAIN_8BIT, FL_DOMAIN_BAD_CHAR},
    {"hyphens anywhere in a label are kept as they were", "-a-.example", fqdn,
     FL_DOMAIN_OK},
    {"a single label is one label when two are wanted", "localhost", fqdn,
     FL_DOMAIN_ONE_LABEL},
    {"a single label is fine when two are not wanted", "localhost", host, FL_DOMAIN_OK},
    {"digits and dots are numeric when that is refused", "192.0.2.1",
     FL_DOMAIN_NOT_NUMERIC, FL_DOMAIN_NUMERIC},
    {"one letter makes a name not numeric", "192.0.2.a", FL_DOMAIN_NOT_NUMERIC,
     FL_DOMAIN_OK},
    {"digits and dots pass without FL_DOMAIN_NOT_NUMERIC", "192.0.2.1", fqdn,
     FL_DOMAIN_OK},
    {"the first problem from the left wins: empty label before a bad character",
     "a..b c.example", host, FL_DOMAIN_EMPTY_LABEL},
    {"the first problem from the left wins: a bad character before an empty label",
     "b c..example", host, FL_DOMAIN_BAD_CHAR},
    {"a character problem comes before one label", "a b", fqdn, FL_DOMAIN_BAD_CHAR},
};

START_TEST(table)
{
    const struct row *r = &rows[_i];
    enum fl_domain_problem got = fl_domain_check(r->name, strlen(r->name), r->flags);
    ck_assert_msg(got == r->want, "%s: got %d, want %d", r->label, (int)got,
                  (int)r->want);
}
END_TEST

static const struct len_row {
    const char *label;
    size_t nlabels, label_len; /* labels_of() */
    size_t total;              /* name_of_length(), when nlabels is 0 */
    enum fl_domain_problem want;
} len_rows[] = {
    {"a label of 63 octets is good", 2, 63, 0, FL_DOMAIN_OK},
    {"a label of 64 octets is too long", 2, 64, 0, FL_DOMAIN_LONG_LABEL},
    {"a name of 253 octets is good", 0, 0, 253, FL_DOMAIN_OK},
    {"a name of 254 octets is too long", 0, 0, 254, FL_DOMAIN_TOO_LONG},
    {"too long is answered before any label is looked at", 3, 100, 0, FL_DOMAIN_TOO_LONG},
};

START_TEST(lengths)
{
    const struct len_row *r = &len_rows[_i];
    char *name =
        r->nlabels ? labels_of(r->nlabels, r->label_len) : name_of_length(r->total);
    enum fl_domain_problem got = fl_domain_check(name, strlen(name), fqdn);
    ck_assert_msg(got == r->want, "%s: got %d, want %d", r->label, (int)got,
                  (int)r->want);
    free(name);
}
END_TEST

START_TEST(only_len_octets_are_read)
{
    /* "example.org" followed by junk the length leaves out */
    const char *s = "example.org..\x01";
    ck_assert_int_eq(fl_domain_check(s, 11, fqdn), FL_DOMAIN_OK);
}
END_TEST

static Suite *domain_suite(void)
{
    Suite *s = suite_create("domain");
    TCase *tc = tcase_create("shape");
    tcase_add_loop_test(tc, table, 0, (int)NELEMS(rows));
    tcase_add_loop_test(tc, lengths, 0, (int)NELEMS(len_rows));
    tcase_add_test(tc, only_len_octets_are_read);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(domain_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
