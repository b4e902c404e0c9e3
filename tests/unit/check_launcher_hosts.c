/* Unit tests for the hosts file and the remote shell (launcher/hosts.c). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/base/err.h"
#include "launcher/hosts.h"
#include "testutil.h"

START_TEST(test_parse_fields_and_comments)
{
    host_list hl;
    char err[256] = "";
    const char *text = "# lab machines\n"
                       "alpha\n"
                       "  beta 10.0.0.2   # two fields\n"
                       "\n"
                       "gamma 10.0.0.3 4\n"
                       "delta 3\r\n"
                       "localhost\n";
    ck_assert_int_eq(hosts_parse(&hl, text, err, sizeof err), 0);
    ck_assert_uint_eq(hl.n, 5);
    ck_assert_str_eq(hl.h[0].name, "alpha");
    ck_assert_str_eq(hl.h[0].addr, "alpha");
    ck_assert_uint_eq(hl.h[0].slots, 1);
    ck_assert_int_eq(hl.h[0].local, 0);
    ck_assert_str_eq(hl.h[1].addr, "10.0.0.2");
    ck_assert_uint_eq(hl.h[1].slots, 1);
    ck_assert_str_eq(hl.h[2].addr, "10.0.0.3");
    ck_assert_uint_eq(hl.h[2].slots, 4);
    /* "name slots": the digits are slots, the address is the name. */
    ck_assert_str_eq(hl.h[3].addr, "delta");
    ck_assert_uint_eq(hl.h[3].slots, 3);
    ck_assert_int_eq(hl.h[4].local, 1);
    hosts_free(&hl);
    ck_assert_ptr_null(hl.h);
}
END_TEST

static const struct { const char *text, *needle; } bad_cases[] = {
    { "", "no host" },
    { "# only a comment\n\n", "no host" },
    { "a 10.0.0.1 0\n", "slots" },
    { "a 10.0.0.1 100001\n", "slots" },
    { "a 10.0.0.1 2 x\n", "too many" },
    { "a b c\n", "not a slot count" },
    { "a;rm 10.0.0.1\n", "letters" },
    { "a 'x'\n", "letters" },
    { "ok\na\na 10.0.0.9\n", "line 3" },
};

START_TEST(test_parse_bad)
{
    host_list hl;
    char err[256] = "";
    ck_assert_int_eq(hosts_parse(&hl, bad_cases[_i].text, err, sizeof err), SG_EINVAL);
    ck_assert_msg(strstr(err, bad_cases[_i].needle) != NULL, "case %d: '%s' lacks '%s'", _i,
                  err, bad_cases[_i].needle);
    ck_assert_ptr_null(hl.h);
    ck_assert_uint_eq(hl.n, 0);
}
END_TEST

