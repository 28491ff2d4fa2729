/* check_authres: unit tests for lib/authres (RFC 8601 Authentication-Results).

   - The builder: exact values for the ordinary shapes (no result, one
     result, several results, hidden results, bare and quoted values), and
     for hostile sender-controlled input (CR, LF, header injection, NUL, TAB,
     control bytes, DEL, UTF-8, quotes, backslashes, semicolons, parentheses,
     very long values) the invariants every value must keep: no CR, LF only
     in "\n\t" folds, printable 7-bit ASCII, no line over 78 characters
     unless it holds a single unbreakable item.
   - An independent parser: every builder row is parsed by Debian's
     python3-authres ($PYTHON3, set by `make check`), which must find the
     same authserv-id, the same results in order, the same reasons and no
     property we did not write.  A missing $PYTHON3 or authres module fails
     the test: it is never skipped silently.
   - The classifier of existing headers (forged "ours", "other", malformed).

   Run by `make check`; single-threaded. */
#include "lib/core/authres.h"
#include "lib/core/buf.h"
#include "lib/core/result.h"

#include <check.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#define NELEMS(a)   (sizeof(a) / sizeof((a)[0]))
#define MAX_PROPS   8
#define MAX_RESULTS 3

/* --- builder table --------------------------------------------------------- */

struct prop_spec {
    const char *ptype, *property, *value;
    /* What a parser must recover: NULL means value itself. */
    const char *want;
};

struct res_spec {
    const char *method;
    enum fl_res res;
    const char *reason;
    bool hidden; /* in_header = false */
    struct prop_spec props[MAX_PROPS];
};

struct build_row {
    const char *label;
    const char *id;
    struct res_spec results[MAX_RESULTS];
    /* Exact header value, or NULL when only the invariants are asserted. */
    const char *want;
};

#define LONG_A64  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define LONG_A256 LONG_A64 LONG_A64 LONG_A64 LONG_A64
#define LONG_300  LONG_A256 "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb" /* 300 bytes  \
                                                                            */

