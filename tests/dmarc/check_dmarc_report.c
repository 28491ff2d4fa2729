/* check_dmarc_report: unit tests for faultlinectl dmarc-report's pieces --
   the rua= URI parser (milter/ctl_dmarc_send.c: mailto only, percent
   decoding, "!" size limits, hostile text), the domain check that guards
   file names and DNS queries, and the XML writer and gzip of
   milter/ctl_dmarc_xml.c (escaping, element order, a round trip through
   zlib).  The whole command is tested by tests/ctl/test_dmarc_report.sh. */
#include "milter/ctl_dmarc.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))

static const struct uri_row {
    const char *label, *text;
    int want;                 /* 0 or -1 */
    const char *addr, *host;  /* when 0 */
    unsigned long long limit; /* when 0 */
    const char *why;          /* when -1: a part of the reason */
} uri_rows[] = {
    {"a plain mailto URI", "mailto:dmarc@example.org", 0, "dmarc@example.org", "example.org", 0,
     NULL},
    {"spaces around a URI of a list are dropped", "  mailto:a@example.org\t", 0, "a@example.org",
     "example.org", 0, NULL},
    {"the scheme is case-insensitive, the host is lower-cased", "MAILTO:A@Example.ORG", 0,
     "A@Example.ORG", "example.org", 0, NULL},
    {"a size limit in bytes", "mailto:a@example.org!5000", 0, "a@example.org", "example.org",
     5000, NULL},
    {"10m is ten mebibytes", "mailto:a@example.org!10m", 0, "a@example.org", "example.org",
     10485760, NULL},
    {"k, g and t units (upper case too)", "mailto:a@example.org!2G", 0, "a@example.org",
     "example.org", 2147483648ULL, NULL},
    {"percent-encoding is decoded", "mailto:dmarc%2Dagg@example.org", 0, "dmarc-agg@example.org",
     "example.org", 0, NULL},
    {"an encoded @ makes the address", "mailto:backup%40example.org!1k", 0, "backup@example.org",
     "example.org", 1024, NULL},
    {"hfields are ignored", "mailto:a@example.org?subject=x", 0, "a@example.org", "example.org",
     0, NULL},
    {"another scheme is not supported", "https://example.org/dmarc", -1, NULL, NULL, 0,
     "not a mailto"},
    {"an empty URI", "", -1, NULL, NULL, 0, "not a mailto"},
    {"no address", "mailto:", -1, NULL, NULL, 0, "no local-part@domain"},
    {"no local part", "mailto:@example.org", -1, NULL, NULL, 0, "no local-part@domain"},
    {"two @", "mailto:a@b@example.org", -1, NULL, NULL, 0, "no local-part@domain"},
    {"a single-label domain", "mailto:a@localhost", -1, NULL, NULL, 0, "no valid domain"},
    {"a label starting with a hyphen", "mailto:a@-x.example.org", -1, NULL, NULL, 0,
     "no valid domain"},
    {"an empty label", "mailto:a@x..example.org", -1, NULL, NULL, 0, "no valid domain"},
    {"a path in the domain", "mailto:a@../../etc", -1, NULL, NULL, 0, "no valid domain"},
    {"a space in the address", "mailto:a b@example.org", -1, NULL, NULL, 0, "bad character"},
    {"a control byte", "mailto:a\n@example.org", -1, NULL, NULL, 0, "bad character"},
    {"an encoded control byte", "mailto:a%0A@example.org", -1, NULL, NULL, 0, "bad character"},
    {"a truncated percent escape is not decoded", "mailto:a@example.org%4", -1, NULL, NULL, 0,
     "no valid domain"},
    {"an empty size limit", "mailto:a@example.org!", -1, NULL, NULL, 0, "empty size limit"},
    {"a size limit of zero", "mailto:a@example.org!0", -1, NULL, NULL, 0, "zero"},
    {"an unknown unit", "mailto:a@example.org!10x", -1, NULL, NULL, 0, "bad size limit"},
    {"two units", "mailto:a@example.org!10mm", -1, NULL, NULL, 0, "bad size limit"},
    {"a limit that overflows", "mailto:a@example.org!99999999999999999999999", -1, NULL, NULL,
     0, "too large"},
    {"a limit that overflows through its unit", "mailto:a@example.org!1099511627776t", -1, NULL,
     NULL, 0, "too large"},
};

START_TEST(rua_uris_are_parsed_or_refused_with_a_reason)
{
    const struct uri_row *row = &uri_rows[_i];
    struct fl_dr_uri u;
    const char *why = NULL;
    int got = fl_dr_parse_uri(row->text, strlen(row->text), &u, &why);
    ck_assert_msg(got == row->want, "%s: got %d, want %d (%s)", row->label, got, row->want,
                  why ? why : "");
    if (got == 0) {
        ck_assert_msg(strcmp(u.addr, row->addr) == 0, "%s: address got %s, want %s", row->label,
                      u.addr, row->addr);
        ck_assert_msg(strcmp(u.host, row->host) == 0, "%s: host got %s, want %s", row->label,
                      u.host, row->host);
        ck_assert_msg(u.limit == row->limit, "%s: limit got %llu, want %llu", row->label,
                      u.limit, row->limit);
    } else {
        ck_assert_msg(why != NULL && strstr(why, row->why) != NULL,
                      "%s: reason got \"%s\", want one with \"%s\"", row->label, why ? why : "",
                      row->why);
    }
    for (const char *p = u.text; *p; p++)
        ck_assert_msg(*p >= ' ' && *p < 0x7f, "%s: a control byte in the logged URI", row->label);
}
END_TEST

