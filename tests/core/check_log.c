/* check_log: unit tests for lib/core/log's stderr lines.

   Each line names the process that wrote it: the id is asked once, and a
   child made by fork() (the daemon detaching) writes its own, not its
   parent's.  Control characters cannot split a line.  Run by
   `make check`. */
#include "lib/core/log.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Runs fn with stderr going to a file; returns what was written. */
static char *capture(void (*fn)(void))
{
    FILE *f = tmpfile();
    ck_assert_ptr_nonnull(f);
    fflush(stderr);
    int saved = dup(2);
    dup2(fileno(f), 2);
    fn();
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    long n = ftell(f);
    char *text = calloc(1, (size_t)n + 1);
    rewind(f);
    ck_assert_uint_eq(fread(text, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    return text;
}

static void parent_then_child(void)
{
    fl_info("from the parent");
    pid_t pid = fork();
    if (pid == 0) {
        fl_info("from the child");
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    fl_info("parent again %ld", (long)pid);
}

START_TEST(test_lines_name_their_process_across_fork)
{
    char *text = capture(parent_then_child);
    char want[64];
    snprintf(want, sizeof(want), "faultline[%ld]: info: from the parent\n", (long)getpid());
    ck_assert_ptr_nonnull(strstr(text, want));
    const char *again = strstr(text, "parent again ");
    ck_assert_ptr_nonnull(again);
    long child = strtol(again + strlen("parent again "), NULL, 10);
    ck_assert_int_ne(child, (long)getpid());
    snprintf(want, sizeof(want), "faultline[%ld]: info: from the child\n", child);
    ck_assert_msg(strstr(text, want) != NULL, "no line of the child's own: %s", text);
    snprintf(want, sizeof(want), "faultline[%ld]: info: parent again", (long)getpid());
    ck_assert_ptr_nonnull(strstr(text, want));
    free(text);
}
END_TEST

static void control_chars(void)
{
    fl_info("a\nb\rc%s", "\x1b[1m");
}

START_TEST(test_control_characters_cannot_split_a_line)
{
    char *text = capture(control_chars);
    ck_assert_ptr_nonnull(strstr(text, ": info: a?b?c?[1m\n"));
    ck_assert_int_eq(strchr(text, '\n') - text, (long)strlen(text) - 1);
    free(text);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("log");
    TCase *tc = tcase_create("stderr");
    tcase_add_test(tc, test_lines_name_their_process_across_fork);
    tcase_add_test(tc, test_control_characters_cannot_split_a_line);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    /* in this process: the test forks a child of its own, which Check's
       per-test process would get in the way of */
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