/* clang-format off */
static const struct build_row build_rows[] = {
    /* ordinary shapes ----------------------------------------------------- */
    {"no results at all gives \"<id>; none\"", "mx.example", {{NULL, FL_RES_NONE, NULL, false, {{NULL, NULL, NULL, NULL}}}}, "mx.example; none"},
    {"one result with a reason and a property",
     "mx.example",
     {{"spf", FL_RES_PASS, "sender is authorised", false,
       {{"smtp", "mailfrom", "a@example.org", NULL}}}},
     "mx.example;\n\tspf=pass reason=\"sender is authorised\" smtp.mailfrom=a@example.org"},
    {"several results each start on their own folded line, separated by ; (a TAB counts 8 columns)",
     "mx.example",
     {{"spf", FL_RES_PASS, NULL, false, {{"smtp", "mailfrom", "a@example.org", NULL}}},
      {"dkim", FL_RES_FAIL, "signature did not verify", false,
       {{"header", "d", "example.org", NULL}, {"header", "s", "sel1", NULL}}},
      {"dmarc", FL_RES_FAIL, NULL, false, {{"header", "from", "example.org", NULL}}}},
     "mx.example;\n\tspf=pass smtp.mailfrom=a@example.org;\n"
     "\tdkim=fail reason=\"signature did not verify\" header.d=example.org\n"
     "\theader.s=sel1;\n"
     "\tdmarc=fail header.from=example.org"},
    {"a result with in_header=false is omitted",
     "mx.example",
     {{"greylist", FL_RES_PASS, NULL, true, {{"smtp", "mailfrom", "a@example.org", NULL}}},
      {"spf", FL_RES_NONE, NULL, false, {{"smtp", "helo", "mail.example.org", NULL}}}},
     "mx.example;\n\tspf=none smtp.helo=mail.example.org"},
    {"only hidden results give \"<id>; none\"",
     "mx.example",
     {{"greylist", FL_RES_PASS, NULL, true, {{NULL, NULL, NULL, NULL}}}},
     "mx.example; none"},
    {"a result without properties or reason is just method=result",
     "mx.example",
     {{"iprev", FL_RES_TEMPERROR, NULL, false, {{NULL, NULL, NULL, NULL}}}},
     "mx.example;\n\tiprev=temperror"},
    {"a token value stays bare",
     "mx.example",
     {{"spf", FL_RES_PASS, NULL, false, {{"smtp", "helo", "mail.example.org", NULL}}}},
     "mx.example;\n\tspf=pass smtp.helo=mail.example.org"},
    {"a token made of every RFC 2045 token punctuation stays bare",
     "mx.example",
     {{"spf", FL_RES_PASS, NULL, false, {{"smtp", "helo", "!#$%&'*+-.^_`{|}~", NULL}}}},
     "mx.example;\n\tspf=pass smtp.helo=!#$%&'*+-.^_`{|}~"},
    {"local@domain stays bare though @ is not a token character",
     "mx.example",
     {{"spf", FL_RES_PASS, NULL, false, {{"smtp", "mailfrom", "first.last@example.org", NULL}}}},
     "mx.example;\n\tspf=pass smtp.mailfrom=first.last@example.org"},
    {"a local part with atext like + = / stays bare",
     "mx.example",
     {{"spf", FL_RES_PASS, NULL, false, {{"smtp", "mailfrom", "a+b=c/d@example.org", NULL}}}},
     "mx.example;\n\tspf=pass smtp.mailfrom=a+b=c/d@example.org"},
    {"@domain without a local part stays bare",
     "mx.example",
     {{"spf", FL_RES_PASS, NULL, false, {{"smtp", "mailfrom", "@example.org", NULL}}}},
     "mx.example;\n\tspf=pass smtp.mailfrom=@example.org"},
    {"a value with a space is quoted",
     "mx.example",
     {{"spf", FL_RES_NEUTRAL, NULL, false, {{"smtp", "helo", "two words", NULL}}}},
     "mx.example;\n\tspf=neutral smtp.helo=\"two words\""},
    {"an empty value is an empty quoted-string",
     "mx.example",
     {{"spf", FL_RES_NONE, NULL, false, {{"smtp", "mailfrom", "", NULL}}}},
     "mx.example;\n\tspf=none smtp.mailfrom=\"\""},
    {"a local part with two dots in a row is quoted",
     "mx.example",
     {{"spf", FL_RES_PASS, NULL, false, {{"smtp", "mailfrom", "a..b@example.org", NULL}}}},
     "mx.example;\n\tspf=pass smtp.mailfrom=\"a..b@example.org\""},
    {"an address literal domain is quoted",
     "mx.example",
     {{"spf", FL_RES_PASS, NULL, false, {{"smtp", "mailfrom", "a@[192.0.2.1]", NULL}}}},
     "mx.example;\n\tspf=pass smtp.mailfrom=\"a@[192.0.2.1]\""},
    {"quotes and backslashes are escaped inside a quoted-string",
     "mx.example",
     {{"dkim", FL_RES_FAIL, "bad \"sig\" \\ here", false,
       {{"header", "d", "x\"y\\z", NULL}}}},
     "mx.example;\n\tdkim=fail reason=\"bad \\\"sig\\\" \\\\ here\" header.d=\"x\\\"y\\\\z\""},
    {"properties fold onto a new line when the line would pass 78 characters",
     "mx.example",
     {{"dkim", FL_RES_PASS, "a valid signature from the author domain", false,
       {{"header", "d", "mail.example.org", NULL},
        {"header", "i", "newsletter@mail.example.org", NULL},
        {"header", "s", "selector2024", NULL},
        {"header", "b", "AbCdEfGh", NULL}}}},
     "mx.example;\n\tdkim=pass reason=\"a valid signature from the author domain\"\n"
     "\theader.d=mail.example.org header.i=newsletter@mail.example.org\n"
     "\theader.s=selector2024 header.b=AbCdEfGh"},

    /* hostile sender-controlled input ------------------------------------ */
    {"a CR in the local part cannot end the line",
     "mx.example",
     {{"spf", FL_RES_FAIL, NULL, false,
       {{"smtp", "mailfrom", "a\rb@example.org", "a?b@example.org"}}}},
     "mx.example;\n\tspf=fail smtp.mailfrom=\"a?b@example.org\""},
    {"a LF in the domain cannot end the line",
     "mx.example",
     {{"spf", FL_RES_FAIL, NULL, false,
       {{"smtp", "mailfrom", "a@exam\nple.org", "a@exam?ple.org"}}}},
     "mx.example;\n\tspf=fail smtp.mailfrom=\"a@exam?ple.org\""},
    {"CRLF followed by a header cannot inject X-Injected",
     "mx.example",
     {{"spf", FL_RES_FAIL, NULL, false,
       {{"smtp", "mailfrom", "a@example.org\r\nX-Injected: yes",
         "a@example.org??X-Injected: yes"}}}},
     "mx.example;\n\tspf=fail smtp.mailfrom=\"a@example.org??X-Injected: yes\""},
    {"CRLF TAB in a HELO cannot fake a fold",
     "mx.example",
     {{"spf", FL_RES_NONE, NULL, false,
       {{"smtp", "helo", "evil\r\n\tdkim=pass", "evil???dkim=pass"}}}},
     "mx.example;\n\tspf=none smtp.helo=\"evil???dkim=pass\""},
    {"a NUL truncates the value (C strings end there)",
     "mx.example",
     {{"spf", FL_RES_PASS, NULL, false,
       {{"smtp", "mailfrom", "a@example.org\0evil", "a@example.org"}}}},
     "mx.example;\n\tspf=pass smtp.mailfrom=a@example.org"},
    {"a TAB in a local part becomes ?",
     "mx.example",
     {{"spf", FL_RES_PASS, NULL, false,
       {{"smtp", "mailfrom", "a\tb@example.org", "a?b@example.org"}}}},
     "mx.example;\n\tspf=pass smtp.mailfrom=\"a?b@example.org\""},
    {"other control bytes and ESC become ?",
     "mx.example",
     {{"spf", FL_RES_PASS, NULL, false,
       {{"smtp", "helo", "\x01\x07\x08\x0b\x0c\x1b[31mred", "??????[31mred"}}}},
     "mx.example;\n\tspf=pass smtp.helo=\"??????[31mred\""},
    {"DEL becomes ?",
     "mx.example",
     {{"spf", FL_RES_PASS, NULL, false, {{"smtp", "helo", "a\x7f" "b", "a?b"}}}},
     "mx.example;\n\tspf=pass smtp.helo=\"a?b\""},
    {"UTF-8 and other non-ASCII bytes become one ? per byte",
     "mx.example",
     {{"spf", FL_RES_PASS, NULL, false,
       {{"smtp", "mailfrom", "j\xc3\xb6rg@ex\xc3\xa4mple.org", "j??rg@ex??mple.org"},
        {"smtp", "helo", "\xff\xfe\x80", "???"}}}},
     "mx.example;\n\tspf=pass smtp.mailfrom=\"j??rg@ex??mple.org\" smtp.helo=\"???\""},
    {"a quoted local part is escaped, not passed through",
     "mx.example",
     {{"spf", FL_RES_PASS, NULL, false,
       {{"smtp", "mailfrom", "\"a b\"@example.org", NULL}}}},
     "mx.example;\n\tspf=pass smtp.mailfrom=\"\\\"a b\\\"@example.org\""},
    {"a backslash at the end of a value cannot escape the closing quote",
     "mx.example",
     {{"spf", FL_RES_PASS, NULL, false, {{"smtp", "helo", "trailing\\", NULL}}},
      {"dkim", FL_RES_NONE, NULL, false, {{NULL, NULL, NULL, NULL}}}},
     "mx.example;\n\tspf=pass smtp.helo=\"trailing\\\\\";\n\tdkim=none"},
    {"a semicolon cannot start a forged resinfo",
     "mx.example",
     {{"spf", FL_RES_FAIL, NULL, false,
       {{"smtp", "mailfrom", "x@example.org; dkim=pass header.d=paypal.com", NULL}}}},
     "mx.example;\n\tspf=fail smtp.mailfrom=\"x@example.org; dkim=pass header.d=paypal.com\""},
    {"a space cannot start a forged property",
     "mx.example",
     {{"spf", FL_RES_PASS, NULL, false,
       {{"smtp", "helo", "x smtp.mailfrom=ceo@bank.example", NULL}}}},
     "mx.example;\n\tspf=pass smtp.helo=\"x smtp.mailfrom=ceo@bank.example\""},
    {"parentheses cannot open a comment that swallows the rest",
     "mx.example",
     {{"spf", FL_RES_PASS, NULL, false, {{"smtp", "helo", "(unclosed", NULL}}},
      {"dkim", FL_RES_FAIL, NULL, false, {{"header", "d", "a(b)c@example.org", NULL}}}},
     "mx.example;\n\tspf=pass smtp.helo=\"(unclosed\";\n"
     "\tdkim=fail header.d=\"a(b)c@example.org\""},
    {"hostile text in a reason is quoted and sanitised",
     "mx.example",
     {{"dkim", FL_RES_FAIL, "bad\r\nX-Injected: yes; dkim=pass (\"", false,
       {{"header", "d", "example.org", NULL}}}},
     "mx.example;\n\tdkim=fail reason=\"bad??X-Injected: yes; dkim=pass (\\\"\"\n"
     "\theader.d=example.org"},
    {"a value over 256 bytes is cut and marked with ...",
     "mx.example",
     {{"spf", FL_RES_PASS, NULL, false,
       {{"smtp", "mailfrom", LONG_300 "@example.org", LONG_A256 "..."}}},
      {"dkim", FL_RES_NONE, NULL, false, {{NULL, NULL, NULL, NULL}}}},
     "mx.example;\n\tspf=pass\n\tsmtp.mailfrom=\"" LONG_A256 "...\";\n\tdkim=none"},
    {"a 256-byte token is not cut",
     "mx.example",
     {{"spf", FL_RES_PASS, NULL, false, {{"smtp", "helo", LONG_A256, NULL}}}},
     "mx.example;\n\tspf=pass\n\tsmtp.helo=" LONG_A256},
    {"a long hostile reason is cut and the next item folds",
     "mx.example",
     {{"dkim", FL_RES_FAIL, LONG_300 "\r\n", false, {{"header", "d", "example.org", NULL}}}},
     "mx.example;\n\tdkim=fail\n\treason=\"" LONG_A256 "...\"\n\theader.d=example.org"},
    {"many hostile properties on several results still fold cleanly",
     "mx.example",
     {{"spf", FL_RES_SOFTFAIL, "\x1b]0;title\x07", false,
       {{"smtp", "mailfrom", "\r\n\r\n<script>@example.org", "????" "<script>@example.org"},
        {"smtp", "helo", "\xe2\x80\xae\x65vil", "???evil"}}},
      {"iprev", FL_RES_FAIL, NULL, false, {{"policy", "iprev", "192.0.2.1\n\t", "192.0.2.1??"}}},
      {"dkim", FL_RES_PERMERROR, "key \"missing\"", false,
       {{"header", "d", "\\\"", NULL},
        {"header", "s", "(((", NULL},
        {"header", "i", ";;;@example.org", NULL},
        {"header", "b", "\t \t", "? ?"}}}},
     NULL},
    /* DMARC: published and applied policy, as large receivers write it --- */
    {"DMARC names the published policies, both dispositions, the tag and the policy domain",
     "mx.example",
     {{"dmarc", FL_RES_FAIL, NULL, false,
       {{"header", "from", "a.example.org", NULL},
        {"policy", "dmarc", "quarantine", NULL},
        {"policy", "published-domain-policy", "reject", NULL},
        {"policy", "published-subdomain-policy", "quarantine", NULL},
        {"policy", "applied-disposition", "quarantine", NULL},
        {"policy", "evaluated-disposition", "quarantine", NULL},
        {"policy", "policy-from", "sp", NULL},
        {"policy", "policy-domain", "example.org", NULL}}}},
     "mx.example;\n\tdmarc=fail header.from=a.example.org policy.dmarc=quarantine\n"
     "\tpolicy.published-domain-policy=reject\n"
     "\tpolicy.published-subdomain-policy=quarantine\n"
     "\tpolicy.applied-disposition=quarantine\n"
     "\tpolicy.evaluated-disposition=quarantine policy.policy-from=sp\n"
     "\tpolicy.policy-domain=example.org"},
};
/* clang-format on */

