/* check_dmarc: lib/dmarc (RFC 9989 DMARCbis) without the DNS -- record
   parsing, From header parsing, the names of a tree walk -- and, in
   check_dmarc_dns.c, against the hermetic test DNS server with the zones
   dmarc.example, bank.example and rfc9989.example: Organizational Domains,
   policy discovery, the alignment matrix, t=y, np, From problems, overrides,
   actions, DNS faults, the report, and that a walk's queries overlap. */
#include "tests/dmarc/check_dmarc.h"

#include "lib/dmarc/dmarc_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- record parsing (RFC 9989 4.7, 4.8) ---------------------------------------- */

struct record_row {
    const char *label;
    const char *txt;
    int want_rc; /* 1: a DMARC record, 0: not one */
    enum fl_dmarc_policy p, sp, np;
    bool adkim_strict, aspf_strict, testing;
    enum fl_dmarc_psd psd;
    int pct;
    bool rua_valid;
    const char *problems; /* substring, or "" for none */
};

#define ABS FL_DMARC_POLICY_ABSENT
#define NON FL_DMARC_POLICY_NONE
#define QUA FL_DMARC_POLICY_QUARANTINE
#define REJ FL_DMARC_POLICY_REJECT
#define PU  FL_DMARC_PSD_U
#define PY  FL_DMARC_PSD_Y
#define PN  FL_DMARC_PSD_N

/* clang-format off */
static const struct record_row record_rows[] = {
    {"a minimal record has p and the defaults", "v=DMARC1; p=none", 1, NON, ABS, ABS,
     false, false, false, PU, -1, false, ""},
    {"every tag of RFC 9989 is read", "v=DMARC1; p=reject; sp=quarantine; np=none; adkim=s; "
     "aspf=s; t=y; psd=n; fo=d:s; rua=mailto:a@x.example; ruf=mailto:f@x.example", 1, REJ, QUA,
     NON, true, true, true, PN, -1, true, ""},
    {"a trailing semicolon is allowed", "v=DMARC1; p=quarantine;", 1, QUA, ABS, ABS, false,
     false, false, PU, -1, false, ""},
    {"odd spacing around = and ; is allowed", "v = DMARC1 ;p =reject\t;  sp= none ", 1, REJ,
     NON, ABS, false, false, false, PU, -1, false, ""},
    {"tag names and keyword values are case-insensitive", "V=DMARC1; P=Reject; ADKIM=S; PSD=Y",
     1, REJ, ABS, ABS, true, false, false, PY, -1, false, ""},
    {"the version value is case-sensitive", "v=dmarc1; p=reject", 0, ABS, ABS, ABS, false,
     false, false, PU, -1, false, ""},
    {"v=DMARC1 must be the first tag", "p=reject; v=DMARC1", 0, ABS, ABS, ABS, false, false,
     false, PU, -1, false, ""},
    {"an SPF record is not a DMARC record", "v=spf1 -all", 0, ABS, ABS, ABS, false, false,
     false, PU, -1, false, ""},
    {"v=DMARC10 is another version", "v=DMARC10; p=reject", 0, ABS, ABS, ABS, false, false,
     false, PU, -1, false, ""},
    {"an empty TXT is not a record", "", 0, ABS, ABS, ABS, false, false, false, PU, -1, false,
     ""},
    {"unknown tags are ignored", "v=DMARC1; p=none; future=1; x=y", 1, NON, ABS, ABS, false,
     false, false, PU, -1, false, ""},
    {"historic rf and ri are ignored", "v=DMARC1; p=none; rf=afrf; ri=86400", 1, NON, ABS, ABS,
     false, false, false, PU, -1, false, ""},
    {"a duplicate tag keeps its first value", "v=DMARC1; p=reject; p=none", 1, REJ, ABS, ABS,
     false, false, false, PU, -1, false, "duplicate tag p"},
    {"an invalid p is absent and flagged", "v=DMARC1; p=block", 1, ABS, ABS, ABS, false, false,
     false, PU, -1, false, "bad value p=block"},
    {"an invalid adkim falls back to relaxed", "v=DMARC1; p=none; adkim=x", 1, NON, ABS, ABS,
     false, false, false, PU, -1, false, "bad value adkim=x"},
    {"an invalid t falls back to n", "v=DMARC1; p=reject; t=yes", 1, REJ, ABS, ABS, false,
     false, false, PU, -1, false, "bad value t=yes"},
    {"an invalid psd falls back to u", "v=DMARC1; p=none; psd=maybe", 1, NON, ABS, ABS, false,
     false, false, PU, -1, false, "bad value psd=maybe"},
    {"legacy pct is recorded", "v=DMARC1; p=reject; pct=20", 1, REJ, ABS, ABS, false, false,
     false, PU, 20, false, ""},
    {"a pct above 100 is discarded", "v=DMARC1; p=reject; pct=101", 1, REJ, ABS, ABS, false,
     false, false, PU, -1, false, "bad value pct=101"},
    {"rua with one valid URI among junk is valid", "v=DMARC1; p=none; rua=junk, mailto:a@b.example",
     1, NON, ABS, ABS, false, false, false, PU, -1, true, ""},
    {"rua without a valid URI is flagged", "v=DMARC1; p=none; rua=nobody", 1, NON, ABS, ABS,
     false, false, false, PU, -1, false, "no valid URI in rua=nobody"},
    {"a tag without = is a syntax error, the rest counts", "v=DMARC1; adkim; p=reject", 1,
     REJ, ABS, ABS, false, false, false, PU, -1, false, "syntax error"},
    {"a value with a control byte is discarded", "v=DMARC1; p=re\x01ject", 1, ABS, ABS, ABS,
     false, false, false, PU, -1, false, "bad value p=re?ject"},
    {"empty parts between semicolons are tolerated", "v=DMARC1;; ;p=none", 1, NON, ABS, ABS,
     false, false, false, PU, -1, false, ""},
};
/* clang-format on */

