/* Unit tests for the scenario file (launcher/scenario.c) and the check of
 * signals to remote daemons (launcher/scen_run.c). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/err.h"
#include "launcher/scen_run.h"
#include "launcher/scenario.h"
#include "testutil.h"

/* A run of the launcher's naming: op, p1..p3, c1..c5. */
static const char *const names[] = { "op", "p1", "p2", "p3", "c1", "c2", "c3", "c4", "c5" };
#define NN (sizeof names / sizeof names[0])

static scen_nodes nodes(uint64_t seed)
{
    return (scen_nodes){ names, NN, seed, 300000 };
}

static int sel_count(const scen_event *e, uint8_t v)
{
    int n = 0;
    for (size_t i = 0; i < NN; i++)
        n += e->sel[i] == v;
    return n;
}

START_TEST(test_parse_every_action)
{
    scenario s;
    char err[512] = "";
    scen_nodes nd = nodes(1);
    const char *text =
        "# an experiment\n"
        "at 30s   kill p2            # SIGKILL\n"
        "at 40s   stop c3\n"
        "at 60s   cont c3\n"
        "at 45s   partition p1,p2,c1 | *     # two groups\n"
        "at 75s   heal\n"
        "at 50s   hashrate p3 20M\n"
        "at 20s   mining off c*\n"
        "at 1.5m  adversary p3 selfish\r\n"
        "\n"
        "   \t\n"
        "at 500ms mining on c1,c2\n";
    ck_assert_int_eq(scen_parse(&s, "f.txt", text, &nd, err, sizeof err), 0);
    ck_assert_uint_eq(s.n, 9);
    /* Sorted by time. */
    ck_assert_int_eq(s.ev[0].at_ms, 500);
    ck_assert_int_eq(s.ev[0].what, SCEN_MINING);
    ck_assert_int_eq(s.ev[0].on, 1);
    ck_assert_int_eq(sel_count(&s.ev[0], 1), 2);
    ck_assert_int_eq(s.ev[1].at_ms, 20000);
    ck_assert_int_eq(s.ev[1].on, 0);
    ck_assert_int_eq(sel_count(&s.ev[1], 1), 5);       /* c1..c5 */
    ck_assert_str_eq(s.ev[1].text, "c*");
    ck_assert_int_eq(s.ev[2].what, SCEN_KILL);
    ck_assert_int_eq(s.ev[2].line, 2);
    ck_assert_int_eq(s.ev[2].sel[2], 1);
    ck_assert_int_eq(sel_count(&s.ev[2], 1), 1);
    ck_assert_int_eq(s.ev[3].what, SCEN_STOP);
    const scen_event *p = &s.ev[4];
    ck_assert_int_eq(p->what, SCEN_PARTITION);
    ck_assert_int_eq(p->at_ms, 45000);
    ck_assert_int_eq(p->groups, 2);
    ck_assert_int_eq(p->sel[1], 1);
    ck_assert_int_eq(p->sel[2], 1);
    ck_assert_int_eq(p->sel[4], 1);
    ck_assert_int_eq(sel_count(p, 2), 6);               /* '*': everyone else */
    ck_assert_int_eq(sel_count(p, 0), 0);
    ck_assert_int_eq(s.ev[5].what, SCEN_HASHRATE);
    ck_assert_uint_eq(s.ev[5].rate, 20000000);
    ck_assert_str_eq(s.ev[5].text, "p3");
    ck_assert_int_eq(s.ev[6].what, SCEN_CONT);
    ck_assert_int_eq(s.ev[7].what, SCEN_HEAL);
    ck_assert_int_eq(s.ev[8].what, SCEN_ADVERSARY);
    ck_assert_int_eq(s.ev[8].at_ms, 90000);
    ck_assert_str_eq(s.ev[8].role, "selfish");
    ck_assert_int_eq(s.ev[8].sel[3], 1);
    ck_assert_str_eq(scen_what_name(SCEN_PARTITION), "partition");
    scen_free(&s);
    ck_assert_ptr_null(s.ev);
}
END_TEST