/* --- helpers ------------------------------------------------------------------ */

static size_t row_nresults(const struct build_row *row)
{
    size_t n = 0;
    while (n < MAX_RESULTS && row->results[n].method != NULL)
        n++;
    return n;
}

static size_t spec_nprops(const struct res_spec *s)
{
    size_t n = 0;
    while (n < MAX_PROPS && s->props[n].ptype != NULL)
        n++;
    return n;
}

/* Builds the header value for a row; the caller frees the string. */
static char *build_value(const struct build_row *row)
{
    struct fl_result results[MAX_RESULTS];
    size_t n = row_nresults(row);
    for (size_t i = 0; i < n; i++) {
        const struct res_spec *s = &row->results[i];
        fl_result_init(&results[i], s->method, s->res);
        fl_result_set_reason(&results[i], NULL, s->reason, NULL);
        results[i].in_header = !s->hidden;
        for (size_t j = 0; j < spec_nprops(s); j++)
            ck_assert_int_eq(fl_result_add_prop(&results[i], s->props[j].ptype,
                                                s->props[j].property, s->props[j].value),
                             0);
    }
    struct fl_buf out;
    fl_buf_init(&out);
    fl_authres_build(&out, row->id, results, n);
    for (size_t i = 0; i < n; i++)
        fl_result_clear(&results[i]);
    char *s = fl_buf_steal(&out);
    fl_buf_free(&out);
    return s;
}