START_TEST(records_parse_as_rfc9989_says)
{
    const struct record_row *row = &record_rows[_i];
    struct fl_dmarc_record rec;
    int rc = fl_dmarc_record_parse(row->txt, strlen(row->txt), &rec);
    ck_assert_msg(rc == row->want_rc, "%s: got %d, want %d", row->label, rc, row->want_rc);
    if (rc == 0)
        return;
    ck_assert_msg(rec.p == row->p && rec.sp == row->sp && rec.np == row->np,
                  "%s: p/sp/np got %d/%d/%d, want %d/%d/%d", row->label, rec.p, rec.sp, rec.np,
                  row->p, row->sp, row->np);
    ck_assert_msg(rec.adkim_strict == row->adkim_strict && rec.aspf_strict == row->aspf_strict,
                  "%s: adkim/aspf", row->label);
    ck_assert_msg(rec.testing == row->testing, "%s: t got %d", row->label, rec.testing);
    ck_assert_msg(rec.psd == row->psd, "%s: psd got %d, want %d", row->label, rec.psd, row->psd);
    ck_assert_msg(rec.pct == row->pct, "%s: pct got %d, want %d", row->label, rec.pct, row->pct);
    ck_assert_msg(rec.rua_valid == row->rua_valid, "%s: rua_valid got %d", row->label,
                  rec.rua_valid);
    if (row->problems[0] == '\0')
        ck_assert_msg(rec.problems[0] == '\0', "%s: unexpected problems \"%s\"", row->label,
                      rec.problems);
    else
        ck_assert_msg(strstr(rec.problems, row->problems) != NULL,
                      "%s: problems got \"%s\", want \"%s\"", row->label, rec.problems,
                      row->problems);
}
END_TEST

START_TEST(a_record_with_nul_bytes_is_hostile_but_parsed_safely)
{
    static const char txt[] = "v=DMARC1; p=reject; rua=mailto:a@b.example\0; p=none";
    struct fl_dmarc_record rec;
    ck_assert_int_eq(fl_dmarc_record_parse(txt, sizeof(txt) - 1, &rec), 1);
    ck_assert_int_eq(rec.p, REJ);
    ck_assert_msg(strstr(rec.problems, "bad value rua") != NULL, "%s", rec.problems);
    /* A 64 kB record of junk tags: linear, bounded problems text. */
    size_t n = 65536;
    char *big = malloc(n + 1);
    memcpy(big, "v=DMARC1;", 9);
    for (size_t i = 9; i < n; i++)
        big[i] = (i % 3 == 0) ? ';' : 'x';
    big[n] = '\0';
    ck_assert_int_eq(fl_dmarc_record_parse(big, n, &rec), 1);
    ck_assert(strlen(rec.problems) < sizeof(rec.problems));
    free(big);
}
END_TEST

