/* check_readahead: unit tests for milter/readahead, the read-ahead buffer
   under libmilter's read(2)/poll(2) on the MTA's sockets.

   Over real socketpairs: a registered socket's small reads are served from
   one read(2) that emptied the kernel's buffer (FIONREAD 0), in order, for
   any mix of read sizes; poll(2) reports buffered data at once, alone and
   in a set; big reads go straight to the socket; end of file comes after
   the buffered bytes; close(2) forgets the socket; a descriptor nobody
   registered is passed through untouched.  Run by `make check`. */
#include "milter/readahead.h"

#include <check.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static int sv[2]; /* sv[0]: the milter's end (registered), sv[1]: the MTA's */

static void setup(void)
{
    fl_readahead_init();
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    fl_readahead_add(sv[0], false);
}

static void teardown(void)
{
    close(sv[0]);
    close(sv[1]);
}

/* Bytes the kernel still holds for fd. */
static int kernel_pending(int fd)
{
    int n = -1;
    ck_assert_int_eq(ioctl(fd, FIONREAD, &n), 0);
    return n;
}

static void send_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        ck_assert_int_gt(w, 0);
        c += w;
        n -= (size_t)w;
    }
}

START_TEST(test_small_reads_share_one_syscall)
{
    /* three milter commands written back to back, as with SMFIP_NR_* */
    static const char cmds[] = "\0\0\0\x05Lab\0c\0\0\0\0\x01N\0\0\0\x01T";
    send_all(sv[1], cmds, sizeof(cmds) - 1);
    char head[5];
    ck_assert_int_eq(read(sv[0], head, 5), 5);
    ck_assert_mem_eq(head, cmds, 5);
    ck_assert_int_eq(kernel_pending(sv[0]), 0); /* the one read took it all */
    ck_assert_uint_eq(fl_readahead_pending(sv[0]), sizeof(cmds) - 1 - 5);
    char rest[64];
    size_t got = 0;
    while (got < sizeof(cmds) - 1 - 5) {
        ssize_t r = read(sv[0], rest + got, 4);
        ck_assert_int_gt(r, 0);
        got += (size_t)r;
    }
    ck_assert_mem_eq(rest, cmds + 5, got);
    ck_assert_uint_eq(fl_readahead_pending(sv[0]), 0);
}
END_TEST

START_TEST(test_poll_sees_buffered_data)
{
    send_all(sv[1], "0123456789", 10);
    char c[3];
    ck_assert_int_eq(read(sv[0], c, 3), 3);
    /* nothing left in the kernel: only the buffer makes it readable */
    ck_assert_int_eq(kernel_pending(sv[0]), 0);
    struct pollfd one = {.fd = sv[0], .events = POLLIN | POLLPRI};
    ck_assert_int_eq(poll(&one, 1, 5000), 1);
    ck_assert_int_eq(one.revents, POLLIN);
    /* in a set with an idle descriptor: only the buffered one is ready */
    int idle[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, idle), 0);
    struct pollfd set[2] = {{.fd = idle[0], .events = POLLIN}, {.fd = sv[0], .events = POLLIN}};
    ck_assert_int_eq(poll(set, 2, -1), 1);
    ck_assert_int_eq(set[0].revents, 0);
    ck_assert_int_eq(set[1].revents, POLLIN);
    /* asked for writability only, it goes to the kernel */
    struct pollfd out = {.fd = sv[0], .events = POLLOUT};
    ck_assert_int_eq(poll(&out, 1, 0), 1);
    ck_assert_int_eq(out.revents, POLLOUT);
    /* drained: poll waits on the kernel again (and times out) */
    char r[7];
    ck_assert_int_eq(read(sv[0], r, sizeof(r)), 7);
    ck_assert_mem_eq(r, "3456789", 7);
    one.revents = 0;
    ck_assert_int_eq(poll(&one, 1, 20), 0);
    close(idle[0]);
    close(idle[1]);
}
END_TEST