START_TEST(a_megabyte_of_hostile_text_is_one_bad_uri)
{
    size_t n = 1 << 20;
    char *text = malloc(n);
    memcpy(text, "mailto:", 7);
    for (size_t i = 7; i < n; i++)
        text[i] = (char)(i * 7919 % 251 + 1);
    struct fl_dr_uri u;
    const char *why = NULL;
    ck_assert_int_eq(fl_dr_parse_uri(text, n, &u, &why), -1);
    ck_assert_ptr_nonnull(why);
    ck_assert_uint_lt(strlen(u.text), sizeof(u.text));
    free(text);
}
END_TEST

static const struct domain_row {
    const char *label, *domain;
    bool want;
} domain_rows[] = {
    {"a domain", "example.org", true},
    {"digits and hyphens inside labels", "mx-1.2a.example", true},
    {"one label is not a policy domain", "example", false},
    {"upper case is refused (callers lower-case first)", "Example.org", false},
    {"a trailing dot", "example.org.", false},
    {"a path", "../etc.example", false},
    {"a file-name separator of RFC 9990", "a!b.example", false},
    {"a slash", "a/b.example", false},
    {"an underscore", "_dmarc.example.org", false},
    {"a 64-octet label",
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example", false},
    {"empty", "", false},
};

START_TEST(domains_that_name_files_and_queries_are_checked)
{
    const struct domain_row *row = &domain_rows[_i];
    bool got = fl_dr_domain_ok(row->domain);
    ck_assert_msg(got == row->want, "%s: got %d, want %d", row->label, got, row->want);
}
END_TEST

START_TEST(the_xml_is_escaped_ordered_and_gzip_round_trips)
{
    struct fl_dr_settings s = {.org_name = "R&D <Mail>", .email = "r@receiver.example",
                               .submitter = "receiver.example", .extra_contact = "",
                               .begin = 1796083200, .end = 1796169599};
    struct fl_dr_reason reason = {"mailing_list", "list \"x\" & co"};
    struct fl_dr_auth dkim = {"example.org", "s1", "pass"};
    struct fl_dr_row row = {.count = 3, .ip = "192.0.2.1", .header_from = "example.org",
                            .envelope_from = "", .disposition = "none", .dkim_pass = true,
                            .reasons = &reason, .nreasons = 1, .dkim = &dkim, .ndkim = 1,
                            .spf = {"mx.example.org", "helo", "pass"}, .has_spf = true};
    struct fl_dr_row *rows[] = {&row};
    struct fl_dr_domain d = {.domain = "example.org", .p = "reject", .testing = "n",
                             .adkim = "x", .errors = "bad value adkim=x", .nrows = 1};
    struct fl_buf xml;
    fl_buf_init(&xml);
    fl_dr_xml(&s, &d, rows, "1-2.example.org@receiver.example", &xml);
    ck_assert_ptr_nonnull(strstr(xml.data, "<org_name>R&amp;D &lt;Mail&gt;</org_name>"));
    ck_assert_ptr_nonnull(strstr(xml.data, "<comment>list &quot;x&quot; &amp; co</comment>"));
    /* an invalid published value is left out, defaults are filled in */
    ck_assert_ptr_null(strstr(xml.data, "<adkim>"));
    ck_assert_ptr_nonnull(strstr(xml.data, "<sp>reject</sp>"));
    ck_assert_ptr_nonnull(strstr(xml.data, "<envelope_from></envelope_from>"));
    /* a HELO-scope SPF result has no scope element (only "mfrom" exists) */
    ck_assert_ptr_null(strstr(xml.data, "<scope>"));
    /* RFC 9990 order: row, identifiers, auth_results; dkim before spf */
    const char *a = strstr(xml.data, "<row>"), *b = strstr(xml.data, "<identifiers>"),
               *c = strstr(xml.data, "<auth_results>"), *k = strstr(xml.data, "<dkim>\n"),
               *f = strstr(xml.data, "<spf>\n");
    ck_assert(a && b && c && k && f && a < b && b < c && c < k && k < f);
    unsigned char *gz;
    size_t gz_len;
    const char *why;
    ck_assert_int_eq(fl_dr_gzip(xml.data, xml.len, &gz, &gz_len, &why), 0);
    ck_assert(gz_len > 18 && gz[0] == 0x1f && gz[1] == 0x8b);
    ck_assert(gz[4] == 0 && gz[5] == 0 && gz[6] == 0 && gz[7] == 0); /* no time: reproducible */
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    ck_assert_int_eq(inflateInit2(&zs, 15 + 16), Z_OK);
    char *back = malloc(xml.len + 1);
    zs.next_in = gz;
    zs.avail_in = (uInt)gz_len;
    zs.next_out = (Bytef *)back;
    zs.avail_out = (uInt)xml.len + 1;
    ck_assert_int_eq(inflate(&zs, Z_FINISH), Z_STREAM_END);
    ck_assert_uint_eq(zs.total_out, xml.len);
    ck_assert(memcmp(back, xml.data, xml.len) == 0);
    inflateEnd(&zs);
    free(back);
    free(gz);
    fl_buf_free(&xml);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("dmarc_report");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, rua_uris_are_parsed_or_refused_with_a_reason, 0, NELEMS(uri_rows));
    tcase_add_test(tc, a_megabyte_of_hostile_text_is_one_bad_uri);
    tcase_add_loop_test(tc, domains_that_name_files_and_queries_are_checked, 0,
                        NELEMS(domain_rows));
    tcase_add_test(tc, the_xml_is_escaped_ordered_and_gzip_round_trips);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
