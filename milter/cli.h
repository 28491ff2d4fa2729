/* cli: command-line manners shared by faultline and faultlinectl.  Every
   message starts with the program's name alone ("faultlinectl: ..."), not
   with the path it was started by; getopt's own messages (which use
   argv[0]) are turned off (opterr = 0) and replaced by fl_cli_bad_option.
   Single-threaded (getopt's globals). */
#ifndef FL_MILTER_CLI_H
#define FL_MILTER_CLI_H

/* Prints "PREFIX: unknown option -x", "PREFIX: unknown option --xyz" or
   "PREFIX: option -c needs a value" to stderr, for getopt's '?' and ':'
   answers (opt).  argv is the vector getopt scanned. */
void fl_cli_bad_option(const char *prefix, int opt, char **argv);

#endif