START_TEST(test_load_file)
{
    char path[4200], err[512] = "";
    host_list hl;
    char *dir = tu_mkdtemp();
    snprintf(path, sizeof path, "%s/hosts", dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("ns1 10.1.0.2 2\nns2 10.1.0.3\n", f);
    fclose(f);
    ck_assert_int_eq(hosts_load(&hl, path, err, sizeof err), 0);
    ck_assert_uint_eq(hl.n, 2);
    ck_assert_uint_eq(hl.h[0].slots, 2);
    hosts_free(&hl);
    snprintf(path, sizeof path, "%s/missing", dir);
    ck_assert_int_eq(hosts_load(&hl, path, err, sizeof err), SG_EINVAL);
    ck_assert_msg(strstr(err, "missing") != NULL, "%s", err);
    tu_rmtree(dir);
}
END_TEST

START_TEST(test_assign_by_slots)
{
    host_list hl;
    char err[256];
    size_t out[12], per[3] = { 0, 0, 0 };
    ck_assert_int_eq(hosts_parse(&hl, "a 1\nb 2\nc 1\n", err, sizeof err), 0);
    hosts_assign(&hl, 12, out);
    ck_assert_uint_eq(out[0], 0);       /* the operator on the first host */
    for (size_t i = 0; i < 12; i++)
        per[out[i]]++;
    ck_assert_uint_eq(per[0], 3);
    ck_assert_uint_eq(per[1], 6);
    ck_assert_uint_eq(per[2], 3);
    /* Fewer daemons than hosts: first hosts first. */
    hosts_assign(&hl, 2, out);
    ck_assert_uint_eq(out[0], 0);
    ck_assert_uint_eq(out[1], 1);
    hosts_free(&hl);
}
END_TEST

START_TEST(test_quote_and_shell_cmd)
{
    char q[64] = "", cmd[256];
    host_list hl;
    char err[256];
    ck_assert_int_eq(hosts_quote(q, sizeof q, "it's a b"), 0);
    ck_assert_str_eq(q, "'it'\\''s a b'");
    char tiny[6] = "";
    ck_assert_int_eq(hosts_quote(tiny, sizeof tiny, "abcdef"), SG_ETOOBIG);
    ck_assert_int_eq(hosts_parse(&hl, "ns1 10.0.0.2\nlocalhost\n", err, sizeof err), 0);
    ck_assert_int_eq(hosts_shell_cmd(cmd, sizeof cmd, "ip netns exec {host}", &hl.h[0]), 0);
    ck_assert_str_eq(cmd, "exec ip netns exec 'ns1' sh -s");
    ck_assert_int_eq(hosts_shell_cmd(cmd, sizeof cmd, HOSTS_DEFAULT_SHELL, &hl.h[0]), 0);
    ck_assert_str_eq(cmd, "exec ssh -o BatchMode=yes 'ns1' sh -s");
    ck_assert_int_eq(hosts_shell_cmd(cmd, sizeof cmd, HOSTS_DEFAULT_SHELL, &hl.h[1]), 0);
    ck_assert_str_eq(cmd, "exec sh -s");
    ck_assert_int_eq(hosts_shell_cmd(cmd, 12, HOSTS_DEFAULT_SHELL, &hl.h[0]), SG_ETOOBIG);
    hosts_free(&hl);
}
END_TEST

START_TEST(test_run_through_template)
{
    host_list hl;
    char err[512], out[256];
    ck_assert_int_eq(hosts_parse(&hl, "h1 10.9.9.9\nlocalhost\n", err, sizeof err), 0);
    /* The template's {host} reaches the host; the script comes on stdin. */
    ck_assert_int_eq(hosts_run("env SGH={host}", &hl.h[0], "echo \"at $SGH\"\nexit 3\n", out,
                               sizeof out), 3);
    ck_assert_str_eq(out, "at h1\n");
    /* A local host runs without the template. */
    ck_assert_int_eq(hosts_run("false {host}", &hl.h[1], "echo local\n", out, sizeof out), 0);
    ck_assert_str_eq(out, "local\n");
    hosts_free(&hl);
}
END_TEST

START_TEST(test_check_names_the_host)
{
    host_list hl;
    char err[512] = "";
    const char *ok[] = { "/bin/sh" }, *missing[] = { "/bin/sh", "/nonexistent/sgnode" };
    ck_assert_int_eq(hosts_parse(&hl, "h1 10.9.9.9\n", err, sizeof err), 0);
    ck_assert_int_eq(hosts_check("env SGH={host}", &hl.h[0], ok, 1, err, sizeof err), 0);
    ck_assert_int_eq(hosts_check("env SGH={host}", &hl.h[0], missing, 2, err, sizeof err),
                     SG_ENOTFOUND);
    ck_assert_msg(strstr(err, "host h1: /nonexistent/sgnode is missing") != NULL, "%s", err);
    ck_assert_int_eq(hosts_check("false {host}", &hl.h[0], ok, 1, err, sizeof err), SG_EIO);
    ck_assert_msg(strstr(err, "host h1 is unreachable") != NULL, "%s", err);
    hosts_free(&hl);
}
END_TEST

START_TEST(test_push_files)
{
    char *dir = tu_mkdtemp();
    char src[4200], dst[4200], sub[4200], err[512] = "", line[128];
    host_list hl;
    struct stat st;
    snprintf(src, sizeof src, "%s/genesis.txt", dir);
    snprintf(sub, sizeof sub, "%s/remote/keys", dir);
    snprintf(dst, sizeof dst, "%s/remote/keys/genesis.txt", dir);
    FILE *f = fopen(src, "w");
    ck_assert_ptr_nonnull(f);
    fputs("difficulty 5\nalloc ab 10\nno newline at the end", f);
    fclose(f);
    ck_assert_int_eq(hosts_parse(&hl, "h1 10.9.9.9\n", err, sizeof err), 0);
    const char *dirs[] = { sub }, *loc[] = { src }, *rem[] = { dst };
    ck_assert_int_eq(hosts_push("env SGH={host}", &hl.h[0], dirs, 1, loc, rem, 1, err,
                                sizeof err), 0);
    ck_assert_int_eq(stat(dst, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    f = fopen(dst, "r");
    ck_assert_ptr_nonnull(f);
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
    ck_assert_str_eq(line, "difficulty 5\n");
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
    ck_assert_str_eq(line, "no newline at the end\n");
    fclose(f);
    /* Copying a file onto itself (a shared filesystem) keeps it whole. */
    const char *same[] = { dst };
    ck_assert_int_eq(hosts_push("env SGH={host}", &hl.h[0], dirs, 1, same, same, 1, err,
                                sizeof err), 0);
    ck_assert_int_eq(stat(dst, &st), 0);
    ck_assert_int_gt(st.st_size, 30);
    /* An unreachable host is named. */
    ck_assert_int_eq(hosts_push("false {host}", &hl.h[0], dirs, 1, loc, rem, 1, err,
                                sizeof err), SG_EIO);
    ck_assert_msg(strstr(err, "host h1") != NULL, "%s", err);
    hosts_free(&hl);
    tu_rmtree(dir);
}
END_TEST

Suite *launcher_hosts_suite(void)
{
    Suite *s = suite_create("launcher_hosts");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_parse_fields_and_comments);
    tcase_add_loop_test(tc, test_parse_bad, 0, (int)(sizeof bad_cases / sizeof bad_cases[0]));
    tcase_add_test(tc, test_load_file);
    tcase_add_test(tc, test_assign_by_slots);
    tcase_add_test(tc, test_quote_and_shell_cmd);
    tcase_add_test(tc, test_run_through_template);
    tcase_add_test(tc, test_check_names_the_host);
    tcase_add_test(tc, test_push_files);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}
