/*
 * role.h - the three kinds of node: one table of numbers and names, used by
 * the daemons (HELLO.role, stats, --role) and by the launcher (nodes.tsv,
 * run.json, the daemons' command lines).  The numbers travel in HELLO, so
 * they never change.
 */
#ifndef SG_ROLE_H
#define SG_ROLE_H

enum role {
    ROLE_PROSUMER = 1,
    ROLE_CONSUMER = 2,
    ROLE_OPERATOR = 3,
};

/* "prosumer", "consumer", "operator"; "?" otherwise. */
const char *role_name(int role);
/* Those names (exact case) to the enum; 0 or SG_EINVAL. */
int role_parse(const char *s, int *role);

#endif
