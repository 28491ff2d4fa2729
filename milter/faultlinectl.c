/* faultlinectl: the admin tool.  Reads the daemon's configuration (-c FILE,
   through fl_config_load, so it sees the same store and policy) and runs
   one command against the daemon's state.  Commands today: greylist
   (milter/ctl_greylist.c).  Safe while the daemon runs.  Single-threaded. */
#include "config.h"

#include "milter/cli.h"
#include "milter/ctl.h"
#include "lib/core/log.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_CONFIG "/etc/faultline/faultline.conf"

/* clang-format off */
void fl_ctl_usage(FILE *out)
{
    fprintf(out,
        "usage: faultlinectl [-c FILE] greylist COMMAND [OPTIONS]\n"
        "       faultlinectl [-c FILE] stats\n"
        "       faultlinectl [-c FILE] why [OPTIONS] ID [VERDICT-LOG...]\n"
        "       faultlinectl [-c FILE] report [OPTIONS] [VERDICT-LOG...]\n"
        "       faultlinectl [-c FILE] dmarc-report [OPTIONS] [VERDICT-LOG...]\n"
        "       faultlinectl -h | --help | -V | --version\n"
        "\n"
        "  -c FILE        configuration file (default %s\n"
        "                 if it exists, else built-in defaults): the daemon's, so\n"
        "                 the stats file and greylist store are the daemon's\n"
        "  -V, --version  print the version and exit\n"
        "  -h, --help     print this help and exit\n"
        "\n"
        "commands:\n"
        "  stats\n"
        "      the daemon's counters from its stats_file (rewritten every\n"
        "      stats_interval): sessions open, DNS queries by status and latency,\n"
        "      and per DNS list its queries, listings, error codes, timeouts and\n"
        "      failures\n"
        "  why [--json] [--since T] [--until T] [--max N] ID [VERDICT-LOG...]\n"
        "      one message explained from the verdict log: every check, whose\n"
        "      side has to act and what to fix.  ID: a queue id, a Message-ID\n"
        "      (<...>) or an address (faultlinectl why -h for the details)\n"
        "  report [--json] [--since T] [--until T] [--top N] [VERDICT-LOG...]\n"
        "      many messages from the verdict logs of one or several MX hosts\n"
        "      (.gz too): faults by sender domain, our own side's health, DNS\n"
        "      list and greylist effectiveness (faultlinectl report -h)\n"
        "  dmarc-report [--since T --until T] [--out DIR] [--send | --dry-run]\n"
        "               [OPTIONS] [VERDICT-LOG...]\n"
        "      one RFC 9990 DMARC aggregate report per policy domain with rua=,\n"
        "      from the verdict logs; written to report_dir, or mailed with\n"
        "      --send (faultlinectl dmarc-report -h for the options)\n"
        "  greylist COMMAND [OPTIONS]\n"
        "      the greylist store; COMMAND is one of:\n"
        "\n"
        "greylist commands:\n"
        "  list [--client IP|NET] [--sender ADDR] [--recipient ADDR]\n"
        "       [--state STATE] [--all]\n"
        "      one line per triplet and client network, key=value fields; --all\n"
        "      adds the sender/recipient pairs.  --client matches the networks\n"
        "      inside NET (an IP stands for its greylisting network);\n"
        "      --sender/--recipient match the normalised address, or a whole\n"
        "      domain given as @domain.  STATE: pending, passed, never-retried\n"
        "      (deferred and not retried within greylist_retry_window; listed for\n"
        "      a day), expired, counting, auto-allowed, admin-allowed\n"
        "  allow --client IP|NET [--sender ADDR --recipient ADDR] [--for DURATION]\n"
        "      never greylist a client network, or accept one triplet; until\n"
        "      removed, or for DURATION (30d, 12h, 90m, 600s)\n"
        "  remove --client IP|NET [--sender ADDR --recipient ADDR]\n"
        "      forget a client network (its record and every triplet from it),\n"
        "      or one triplet: it is greylisted afresh\n"
        "  stats\n"
        "      triplets by state, client networks, hit and retry rates\n"
        "  expire\n"
        "      remove every record past its expiry now (the daemon's sweep keeps\n"
        "      them one more day)\n"
        "\n"
        "exit status:\n"
        "  0   success\n"
        "  1   remove: nothing matched; why: no such message\n"
        "  64  usage error\n"
        "  65  bad argument value (address, network, duration, state)\n"
        "  66  why, report, dmarc-report: no verdict log readable\n"
        "  69  the store cannot be opened or used (an LMDB store is created by\n"
        "      the daemon; Redis unreachable)\n"
        "  73, 75  dmarc-report: a report not written, a delivery failed\n"
        "  78  the configuration file has errors\n",
        DEFAULT_CONFIG);
}
/* clang-format on */

void fl_ctl_brief_usage(void)
{
    fprintf(stderr,
            "usage: faultlinectl [-c FILE] stats | why ID | report | dmarc-report | "
            "greylist list|allow|remove|stats|expire [OPTIONS]\n"
            "       (faultlinectl -h for the options and exit statuses)\n");
}

int main(int argc, char **argv)
{
    const char *path = DEFAULT_CONFIG;
    bool explicit_path = false;
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    int opt;
    opterr = 0; /* our messages: "faultlinectl: ...", whatever argv[0] is */
    /* "+": stop at the first command word; its options are its own. */
    while ((opt = getopt_long(argc, argv, "+:c:hV", longopts, NULL)) != -1) {
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
            fl_cli_bad_option("faultlinectl", opt, argv);
            fl_ctl_brief_usage();
            return FL_CTL_USAGE;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "faultlinectl: no command given\n");
        fl_ctl_brief_usage();
        return FL_CTL_USAGE;
    }
    const char *command = argv[optind];
    bool stats = strcmp(command, "stats") == 0;
    bool why = strcmp(command, "why") == 0, report = strcmp(command, "report") == 0;
    report = report || strcmp(command, "dmarc-report") == 0; /* milter/ctl_dmarc_report.c */
    if (!stats && !why && !report && strcmp(command, "greylist") != 0) {
        fprintf(stderr, "faultlinectl: unknown command \"%s\"\n", command);
        fl_ctl_brief_usage();
        return FL_CTL_USAGE;
    }
    if (!stats && !why && !report && optind + 1 >= argc) {
        fprintf(stderr, "faultlinectl: greylist: no subcommand given\n");
        fl_ctl_brief_usage();
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
    int rc = why      ? fl_ctl_why(cfg, argc - optind, argv + optind)
             : report ? (command[0] == 'd' ? fl_ctl_dmarc_report : fl_ctl_report)(
                            cfg, argc - optind, argv + optind)
             : stats  ? fl_ctl_stats(cfg, argc - optind - 1, argv + optind + 1)
                   : fl_ctl_greylist(cfg, argc - optind - 1, argv + optind + 1);
    fl_config_unref(&cfg);
    return rc;
}
