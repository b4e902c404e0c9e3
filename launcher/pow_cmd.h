/* pow_cmd.h - `launcher pow`: a one-shot proof-of-work search from the
 * command line, for checking the kernels and timing them on real headers. */
#ifndef LAUNCHER_POW_CMD_H
#define LAUNCHER_POW_CMD_H

/* argv[0] is "pow".  Returns the process exit status: 0 found, 1 not found,
 * 2 bad input (one line on stderr), 3 the search itself failed. */
int pow_cmd_main(int argc, char **argv);

#endif