/* --- From header parsing (RFC 5322 3.4, 3.6.2; RFC 6854; RFC 2047) ------------- */

struct from_row {
    const char *label;
    const char *values[3];
    size_t n;
    enum fl_dmarc_from_status want;
    const char *domain; /* on OK */
    unsigned int naddr;
};

#define F_OK   FL_DMARC_FROM_OK
#define F_MISS FL_DMARC_FROM_MISSING
#define F_MULT FL_DMARC_FROM_MULTIPLE
#define F_IDN  FL_DMARC_FROM_UNSUPPORTED

/* clang-format off */
static const struct from_row from_rows[] = {
    {"a bare address", {"user@Example.COM"}, 1, F_OK, "example.com", 1},
    {"a display name and an angle address", {"Jane Doe <jane@a.example>"}, 1, F_OK, "a.example", 1},
    {"a quoted display name with an address inside it", {"\"ceo@bank.example\" <x@evil.example>"},
     1, F_OK, "evil.example", 1},
    {"an encoded word hiding an @ in the display name",
     {"=?utf-8?q?ceo@bank.example?= <x@evil.example>"}, 1, F_OK, "evil.example", 1},
    {"an encoded word alone is no address", {"=?utf-8?q?ceo@bank.example?="}, 1, F_MISS, NULL, 1},
    {"comments, nested and with an @, are skipped",
     {"(the (real) boss@bank.example) x@evil.example (c)"}, 1, F_OK, "evil.example", 1},
    {"a quoted local part may hold @ and comma", {"\"a@b.example, c\"@real.example"}, 1, F_OK,
     "real.example", 1},
    {"folded lines are whitespace", {"Jane\r\n <jane@a.example>"}, 1, F_OK, "a.example", 1},
    {"a trailing dot is dropped", {"<x@a.example.>"}, 1, F_OK, "a.example", 1},
    {"an obsolete route is skipped", {"<@relay.example,@r2.example:x@a.example>"}, 1, F_OK,
     "a.example", 1},
    {"obsolete spaces around dots", {"x @ a . example"}, 1, F_OK, "a.example", 1},
    {"two addresses of one domain are one Author Domain", {"a@x.example, b@X.example"}, 1, F_OK,
     "x.example", 2},
    {"two addresses of two domains are several", {"a@x.example, b@y.example"}, 1, F_MULT, NULL,
     2},
    {"a group with two domains is several", {"team: a@x.example, b@y.example;"}, 1, F_MULT,
     NULL, 2},
    {"a group with one address counts it", {"team: a@x.example;"}, 1, F_OK, "x.example", 1},
    {"an empty group has no address", {"undisclosed-recipients:;"}, 1, F_MISS, NULL, 0},
    {"two From headers are several, even of one domain", {"a@x.example", "a@x.example"}, 2,
     F_MULT, NULL, 2},
    {"no From header", {NULL}, 0, F_MISS, NULL, 0},
    {"an empty From", {""}, 1, F_MISS, NULL, 0},
    {"an address without a domain", {"root"}, 1, F_MISS, NULL, 1},
    {"an address with an empty domain", {"root@"}, 1, F_MISS, NULL, 1},
    {"an address literal has no domain", {"x@[192.0.2.1]"}, 1, F_MISS, NULL, 1},
    {"two @ outside quotes", {"a@b@c.example"}, 1, F_MISS, NULL, 1},
    {"an unclosed angle", {"Jane <jane@a.example"}, 1, F_MISS, NULL, 1},
    {"an unterminated quote", {"\"Jane <jane@a.example>"}, 1, F_MISS, NULL, 0},
    {"an unbalanced comment", {"jane@a.example (oops"}, 1, F_MISS, NULL, 0},
    {"a control byte", {"jane@a.ex\x01mple"}, 1, F_MISS, NULL, 0},
    {"a label over 63 bytes", {"x@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example"},
     1, F_MISS, NULL, 1},
    {"a U-label domain is not converted here", {"x@b\xc3\xbc" "cher.example"}, 1, F_IDN, NULL, 1},
    {"an 8-bit display name is fine", {"J\xc3\xbcrgen <j@a.example>"}, 1, F_OK, "a.example", 1},
    {"text after the angle address", {"<x@a.example> y@b.example"}, 1, F_MISS, NULL, 1},
};
/* clang-format on */