START_TEST(test_big_read_goes_straight)
{
    static char big[FL_READAHEAD_SIZE * 2];
    memset(big, 'x', sizeof(big));
    send_all(sv[1], big, 1000);
    /* a read as big as the buffer, nothing buffered: straight to the socket */
    char *into = malloc(FL_READAHEAD_SIZE);
    ck_assert_int_eq(read(sv[0], into, FL_READAHEAD_SIZE), 1000);
    ck_assert_uint_eq(fl_readahead_pending(sv[0]), 0);
    /* with bytes buffered, a big read gets those first (a short read) */
    send_all(sv[1], "abcdef", 6);
    char two[2];
    ck_assert_int_eq(read(sv[0], two, 2), 2);
    ck_assert_int_eq(read(sv[0], into, FL_READAHEAD_SIZE), 4);
    ck_assert_mem_eq(into, "cdef", 4);
    free(into);
}
END_TEST

START_TEST(test_stream_survives_any_read_sizes)
{
    enum { TOTAL = 200000 };
    unsigned char *msg = malloc(TOTAL), *back = malloc(TOTAL);
    for (size_t i = 0; i < TOTAL; i++)
        msg[i] = (unsigned char)(i * 131 + i / 251);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) { /* the MTA, in bursts */
        for (size_t off = 0; off < TOTAL;) {
            size_t n = 1 + (off * 7919) % 9000;
            n = n > TOTAL - off ? TOTAL - off : n;
            send_all(sv[1], msg + off, n);
            off += n;
        }
        _exit(0);
    }
    uint32_t seed = 12345;
    size_t got = 0;
    while (got < TOTAL) {
        seed = seed * 1103515245u + 12345u;
        size_t want = seed % 5 == 0 ? 20000 : 1 + (seed >> 8) % 300;
        want = want > TOTAL - got ? TOTAL - got : want;
        struct pollfd p = {.fd = sv[0], .events = POLLIN};
        ck_assert_int_eq(poll(&p, 1, 5000), 1);
        ssize_t r = read(sv[0], back + got, want);
        ck_assert_int_gt(r, 0);
        got += (size_t)r;
    }
    ck_assert_int_eq(memcmp(msg, back, TOTAL), 0);
    free(msg);
    free(back);
}
END_TEST

START_TEST(test_eof_after_buffered_bytes)
{
    send_all(sv[1], "0123456789", 10);
    close(sv[1]);
    sv[1] = -1;
    char b[100];
    ck_assert_int_eq(read(sv[0], b, 3), 3);
    ck_assert_int_eq(read(sv[0], b, 100), 7);
    ck_assert_mem_eq(b, "3456789", 7);
    ck_assert_int_eq(read(sv[0], b, 100), 0);
    ck_assert_int_eq(read(sv[0], b, 1), 0);
}
END_TEST

START_TEST(test_close_forgets_the_socket)
{
    send_all(sv[1], "0123456789", 10);
    char b[4];
    ck_assert_int_eq(read(sv[0], b, 2), 2);
    int fd = sv[0];
    ck_assert_int_eq(close(fd), 0);
    /* the number comes back for a socket nobody registered */
    int other[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, other), 0);
    int reused = other[0] == fd ? other[0] : other[1] == fd ? other[1] : -1;
    ck_assert_int_ge(reused, 0);
    ck_assert_uint_eq(fl_readahead_pending(reused), 0);
    int peer = reused == other[0] ? other[1] : other[0];
    send_all(peer, "abcdef", 6);
    ck_assert_int_eq(read(reused, b, 2), 2);
    ck_assert_int_eq(kernel_pending(reused), 4); /* passed through */
    close(other[0]);
    close(other[1]);
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
}
END_TEST

START_TEST(test_unregistered_passes_through)
{
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    send_all(p[1], "0123456789", 10);
    char b[3];
    ck_assert_int_eq(read(p[0], b, 3), 3);
    ck_assert_int_eq(kernel_pending(p[0]), 7);
    ck_assert_uint_eq(fl_readahead_pending(p[0]), 0);
    ck_assert_int_eq(read(-1, b, 1), -1);
    close(p[0]);
    close(p[1]);
}
END_TEST

static Suite *readahead_suite(void)
{
    Suite *s = suite_create("readahead");
    TCase *tc = tcase_create("readahead");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_small_reads_share_one_syscall);
    tcase_add_test(tc, test_poll_sees_buffered_data);
    tcase_add_test(tc, test_big_read_goes_straight);
    tcase_add_test(tc, test_stream_survives_any_read_sizes);
    tcase_add_test(tc, test_eof_after_buffered_bytes);
    tcase_add_test(tc, test_close_forgets_the_socket);
    tcase_add_test(tc, test_unregistered_passes_through);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(readahead_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