/* Number of blank-separated items outside quoted-strings in line. */
static size_t count_items(const char *line, size_t len)
{
    size_t items = 0;
    bool in_item = false, quoted = false;
    for (size_t i = 0; i < len; i++) {
        char c = line[i];
        if (quoted) {
            if (c == '\\' && i + 1 < len)
                i++;
            else if (c == '"')
                quoted = false;
            continue;
        }
        if (c == ' ' || c == '\t') {
            in_item = false;
            continue;
        }
        if (!in_item)
            items++;
        in_item = true;
        if (c == '"')
            quoted = true;
    }
    return items;
}

/* The invariants of every header value: no CR; LF only as "\n\t"; only
   printable ASCII besides the folds; no line (the first one counted with
   "Authentication-Results: " before it) longer than 78 characters unless it
   holds one item, which cannot be broken. */
static void assert_header_invariants(const char *label, const char *v)
{
    ck_assert_msg(strchr(v, '\r') == NULL, "%s: got a CR in \"%s\"", label, v);
    for (const char *p = v; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '\n') {
            ck_assert_msg(p[1] == '\t',
                          "%s: got a LF not followed by TAB at offset %zu in \"%s\"",
                          label, (size_t)(p - v), v);
            p++;
            continue;
        }
        ck_assert_msg(
            c >= 0x20 && c < 0x7f,
            "%s: got byte 0x%02x at offset %zu, want printable ASCII, in \"%s\"", label,
            c, (size_t)(p - v), v);
    }
    const size_t prefix = strlen(FL_AUTHRES_HEADER ": ");
    const char *line = v;
    for (int lineno = 1;; lineno++) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        size_t chars = len + (lineno == 1 ? prefix : 0);
        if (chars > 78) {
            size_t items = count_items(line, len);
            ck_assert_msg(items == 1,
                          "%s: line %d is %zu characters with %zu items, want at most 78 "
                          "unless it is one item: \"%.*s\"",
                          label, lineno, chars, items, (int)len, line);
        }
        if (nl == NULL)
            break;
        line = nl + 1;
    }
}

/* --- builder tests -------------------------------------------------------- */

START_TEST(test_build_exact)
{
    const struct build_row *row = &build_rows[_i];
    char *got = build_value(row);
    if (row->want != NULL)
        ck_assert_msg(strcmp(got, row->want) == 0, "%s:\n got: \"%s\"\nwant: \"%s\"",
                      row->label, got, row->want);
    free(got);
}
END_TEST

START_TEST(test_build_invariants)
{
    const struct build_row *row = &build_rows[_i];
    char *got = build_value(row);
    assert_header_invariants(row->label, got);
    free(got);
}
END_TEST

START_TEST(test_build_appends)
{
    /* The builder appends to what the buffer holds already. */
    struct fl_buf out;
    fl_buf_init(&out);
    fl_buf_puts(&out, "prefix:");
    fl_authres_build(&out, "mx.example", NULL, 0);
    ck_assert_msg(strcmp(out.data, "prefix:mx.example; none") == 0,
                  "appending to a non-empty buffer: got \"%s\", want \"%s\"", out.data,
                  "prefix:mx.example; none");
    fl_buf_free(&out);
}
END_TEST

struct value_row {
    const char *label;
    const char *value;
    const char *want;
};

/* clang-format off */
static const struct value_row value_rows[] = {
    {"a token stays bare", "example.org", "example.org"},
    {"a plain address stays bare", "a@example.org", "a@example.org"},
    {"an address with a trailing dot in the domain is quoted", "a@example.org.",
     "\"a@example.org.\""},
    {"an address whose local part starts with a dot is quoted", ".a@example.org",
     "\".a@example.org\""},
    {"two @ signs are quoted", "a@b@example.org", "\"a@b@example.org\""},
    {"an address with an empty domain is quoted", "a@", "\"a@\""},
    {"a lone @ is quoted", "@", "\"@\""},
    {"tspecials are quoted", "a=b", "\"a=b\""},
    {"a colon is quoted", "a:b", "\"a:b\""},
    {"the empty value is quoted", "", "\"\""},
    {"a quote is escaped", "a\"b", "\"a\\\"b\""},
    {"a backslash is escaped", "a\\b", "\"a\\\\b\""},
    {"CR LF become ?", "a\r\nb", "\"a??b\""},
};
/* clang-format on */