START_TEST(from_headers_yield_one_author_domain_or_say_why_not)
{
    const struct from_row *row = &from_rows[_i];
    char dom[256];
    unsigned int naddr = 99;
    const char *why = NULL;
    enum fl_dmarc_from_status st =
        fl_dmarc_from_parse(row->values, row->n, dom, sizeof(dom), &naddr, &why);
    ck_assert_msg(st == row->want, "%s: got %d, want %d (%s)", row->label, st, row->want,
                  why ? why : "");
    if (st == F_OK)
        ck_assert_msg(strcmp(dom, row->domain) == 0, "%s: domain got %s, want %s", row->label,
                      dom, row->domain);
    else
        ck_assert_msg(why != NULL && *why, "%s: no reason", row->label);
    ck_assert_msg(naddr == row->naddr, "%s: addresses got %u, want %u", row->label, naddr,
                  row->naddr);
}
END_TEST

START_TEST(a_huge_hostile_from_is_parsed_in_linear_time)
{
    /* 1 MB of "((((" and then 1 MB of addresses: no recursion, no blowup. */
    size_t n = 1 << 20;
    char *v = malloc(n + 1);
    memset(v, '(', n);
    v[n] = '\0';
    const char *vals[1] = {v};
    char dom[256];
    const char *why;
    ck_assert_int_eq(fl_dmarc_from_parse(vals, 1, dom, sizeof(dom), NULL, &why), F_MISS);
    for (size_t i = 0; i + 14 < n; i += 14)
        memcpy(v + i, "a@x.example,  ", 14);
    ck_assert_int_eq(fl_dmarc_from_parse(vals, 1, dom, sizeof(dom), NULL, &why), F_MISS);
    free(v);
}
END_TEST

/* --- the names of a walk (RFC 9989 "DNS Tree Walk") ----------------------------- */

START_TEST(a_walk_asks_at_most_eight_names)
{
    char names[FL_DMARC_WALK_MAX][256];
    /* The RFC's own list for a.b.c.d.e.f.g.h.i.j.mail.example.com. */
    static const char *const rfc[] = {
        "a.b.c.d.e.f.g.h.i.j.mail.example.com", "g.h.i.j.mail.example.com",
        "h.i.j.mail.example.com", "i.j.mail.example.com", "j.mail.example.com",
        "mail.example.com", "example.com", "com"};
    size_t n = fl_dmarc_walk_names(rfc[0], names);
    ck_assert_uint_eq(n, 8);
    for (size_t i = 0; i < n; i++)
        ck_assert_str_eq(names[i], rfc[i]);
    /* The Domain Owner example: mail.a.b.c.d.e.f.g.example.com (10 labels). */
    static const char *const owner[] = {
        "mail.a.b.c.d.e.f.g.example.com", "c.d.e.f.g.example.com", "d.e.f.g.example.com",
        "e.f.g.example.com", "f.g.example.com", "g.example.com", "example.com", "com"};
    n = fl_dmarc_walk_names(owner[0], names);
    ck_assert_uint_eq(n, 8);
    for (size_t i = 0; i < n; i++)
        ck_assert_str_eq(names[i], owner[i]);
    /* Eight labels: every parent, eight names. */
    ck_assert_uint_eq(fl_dmarc_walk_names("a.b.c.d.e.f.g.h", names), 8);
    ck_assert_str_eq(names[1], "b.c.d.e.f.g.h");
    /* Short names. */
    ck_assert_uint_eq(fl_dmarc_walk_names("example.com", names), 2);
    ck_assert_uint_eq(fl_dmarc_walk_names("localhost", names), 1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("dmarc");
    TCase *tc = tcase_create("parsing");
    tcase_add_loop_test(tc, records_parse_as_rfc9989_says, 0, (int)NELEMS(record_rows));
    tcase_add_test(tc, a_record_with_nul_bytes_is_hostile_but_parsed_safely);
    tcase_add_loop_test(tc, from_headers_yield_one_author_domain_or_say_why_not, 0,
                        (int)NELEMS(from_rows));
    tcase_add_test(tc, a_huge_hostile_from_is_parsed_in_linear_time);
    tcase_add_test(tc, a_walk_asks_at_most_eight_names);
    suite_add_tcase(s, tc);
    suite_add_tcase(s, dmarc_dns_tcase());
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
