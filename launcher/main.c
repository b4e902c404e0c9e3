/* launcher - starts and supervises a simulation; for now only the `pow`
 * subcommand exists (the simulation comes with its own issue). */
#include <stdio.h>
#include <string.h>

#include "pow_cmd.h"

#define LAUNCHER_VERSION "0.1.0"

static void usage(FILE *f)
{
    fputs("usage: launcher pow --header HEX [--start N] [--count N]\n"
          "                    [--bits HEX | --difficulty N] [--threads N]\n"
          "                    [--impl auto|avx512|avx2|shani|generic|openssl|cuda] [--use-gpu]\n"
          "       launcher --version | --help\n"
          "`launcher pow --help` explains the search.\n", f);
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "pow") == 0)
        return pow_cmd_main(argc - 1, argv + 1);
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("launcher %s\n", LAUNCHER_VERSION);
        return 0;
    }
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "launcher: the simulation is not built yet; available subcommands: pow\n");
    return 2;
}