START_TEST(test_put_value)
{
    const struct value_row *row = &value_rows[_i];
    struct fl_buf out;
    fl_buf_init(&out);
    fl_authres_put_value(&out, row->value);
    ck_assert_msg(strcmp(out.data, row->want) == 0, "%s: got %s, want %s", row->label,
                  out.data, row->want);
    fl_buf_free(&out);
}
END_TEST

struct token_row {
    const char *label;
    const char *s;
    bool want;
};

/* clang-format off */
static const struct token_row token_rows[] = {
    {"a host name is a token", "mx.example.org", true},
    {"token punctuation is a token", "!#$%&'*+-.^_`{|}~", true},
    {"the empty string is not a token", "", false},
    {"a space is not a token character", "a b", false},
    {"a semicolon is not a token character", "a;b", false},
    {"@ is a tspecial", "a@b", false},
    {"a quote is a tspecial", "\"a\"", false},
    {"a control byte is not a token character", "a\x01", false},
    {"DEL is not a token character", "a\x7f", false},
    {"a non-ASCII byte is not a token character", "\xc3\xa9", false},
};
/* clang-format on */

START_TEST(test_is_token)
{
    const struct token_row *row = &token_rows[_i];
    bool got = fl_authres_is_token(row->s);
    ck_assert_msg(got == row->want, "%s: got %d, want %d", row->label, got, row->want);
}
END_TEST

/* --- independent parser: python3-authres ---------------------------------- */

/* Parses stdin as an Authentication-Results value and prints JSON. */
static const char parser_py[] =
    "import sys, json\n"
    "try:\n"
    "    import authres\n"
    "except ImportError as e:\n"
    "    print(json.dumps({\"error\": \"python3-authres is not installed: %s\" % e}))\n"
    "    sys.exit(3)\n"
    "v = sys.stdin.read()\n"
    "try:\n"
    "    h = authres.AuthenticationResultsHeader.parse(\"Authentication-Results: \" + "
    "v)\n"
    "except Exception as e:\n"
    "    print(json.dumps({\"error\": \"%s: %s\" % (type(e).__name__, e)}))\n"
    "    sys.exit(0)\n"
    "print(json.dumps({\"id\": h.authserv_id, \"results\": [{\"method\": r.method,\n"
    "    \"result\": r.result, \"reason\": r.reason,\n"
    "    \"props\": [[p.type, p.name, p.value] for p in r.properties]} for r in "
    "h.results]}))\n";

/* Made by main() before the tests run, removed after them. */
static char tmpdir[64];

static const char *python3(void)
{
    const char *py = getenv("PYTHON3");
    ck_assert_msg(
        py != NULL && *py != '\0',
        "PYTHON3 is not set: run through `make check`, or set PYTHON3=/usr/bin/python3 "
        "(a python3 with Debian's python3-authres)");
    return py;
}

static void write_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "w");
    ck_assert_msg(f != NULL, "cannot create %s", path);
    ck_assert_msg(fwrite(data, 1, len, f) == len, "cannot write %s", path);
    ck_assert_int_eq(fclose(f), 0);
}

/* Runs the python parser on value (folds sent as CRLF TAB, as on the wire)
   and returns its JSON answer. */
static json_t *python_parse(const char *label, const char *value)
{
    const char *py = python3();
    char script[256], input[256];
    snprintf(script, sizeof(script), "%s/parse.py", tmpdir);
    snprintf(input, sizeof(input), "%s/value.txt", tmpdir);
    write_file(script, parser_py, strlen(parser_py));
    struct fl_buf wire;
    fl_buf_init(&wire);
    for (const char *p = value; *p; p++) {
        if (*p == '\n')
            fl_buf_putc(&wire, '\r');
        fl_buf_putc(&wire, *p);
    }
    write_file(input, wire.data, wire.len);
    fl_buf_free(&wire);

    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "'%s' '%s' < '%s'", py, script, input);
    FILE *p = popen(cmd, "r");
    ck_assert_msg(p != NULL, "%s: cannot run %s", label, cmd);
    struct fl_buf out;
    fl_buf_init(&out);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0)
        fl_buf_append(&out, chunk, n);
    int status = pclose(p);
    json_error_t jerr;
    json_t *j = json_loads(out.data, 0, &jerr);
    ck_assert_msg(j != NULL, "%s: %s exited with status %d and printed \"%s\", want JSON",
                  label, py, WIFEXITED(status) ? WEXITSTATUS(status) : -1, out.data);
    fl_buf_free(&out);
    json_t *err = json_object_get(j, "error");
    ck_assert_msg(err == NULL, "%s: python3-authres rejected \"%s\": %s", label, value,
                  err ? json_string_value(err) : "");
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s: %s exited with %d",
                  label, py, status);
    return j;
}

/* authres keeps quoted-pairs as they are; undo them to compare. */
static char *unescape(const char *s)
{
    struct fl_buf b;
    fl_buf_init(&b);
    for (; *s; s++) {
        if (*s == '\\' && s[1] != '\0')
            s++;
        fl_buf_putc(&b, *s);
    }
    char *r = fl_buf_steal(&b);
    fl_buf_free(&b);
    return r;
}

/* The value a parser must recover for prop: sanitised text is spelled out
   in the table; without it, the value itself. */
static const char *prop_want(const struct prop_spec *p)
{
    return p->want ? p->want : p->value;
}

START_TEST(test_python_authres_available)
{
    const char *py = python3();
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "'%s' -c 'import authres' 2>&1", py);
    FILE *p = popen(cmd, "r");
    ck_assert_msg(p != NULL, "cannot run %s", cmd);
    char msg[512] = "";
    size_t n = fread(msg, 1, sizeof(msg) - 1, p);
    msg[n] = '\0';
    int status = pclose(p);
    ck_assert_msg(
        WIFEXITED(status) && WEXITSTATUS(status) == 0,
        "%s cannot import authres (install Debian's python3-authres; note a pyenv "
        "python3 on PATH lacks it): %s",
        py, msg);
}
END_TEST