START_TEST(test_partition_groups)
{
    scenario s;
    char err[512] = "";
    scen_nodes nd = nodes(1);
    /* Three groups, nodes in none stay linked to all. */
    ck_assert_int_eq(scen_parse(&s, "f", "at 1s partition op | p1,p2 | c[12]\n", &nd, err,
                                sizeof err), 0);
    ck_assert_int_eq(s.ev[0].groups, 3);
    ck_assert_int_eq(s.ev[0].sel[0], 1);
    ck_assert_int_eq(s.ev[0].sel[1], 2);
    ck_assert_int_eq(s.ev[0].sel[5], 3);
    ck_assert_int_eq(sel_count(&s.ev[0], 0), 4);        /* p3, c3..c5 */
    scen_free(&s);
    /* '*' first. */
    ck_assert_int_eq(scen_parse(&s, "f", "at 1s partition * | op\n", &nd, err, sizeof err), 0);
    ck_assert_int_eq(s.ev[0].sel[0], 2);
    ck_assert_int_eq(sel_count(&s.ev[0], 1), 8);
    scen_free(&s);
}
END_TEST

/* random: picks one of the matches from the seed and the line: the same
 * seed picks the same node, and over seeds more than one node is picked. */
START_TEST(test_random_is_seeded)
{
    scenario a, b;
    char err[512] = "";
    int seen[NN] = { 0 }, kinds = 0;
    for (uint64_t seed = 1; seed <= 40; seed++) {
        scen_nodes nd = nodes(seed);
        ck_assert_int_eq(scen_parse(&a, "f", "at 1s kill random:c*\n", &nd, err, sizeof err), 0);
        ck_assert_int_eq(scen_parse(&b, "f", "at 1s kill random:c*\n", &nd, err, sizeof err), 0);
        ck_assert_int_eq(sel_count(&a.ev[0], 1), 1);
        ck_assert_mem_eq(a.ev[0].sel, b.ev[0].sel, NN);
        for (size_t i = 0; i < NN; i++)
            if (a.ev[0].sel[i]) {
                ck_assert_msg(names[i][0] == 'c', "picked %s", names[i]);
                kinds += !seen[i]++;
            }
        scen_free(&a);
        scen_free(&b);
    }
    ck_assert_int_gt(kinds, 1);
}
END_TEST

static const struct {
    const char *text;
    const char *want;          /* in the message */
} bad_cases[] = {
    { "kill p2\n", "line 1: a line starts with 'at TIME'" },
    { "# ok\nat 30 kill p2\n", "line 2: '30' is not a time; write 30s" },
    { "at -1s kill p2\n", "'-1s' is not a time" },
    { "at 30s\n", "no action after the time" },
    { "at 30s explode p2\n", "unknown action 'explode'; use kill, stop" },
    { "at 30s kill\n", "no nodes named" },
    { "at 30s kill p9\n", "no node matches 'p9'" },
    { "at 30s kill random:x*\n", "no node matches 'x*'" },
    { "at 30s kill p1,,p2\n", "empty node name" },
    { "at 30s partition p1,p2\n", "at least two groups" },
    { "at 30s partition p1 | p1,p2\n", "node p1 is in two groups" },
    { "at 30s partition * | p1 | *\n", "'*' in two groups" },
    { "at 30s partition * | *\n", "'*' in two groups" },
    { "at 30s partition op,p*,c* | *\n", "group 2 of the partition has no node" },
    { "at 30s heal p1\n", "heal takes no arguments" },
    { "at 30s hashrate p3\n", "expected hashrate NODES RATE" },
    { "at 30s hashrate p3 fast\n", "'fast' is not a rate" },
    { "at 30s mining p1\n", "expected 'mining on NODES'" },
    { "at 30s mining on\n", "no nodes named" },
    { "at 30s adversary p3\n", "expected adversary NODE ROLE" },
    { "at 30s adversary p3 Sel!fish\n", "not a role name" },
    { "at 30s adversary p3 bribe\n", "not a role name; give one of selfish" },
    { "at 300s kill p1\n", "not before the run's end (--duration 300 s)" },
};

