/* cli: see cli.h. */
#include "milter/cli.h"

#include <stdio.h>
#include <unistd.h>

void fl_cli_bad_option(const char *prefix, int opt, char **argv)
{
    /* optind is past the offending word for a long option or the last
       letter of a cluster; optopt is 0 for an unknown long option. */
    const char *word = optind > 0 ? argv[optind - 1] : "";
    int is_long = word[0] == '-' && word[1] == '-';
    int len = 0;
    while (word[len] != '\0' && word[len] != '=')
        len++;
    if (opt == ':' && is_long)
        fprintf(stderr, "%s: option %.*s needs a value\n", prefix, len, word);
    else if (opt == ':')
        fprintf(stderr, "%s: option -%c needs a value\n", prefix, optopt);
    else if (is_long && optopt != 0) /* a known one given =VALUE */
        fprintf(stderr, "%s: option %.*s takes no value\n", prefix, len, word);
    else if (is_long)
        fprintf(stderr, "%s: unknown option %.*s\n", prefix, len, word);
    else
        fprintf(stderr, "%s: unknown option -%c\n", prefix, optopt);
}
