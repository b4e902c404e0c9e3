/* Unit tests for the Slurm placement (launcher/slurm.c) and --placement,
 * with stand-ins for scontrol and srun on PATH. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/base/err.h"
#include "launcher/opts.h"
#include "launcher/slurm.h"
#include "testutil.h"

START_TEST(test_expand_cpus)
{
    uint32_t c[6];
    ck_assert_int_eq(slurm_expand_cpus("2(x3),1", c, 4), 0);
    ck_assert_uint_eq(c[0], 2);
    ck_assert_uint_eq(c[2], 2);
    ck_assert_uint_eq(c[3], 1);
    ck_assert_int_eq(slurm_expand_cpus("64", c, 1), 0);
    ck_assert_uint_eq(c[0], 64);
    ck_assert_int_eq(slurm_expand_cpus("1,4(x2),8", c, 4), 0);
    ck_assert_uint_eq(c[1], 4);
    ck_assert_uint_eq(c[3], 8);
    /* The count must match the node list, and the syntax must hold. */
    static const char *const bad[] = { "", "0", "2(x3)", "2(x)", "2(x0)", "2,", ",2", "a",
                                       "2(x2", "2(x2),1,1", "2 ,1" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(slurm_expand_cpus(bad[i], c, 2) ==
                      SG_EINVAL, "'%s' accepted", bad[i]);
    ck_assert_int_eq(slurm_expand_cpus("2(x3),1", c, 5), SG_EINVAL);
}
END_TEST

START_TEST(test_wanted)
{
    slurm_env in = { .job_id = "42", .nodelist = "n[1-2]" }, out = { .job_id = NULL };
    slurm_env empty = { .job_id = "" };
    ck_assert_int_eq(slurm_wanted(NULL, NULL, &in), 1);
    ck_assert_int_eq(slurm_wanted(NULL, "hosts.txt", &in), 0);
    ck_assert_int_eq(slurm_wanted("local", NULL, &in), 0);
    ck_assert_int_eq(slurm_wanted("slurm", NULL, &out), 1);
    ck_assert_int_eq(slurm_wanted(NULL, NULL, &out), 0);
    ck_assert_int_eq(slurm_wanted(NULL, NULL, &empty), 0);
}
END_TEST

/* Writes an executable shell script dir/name. */
static void script(const char *dir, const char *name, const char *body)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "#!/bin/sh\n%s", body);
    fclose(f);
    ck_assert_int_eq(chmod(p, 0755), 0);
}

/* scontrol answering for n1 (NodeAddr localhost) and n2 (NodeAddr $N2). */
static char *fake_slurm(void)
{
    char *dir = tu_mkdtemp(), path[1024];
    script(dir, "scontrol",
           "case \"$*\" in\n"
           "'show hostnames n[1-2]') printf 'n1\\nn2\\n' ;;\n"
           "'-o show node n[1-2]') echo \"NodeName=n1 Arch=x NodeAddr=localhost "
           "NodeHostName=n1 Port=1\"; echo \"NodeName=n2 NodeAddr=${N2:-127.0.0.1} X=1\" ;;\n"
           "*) exit 1 ;;\nesac\n");
    script(dir, "srun", "echo 'srun: error: Unable to create step for job 42: nope' >&2\n"
                        "exit 1\n");
    snprintf(path, sizeof path, "%s:/usr/bin:/bin", dir);
    setenv("PATH", path, 1);
    return dir;
}