START_TEST(test_parse_bad)
{
    scenario s;
    char err[512] = "";
    scen_nodes nd = nodes(1);
    ck_assert_int_eq(scen_parse(&s, "exp.txt", bad_cases[_i].text, &nd, err, sizeof err),
                     SG_EINVAL);
    ck_assert_msg(strstr(err, bad_cases[_i].want) != NULL, "case %d: got '%s'", _i, err);
    ck_assert_msg(strncmp(err, "scenario exp.txt line ", 22) == 0, "no file/line: %s", err);
    ck_assert_ptr_null(s.ev);
    ck_assert_uint_eq(s.n, 0);
}
END_TEST

START_TEST(test_load_file_and_limits)
{
    scenario s;
    char err[512] = "", path[600];
    scen_nodes nd = nodes(1);
    char *dir = tu_mkdtemp();
    ck_assert_ptr_nonnull(dir);
    snprintf(path, sizeof path, "%s/s.txt", dir);
    ck_assert_int_eq(scen_load(&s, path, &nd, err, sizeof err), SG_EINVAL);
    ck_assert_msg(strstr(err, "cannot read --scenario") != NULL, "%s", err);
    FILE *f = fopen(path, "w");
    fputs("at 2s stop p1\nat 1s kill c1\n", f);
    fclose(f);
    ck_assert_int_eq(scen_load(&s, path, &nd, err, sizeof err), 0);
    ck_assert_uint_eq(s.n, 2);
    ck_assert_int_eq(s.ev[0].line, 2);
    scen_free(&s);
    /* No end: any time goes. */
    nd.duration_ms = 0;
    ck_assert_int_eq(scen_parse(&s, "f", "at 100m heal\n", &nd, err, sizeof err), 0);
    scen_free(&s);
    tu_rmtree(dir);
}
END_TEST

/* kill/stop/cont of a daemon on another host are refused before the run;
 * control-channel events are fine there. */
START_TEST(test_remote_signals_refused)
{
    scenario s;
    char err[512] = "";
    scen_nodes nd = nodes(1);
    uint8_t remote[NN] = { 0 };
    remote[3] = 1;    /* p3 */
    ck_assert_int_eq(scen_parse(&s, "f", "at 1s partition p3 | *\nat 2s hashrate p3 1M\n"
                                "at 3s kill p1\n", &nd, err, sizeof err), 0);
    ck_assert_int_eq(scen_check_remote(&s, "f", remote, names, err, sizeof err), 0);
    scen_free(&s);
    ck_assert_int_eq(scen_parse(&s, "f", "at 1s heal\nat 3s stop p*\n", &nd, err, sizeof err),
                     0);
    ck_assert_int_eq(scen_check_remote(&s, "f", remote, names, err, sizeof err), SG_EINVAL);
    ck_assert_msg(strstr(err, "line 2: stop p3 is not possible") != NULL, "%s", err);
    scen_free(&s);
}
END_TEST

Suite *launcher_scenario_suite(void)
{
    Suite *s = suite_create("launcher_scenario");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_parse_every_action);
    tcase_add_test(tc, test_partition_groups);
    tcase_add_test(tc, test_random_is_seeded);
    tcase_add_loop_test(tc, test_parse_bad, 0, (int)(sizeof bad_cases / sizeof bad_cases[0]));
    tcase_add_test(tc, test_load_file_and_limits);
    tcase_add_test(tc, test_remote_signals_refused);
    suite_add_tcase(s, tc);
    return s;
}
