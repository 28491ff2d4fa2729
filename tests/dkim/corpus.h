/* corpus: the dkimpy-signed DKIM corpus of tests/dkim/make_corpus.py,
   made in a temporary directory at test time, for the unit tests
   (tests/dkim/check_dkim.c) and the daemon tests
   (tests/protocol/check_dkim_daemon.c). */
#ifndef FL_TESTS_DKIM_CORPUS_H
#define FL_TESTS_DKIM_CORPUS_H

#include <stddef.h>

/* Runs make_corpus.py (with $PYTHON3, default /usr/bin/python3, from
   $top_srcdir) into a new directory under $TMPDIR whose path goes to
   dir[0..size).  Returns 0, or -1 (a message on stderr; dir is "" when
   no directory was made). */
int fl_dkim_corpus_make(char *dir, size_t size);
/* The same for another generator: script (relative to $top_srcdir) is
   run with the new directory as its argument (tests/arc/make_vectors.py). */
int fl_test_corpus_make(const char *script, char *dir, size_t size);
/* Removes dir unless $FL_DNSD_KEEP is set; accepts "". */
void fl_dkim_corpus_remove(const char *dir);
/* The zone list for fl_dnsd_start: dns.example plus the corpus zones. */
void fl_dkim_corpus_zones(const char *dir, char *out, size_t size);
/* The message dir/msgs/name.eml, NUL-terminated (malloc'd), or NULL. */
char *fl_dkim_corpus_read(const char *dir, const char *name, size_t *len_r);

#endif