START_TEST(test_python_parses_build)
{
    const struct build_row *row = &build_rows[_i];
    char *value = build_value(row);
    json_t *j = python_parse(row->label, value);

    const char *got_id = json_string_value(json_object_get(j, "id"));
    ck_assert_msg(got_id != NULL && strcasecmp(got_id, row->id) == 0,
                  "%s: authres found authserv-id \"%s\", want \"%s\" in \"%s\"",
                  row->label, got_id ? got_id : "(null)", row->id, value);

    /* The results we wrote, in order: the hidden ones are not there. */
    const struct res_spec *shown[MAX_RESULTS];
    size_t nshown = 0;
    for (size_t i = 0; i < row_nresults(row); i++)
        if (!row->results[i].hidden)
            shown[nshown++] = &row->results[i];
    json_t *results = json_object_get(j, "results");
    ck_assert_msg(json_array_size(results) == nshown,
                  "%s: authres found %zu results, want %zu in \"%s\"", row->label,
                  json_array_size(results), nshown, value);

    for (size_t i = 0; i < nshown; i++) {
        const struct res_spec *s = shown[i];
        json_t *r = json_array_get(results, i);
        const char *method = json_string_value(json_object_get(r, "method"));
        const char *result = json_string_value(json_object_get(r, "result"));
        ck_assert_msg(method && strcmp(method, s->method) == 0,
                      "%s: result %zu: authres found method %s, want %s", row->label, i,
                      method ? method : "(null)", s->method);
        ck_assert_msg(result && strcmp(result, fl_res_name(s->res)) == 0,
                      "%s: result %zu: authres found result %s, want %s", row->label, i,
                      result ? result : "(null)", fl_res_name(s->res));

        json_t *jreason = json_object_get(r, "reason");
        if (s->reason == NULL) {
            ck_assert_msg(json_is_null(jreason),
                          "%s: result %zu: authres found a reason, want none", row->label,
                          i);
        } else {
            ck_assert_msg(json_is_string(jreason),
                          "%s: result %zu: authres found no reason", row->label, i);
            char *got = unescape(json_string_value(jreason));
            /* Hostile reasons are sanitised: compare only when they were clean. */
            bool clean = strlen(s->reason) <= 256;
            for (const char *c = s->reason; *c; c++)
                if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
                    clean = false;
            if (clean)
                ck_assert_msg(strcmp(got, s->reason) == 0,
                              "%s: result %zu: authres found reason \"%s\", want \"%s\"",
                              row->label, i, got, s->reason);
            free(got);
        }

        /* Every property authres found is one we wrote, in order, with the
           value we meant: nothing was injected.  authres 1.2 drops a
           quoted-string pvalue that another property follows (its pvalue
           look-ahead wants ";" or the end), so only bare values and the last
           property must all be found. */
        json_t *props = json_object_get(r, "props");
        size_t nprops = spec_nprops(s), next = 0;
        for (size_t k = 0; k < json_array_size(props); k++) {
            json_t *p = json_array_get(props, k);
            const char *ptype = json_string_value(json_array_get(p, 0));
            const char *property = json_string_value(json_array_get(p, 1));
            char *pv = unescape(json_string_value(json_array_get(p, 2)));
            size_t m = next;
            while (m < nprops && !(strcasecmp(s->props[m].ptype, ptype) == 0 &&
                                   strcasecmp(s->props[m].property, property) == 0))
                m++;
            ck_assert_msg(
                m < nprops,
                "%s: result %zu: authres found property %s.%s=%s that we did not "
                "write (or out of order) in \"%s\"",
                row->label, i, ptype, property, pv, value);
            ck_assert_msg(strcmp(pv, prop_want(&s->props[m])) == 0,
                          "%s: result %zu: %s.%s: authres found \"%s\", want \"%s\"",
                          row->label, i, ptype, property, pv, prop_want(&s->props[m]));
            for (size_t skipped = next; skipped < m; skipped++) {
                char quoted[128];
                snprintf(quoted, sizeof(quoted), "%s.%s=\"", s->props[skipped].ptype,
                         s->props[skipped].property);
                ck_assert_msg(
                    strstr(value, quoted) != NULL,
                    "%s: result %zu: authres lost bare property %s.%s in \"%s\"",
                    row->label, i, s->props[skipped].ptype, s->props[skipped].property,
                    value);
            }
            free(pv);
            next = m + 1;
        }
        ck_assert_msg(next == nprops,
                      "%s: result %zu: authres found %zu properties, want the last one "
                      "(%s.%s) among them, in \"%s\"",
                      row->label, i, json_array_size(props),
                      nprops ? s->props[nprops - 1].ptype : "-",
                      nprops ? s->props[nprops - 1].property : "-", value);
    }
    json_decref(j);
    free(value);
}
END_TEST

START_TEST(test_python_parses_unfolded)
{
    /* A header unfolded by an MTA or MUA (folds removed) parses the same. */
    const struct build_row *row = &build_rows[2];
    char *value = build_value(row);
    struct fl_buf flat;
    fl_buf_init(&flat);
    for (const char *p = value; *p; p++) {
        if (p[0] == '\n' && p[1] == '\t') {
            fl_buf_putc(&flat, ' ');
            p++;
        } else {
            fl_buf_putc(&flat, *p);
        }
    }
    json_t *j = python_parse("an unfolded header", flat.data);
    ck_assert_msg(json_array_size(json_object_get(j, "results")) == 3,
                  "an unfolded header: authres found %zu results, want 3 in \"%s\"",
                  json_array_size(json_object_get(j, "results")), flat.data);
    json_decref(j);
    fl_buf_free(&flat);
    free(value);
}
END_TEST