START_TEST(test_hosts_from_allocation)
{
    char *dir = fake_slurm(), tmpl[SLURM_TMPL_MAX], err[512];
    host_list hl;
    slurm_env e = { .job_id = "42", .nodelist = "n[1-2]", .cpus_per_node = "4,1" };
    ck_assert_int_eq(slurm_hosts(&e, &hl, tmpl, sizeof tmpl, err, sizeof err), 0);
    ck_assert_uint_eq(hl.n, 2);
    ck_assert_str_eq(hl.h[0].name, "n1");
    ck_assert_str_eq(hl.h[0].addr, "127.0.0.1");
    ck_assert_uint_eq(hl.h[0].slots, 4);
    ck_assert_uint_eq(hl.h[1].slots, 1);
    /* Every node, the launcher's own too, runs its daemons as steps. */
    ck_assert_int_eq(hl.h[0].local, 0);
    ck_assert_int_eq(hl.h[1].local, 0);
    ck_assert_ptr_nonnull(strstr(tmpl, "srun --jobid=42 "));
    ck_assert_ptr_nonnull(strstr(tmpl, "--overlap"));
    ck_assert_ptr_nonnull(strstr(tmpl, "-w {host}"));
    /* A step that cannot start names the node and srun's words. */
    const char *bins[] = { "/bin/sh" };
    ck_assert_int_eq(slurm_check(tmpl, &hl.h[1], bins, 1, err, sizeof err), SG_EIO);
    ck_assert_msg(strstr(err, "slurm node n2: a job step failed to start (exit 1: srun: "
                              "error: Unable to create step for job 42: nope)") != NULL,
                  "%s", err);
    hosts_free(&hl);
    /* One node on loopback among routable ones could not be reached. */
    setenv("N2", "10.1.2.3", 1);
    ck_assert_int_eq(slurm_hosts(&e, &hl, tmpl, sizeof tmpl, err, sizeof err), SG_EINVAL);
    ck_assert_msg(strstr(err, "slurm node n1 resolves to 127.0.0.1") != NULL, "%s", err);
    unsetenv("N2");
    /* CPU counts that do not fit the node list. */
    e.cpus_per_node = "2(x3)";
    ck_assert_int_eq(slurm_hosts(&e, &hl, tmpl, sizeof tmpl, err, sizeof err), SG_EINVAL);
    ck_assert_msg(strstr(err, "SLURM_JOB_CPUS_PER_NODE '2(x3)'") != NULL, "%s", err);
    tu_rmtree(dir);
}
END_TEST

START_TEST(test_errors_name_the_cause)
{
    char tmpl[SLURM_TMPL_MAX], err[512];
    host_list hl;
    slurm_env none = { .job_id = NULL }, e = { .job_id = "42", .nodelist = "n1" };
    ck_assert_int_eq(slurm_hosts(&none, &hl, tmpl, sizeof tmpl, err, sizeof err), SG_EINVAL);
    ck_assert_msg(strstr(err, "not inside a Slurm allocation") != NULL, "%s", err);
    char *dir = tu_mkdtemp();
    setenv("PATH", dir, 1);
    ck_assert_int_eq(slurm_hosts(&e, &hl, tmpl, sizeof tmpl, err, sizeof err), SG_ENOTFOUND);
    ck_assert_msg(strstr(err, "srun not found in PATH") != NULL, "%s", err);
    tu_rmtree(dir);
}
END_TEST

START_TEST(test_placement_option)
{
    static const char *const cases[][5] = {
        { "--placement", "nowhere", NULL, NULL, "--placement expects local, hosts or slurm" },
        { "--placement", "hosts", NULL, NULL, "--placement hosts needs --hosts FILE" },
        { "--hosts", "h.txt", "--placement", "slurm", "--hosts goes with --placement hosts" },
    };
    launcher_opts o;
    char err[256];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *argv[5] = { "launcher" };
        int argc = 1;
        for (int k = 0; k < 4 && cases[i][k]; k++)
            argv[argc++] = (char *)cases[i][k];
        ck_assert_int_eq(launcher_opts_parse(&o, argc, argv, NULL, err, sizeof err), SG_EINVAL);
        ck_assert_msg(strstr(err, cases[i][4]) != NULL, "'%s' lacks '%s'", err, cases[i][4]);
    }
    char *ok[] = { "launcher", "--placement", "slurm" };
    ck_assert_int_eq(launcher_opts_parse(&o, 3, ok, NULL, err, sizeof err), 0);
    ck_assert_str_eq(o.placement, "slurm");
}
END_TEST

Suite *launcher_slurm_suite(void)
{
    Suite *s = suite_create("launcher_slurm");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_expand_cpus);
    tcase_add_test(tc, test_wanted);
    tcase_add_test(tc, test_hosts_from_allocation);
    tcase_add_test(tc, test_errors_name_the_cause);
    tcase_add_test(tc, test_placement_option);
    suite_add_tcase(s, tc);
    return s;
}
