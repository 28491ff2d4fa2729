/* faultlinectl: the admin tool.  Reads the daemon's configuration (-c FILE,
   through fl_config_load, so it sees the same store and policy) and runs
   one command against the daemon's state.  Commands today: greylist
   (milter/ctl_greylist.c).  Safe while the daemon runs.  Single-threaded. */
#include "config.h"

#include "milter/ctl.h"
#include "lib/log.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_CONFIG "/etc/faultline/faultline.conf"

void fl_ctl_usage(FILE *out)
{
    fprintf(out,
            "usage: faultlinectl [-c FILE] greylist COMMAND [OPTIONS]\n"
            "       faultlinectl -h | -V\n"
            "\n"
            "  -c FILE  configuration file (default %s if it exists, else built-in\n"
            "           defaults); the greylist store is the one the daemon uses\n"
            "\n"
            "greylist commands:\n"
            "  list [--client IP|NET] [--sender ADDR] [--recipient ADDR] [--state STATE] [--all]\n"
            "      one line per triplet and client network, key=value fields; --all adds the\n"
            "      sender/recipient pairs.  Filters: --client matches networks inside NET (an\n"
            "      IP means its greylisting network); --sender/--recipient match the\n"
            "      normalised address, or every address of a domain given as @domain;\n"
            "      STATE is pending, passed, never-retried (deferred, no retry within\n"
            "      greylist_retry_window; kept one day), expired, counting, auto-allowed\n"
            "      or admin-allowed\n"
            "  allow --client IP|NET [--sender ADDR --recipient ADDR] [--for DURATION]\n"
            "      never greylist a client network, or accept one triplet; until removed,\n"
            "      or for DURATION (e.g. 30d, 12h, 90m, 600s)\n"
            "  remove --client IP|NET [--sender ADDR --recipient ADDR]\n"
            "      forget a client network (its record and every triplet from it), or one\n"
            "      triplet: it is greylisted afresh\n"
            "  stats\n"
            "      counts of triplets by state, client networks, and the hit rates\n"
            "  expire\n"
            "      remove every record past its expiry now (the daemon's sweep keeps them\n"
            "      one more day)\n"
            "\n"
            "exit status:\n"
            "  0   success\n"
            "  1   remove: nothing matched\n"
            "  64  usage error\n"
            "  65  bad argument value (address, network, duration, state)\n"
            "  69  the store cannot be opened or used (LMDB store missing: the daemon\n"
            "      creates it; Redis unreachable)\n"
            "  78  configuration file has errors\n",
            DEFAULT_CONFIG);
}

int main(int argc, char **argv)
{
    const char *path = DEFAULT_CONFIG;
    bool explicit_path = false;
    int opt;
    /* "+": stop at the first command word; its options are its own. */
    while ((opt = getopt(argc, argv, "+c:hV")) != -1) {
        switch (opt) {
        case 'c':
            path = optarg;
            explicit_path = true;
            break;
        case 'h':
            fl_ctl_usage(stdout);
            return FL_CTL_OK;
        case 'V':
            printf("faultlinectl %s\n", PACKAGE_VERSION);
            return FL_CTL_OK;
        default:
            fl_ctl_usage(stderr);
            return FL_CTL_USAGE;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "faultlinectl: no command given\n");
        fl_ctl_usage(stderr);
        return FL_CTL_USAGE;
    }
    const char *command = argv[optind];
    if (strcmp(command, "greylist") != 0) {
        fprintf(stderr, "faultlinectl: unknown command \"%s\"\n", command);
        fl_ctl_usage(stderr);
        return FL_CTL_USAGE;
    }
    if (optind + 1 >= argc) {
        fprintf(stderr, "faultlinectl: greylist: no subcommand given\n");
        fl_ctl_usage(stderr);
        return FL_CTL_USAGE;
    }
    fl_log_open("faultlinectl", "stderr", FL_LOG_WARN);
    if (!explicit_path && access(DEFAULT_CONFIG, F_OK) != 0)
        path = NULL; /* like the daemon: no file, built-in defaults */
    struct fl_config *cfg;
    struct fl_buf errors;
    fl_buf_init(&errors);
    if (fl_config_load(path, &cfg, &errors) < 0) {
        fputs(errors.data, stderr);
        fl_buf_free(&errors);
        return FL_CTL_CONFIG;
    }
    fl_buf_free(&errors);
    int rc = fl_ctl_greylist(cfg, argc - optind - 1, argv + optind + 1);
    fl_config_unref(&cfg);
    return rc;
}