/* --- classifier ---------------------------------------------------------------- */

struct class_row {
    const char *label;
    const char *value;
    enum fl_authres_class want;
    const char *want_id; /* NULL: nothing appended */
};

static const char *class_name(enum fl_authres_class c)
{
    switch (c) {
    case FL_AUTHRES_OURS:
        return "OURS";
    case FL_AUTHRES_OTHER:
        return "OTHER";
    case FL_AUTHRES_MALFORMED:
        return "MALFORMED";
    }
    return "?";
}

/* clang-format off */
static const struct class_row class_rows[] = {
    {"our id exactly", "mx.example; spf=pass", FL_AUTHRES_OURS, "mx.example"},
    {"our id in another case is still ours", "MX.Example; spf=pass", FL_AUTHRES_OURS,
     "MX.Example"},
    {"our id with no space before the semicolon", "mx.example;spf=pass", FL_AUTHRES_OURS,
     "mx.example"},
    {"our id with no resinfo after the semicolon", "mx.example;", FL_AUTHRES_OURS, "mx.example"},
    {"a comment before the id", "(c) mx.example; none", FL_AUTHRES_OURS, "mx.example"},
    {"nested comments before the id", "(a (b (c)) d) mx.example; none", FL_AUTHRES_OURS,
     "mx.example"},
    {"a quoted-pair in a comment does not close it", "(a \\) b) mx.example; none",
     FL_AUTHRES_OURS, "mx.example"},
    {"a quoted-pair paren in a comment does not open one", "(a \\( b) mx.example; none",
     FL_AUTHRES_OURS, "mx.example"},
    {"comments on both sides of the id", "(a)mx.example(b);none", FL_AUTHRES_OURS, "mx.example"},
    {"folded with LF TAB before the id", "\n\tmx.example; none", FL_AUTHRES_OURS, "mx.example"},
    {"folded with CRLF SP before the id", "\r\n mx.example; none", FL_AUTHRES_OURS,
     "mx.example"},
    {"folded between the id and the semicolon", "mx.example\r\n\t; none", FL_AUTHRES_OURS,
     "mx.example"},
    {"our id as a quoted-string", "\"mx.example\"; none", FL_AUTHRES_OURS, "mx.example"},
    {"our id as a quoted-string with a quoted-pair", "\"mx\\.example\"; none", FL_AUTHRES_OURS,
     "mx.example"},
    {"an authres-version after the id", "mx.example 1; none", FL_AUTHRES_OURS, "mx.example"},
    {"an authres-version with a comment", "mx.example (v) 1 (x); none", FL_AUTHRES_OURS,
     "mx.example"},
    {"another id is kept", "other.example; spf=pass", FL_AUTHRES_OTHER, "other.example"},
    {"another quoted id is kept", "\"other example\"; none", FL_AUTHRES_OTHER, "other example"},
    {"our id with a suffix is another id", "mx.example.evil; none", FL_AUTHRES_OTHER,
     "mx.example.evil"},
    {"a prefix of our id is another id", "mx.exampl; none", FL_AUTHRES_OTHER, "mx.exampl"},
    {"our id inside a comment only is not ours", "(mx.example) other.example; none",
     FL_AUTHRES_OTHER, "other.example"},
    {"our id with a trailing dot is ours", "mx.example.; spf=pass", FL_AUTHRES_OURS,
     "mx.example."},
    {"our id claimed with unparsable results is still ours", "mx.example; !!!",
     FL_AUTHRES_OURS, "mx.example"},
    {"Gmail's form is kept",
     "mx.google.example;\r\n dkim=pass header.i=@a.example header.s=20230601 "
     "header.b=Ab/Cd+Ef;\r\n spf=pass (google: domain of x@a.example designates "
     "192.0.2.1 as permitted sender) smtp.mailfrom=x@a.example;\r\n dmarc=pass "
     "(p=NONE sp=NONE dis=NONE) header.from=a.example",
     FL_AUTHRES_OTHER, "mx.google.example"},
    {"Microsoft's form with action=none is kept",
     "spf.protection.example; spf=pass (sender IP is 192.0.2.1) smtp.mailfrom=a.example; "
     "dkim=pass (signature was verified) header.d=a.example;dmarc=pass action=none "
     "header.from=a.example;compauth=pass reason=100",
     FL_AUTHRES_OTHER, "spf.protection.example"},
    {"a trailing semicolon is tolerated", "other.example; spf=pass smtp.mailfrom=a.example;",
     FL_AUTHRES_OTHER, "other.example"},
    {"a method version is allowed", "other.example; dkim/1=pass header.d=a.example",
     FL_AUTHRES_OTHER, "other.example"},
    {"a quoted reason is allowed", "other.example; spf=fail reason=\"not; ours\"",
     FL_AUTHRES_OTHER, "other.example"},
    {"another id with prose instead of results is malformed",
     "other.example; this is not a result", FL_AUTHRES_MALFORMED, "other.example"},
    {"another id with a method but no result is malformed", "other.example; spf=",
     FL_AUTHRES_MALFORMED, "other.example"},
    {"another id with only a semicolon is malformed", "other.example;", FL_AUTHRES_MALFORMED,
     "other.example"},
    {"another id with a property without value is malformed",
     "other.example; spf=pass smtp.mailfrom=", FL_AUTHRES_MALFORMED, "other.example"},
    {"another id with an unterminated quoted value is malformed",
     "other.example; spf=pass reason=\"abc", FL_AUTHRES_MALFORMED, "other.example"},
    {"an empty value is malformed", "", FL_AUTHRES_MALFORMED, NULL},
    {"only CFWS is malformed", " \t(comment)\r\n ", FL_AUTHRES_MALFORMED, NULL},
    {"only semicolons are malformed", ";;;", FL_AUTHRES_MALFORMED, NULL},
    {"an unterminated comment is malformed", "(abc mx.example; none", FL_AUTHRES_MALFORMED,
     NULL},
    {"an unterminated nested comment is malformed", "((abc) mx.example; none",
     FL_AUTHRES_MALFORMED, NULL},
    {"a comment ending in a backslash is malformed", "(abc\\", FL_AUTHRES_MALFORMED, NULL},
    {"an unterminated quoted id is malformed", "\"mx.example; none", FL_AUTHRES_MALFORMED, NULL},
    {"a quoted id ending in a backslash is malformed", "\"mx.example\\", FL_AUTHRES_MALFORMED,
     NULL},
    {"an empty quoted id is malformed", "\"\"; none", FL_AUTHRES_MALFORMED, NULL},
    {"an id without a semicolon is malformed", "mx.example", FL_AUTHRES_MALFORMED, NULL},
    {"a resinfo without the semicolon is malformed", "mx.example spf=pass",
     FL_AUTHRES_MALFORMED, NULL},
    {"a version followed by junk is malformed", "mx.example 1x; none", FL_AUTHRES_MALFORMED,
     NULL},
    {"a value starting with a tspecial is malformed", "@mx.example; none",
     FL_AUTHRES_MALFORMED, NULL},
    {"an id followed by a comment that never ends is malformed", "mx.example (x; none",
     FL_AUTHRES_MALFORMED, NULL},
};
/* clang-format on */

