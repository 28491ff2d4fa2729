/* corpus: see corpus.h. */
#include "tests/dkim/corpus.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int fl_dkim_corpus_make(char *dir, size_t size)
{
    return fl_test_corpus_make("tests/dkim/make_corpus.py", dir, size);
}

int fl_test_corpus_make(const char *script, char *dir, size_t size)
{
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(dir, size, "%s/fl-corpus-XXXXXX", tmp);
    if (mkdtemp(dir) == NULL) {
        perror("dkim corpus: mkdtemp");
        dir[0] = '\0';
        return -1;
    }
    const char *py = getenv("PYTHON3") ? getenv("PYTHON3") : "/usr/bin/python3";
    const char *src = getenv("top_srcdir") ? getenv("top_srcdir") : ".";
    char cmd[3 * PATH_MAX];
    snprintf(cmd, sizeof(cmd), "'%s' '%s/%s' '%s'", py, src, script, dir);
    int rc = system(cmd);
    if (rc != 0) {
        fprintf(stderr, "corpus: %s failed (%d): %s\n", script, rc, cmd);
        return -1;
    }
    return 0;
}

void fl_dkim_corpus_remove(const char *dir)
{
    if (dir[0] == '\0' || getenv("FL_DNSD_KEEP") != NULL)
        return;
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "dkim corpus: could not remove %s\n", dir);
}

void fl_dkim_corpus_zones(const char *dir, char *out, size_t size)
{
    snprintf(out, size, "dns.example.zone %s/zones", dir);
}

char *fl_dkim_corpus_read(const char *dir, const char *name, size_t *len_r)
{
    char path[2 * PATH_MAX];
    snprintf(path, sizeof(path), "%s/msgs/%s.eml", dir, name);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *data = malloc((size_t)n + 1);
    if (data == NULL || fread(data, 1, (size_t)n, f) != (size_t)n) {
        free(data);
        fclose(f);
        return NULL;
    }
    data[n] = '\0';
    fclose(f);
    *len_r = (size_t)n;
    return data;
}