START_TEST(test_classify)
{
    const struct class_row *row = &class_rows[_i];
    struct fl_buf id;
    fl_buf_init(&id);
    enum fl_authres_class got = fl_authres_classify(row->value, "mx.example", &id);
    ck_assert_msg(got == row->want, "%s: \"%s\": got %s, want %s", row->label, row->value,
                  class_name(got), class_name(row->want));
    const char *want_id = row->want_id ? row->want_id : "";
    ck_assert_msg(strcmp(id.data, want_id) == 0, "%s: id_r: got \"%s\", want \"%s\"",
                  row->label, id.data, want_id);
    /* id_r is optional. */
    got = fl_authres_classify(row->value, "mx.example", NULL);
    ck_assert_msg(got == row->want, "%s: with id_r NULL: got %s, want %s", row->label,
                  class_name(got), class_name(row->want));
    fl_buf_free(&id);
}
END_TEST

START_TEST(test_classify_appends_id)
{
    struct fl_buf id;
    fl_buf_init(&id);
    fl_buf_puts(&id, "seen:");
    fl_authres_classify("other.example; none", "mx.example", &id);
    ck_assert_msg(strcmp(id.data, "seen:other.example") == 0,
                  "id_r is appended to: got \"%s\", want \"%s\"", id.data,
                  "seen:other.example");
    fl_buf_free(&id);
}
END_TEST

START_TEST(test_classify_own_output)
{
    /* Every header we build is classified as ours (and would be removed if
       it came in from outside). */
    const struct build_row *row = &build_rows[_i];
    char *value = build_value(row);
    struct fl_buf id;
    fl_buf_init(&id);
    enum fl_authres_class got = fl_authres_classify(value, row->id, &id);
    ck_assert_msg(got == FL_AUTHRES_OURS, "%s: our own header: got %s, want OURS",
                  row->label, class_name(got));
    ck_assert_msg(strcmp(id.data, row->id) == 0, "%s: id_r: got \"%s\", want \"%s\"",
                  row->label, id.data, row->id);
    fl_buf_free(&id);
    free(value);
}
END_TEST

/* --- main ------------------------------------------------------------------- */

static void tmp_remove(void)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/parse.py", tmpdir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/value.txt", tmpdir);
    unlink(path);
    rmdir(tmpdir);
}

static Suite *authres_suite(void)
{
    Suite *s = suite_create("authres");

    TCase *tc = tcase_create("build");
    tcase_add_loop_test(tc, test_build_exact, 0, (int)NELEMS(build_rows));
    tcase_add_loop_test(tc, test_build_invariants, 0, (int)NELEMS(build_rows));
    tcase_add_test(tc, test_build_appends);
    tcase_add_loop_test(tc, test_put_value, 0, (int)NELEMS(value_rows));
    tcase_add_loop_test(tc, test_is_token, 0, (int)NELEMS(token_rows));
    suite_add_tcase(s, tc);

    tc = tcase_create("independent_parser");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_python_authres_available);
    tcase_add_loop_test(tc, test_python_parses_build, 0, (int)NELEMS(build_rows));
    tcase_add_test(tc, test_python_parses_unfolded);
    suite_add_tcase(s, tc);

    tc = tcase_create("classify");
    tcase_add_loop_test(tc, test_classify, 0, (int)NELEMS(class_rows));
    tcase_add_test(tc, test_classify_appends_id);
    tcase_add_loop_test(tc, test_classify_own_output, 0, (int)NELEMS(build_rows));
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/check_authres.XXXXXX");
    if (mkdtemp(tmpdir) == NULL) {
        perror("check_authres: mkdtemp");
        return EXIT_FAILURE;
    }
    SRunner *sr = srunner_create(authres_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    tmp_remove();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
