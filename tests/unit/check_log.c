#define _GNU_SOURCE
#include <check.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/err.h"
#include "common/daemon/log.h"
#include "testutil.h"

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf;
    long n;

    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = calloc(1, (size_t)n + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    return buf;
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

START_TEST(test_format_exact)
{
    char line[LOG_LINE_MAX + 1];
    /* 2009-01-03T18:15:05.123Z: Bitcoin's genesis time, plus 123 ms. */
    size_t n = log_format(line, sizeof(line), 1231006505123ull,
                          LOG_LEVEL_WARN, "node-3", "peer went away");
    ck_assert_str_eq(line, "2009-01-03T18:15:05.123Z WARN node-3: peer went away");
    ck_assert_uint_eq(n, strlen(line));
}
END_TEST

START_TEST(test_format_sanitizes_and_truncates)
{
    char line[LOG_LINE_MAX + 1];
    char *big = malloc(3 * LOG_LINE_MAX);
    size_t n;

    log_format(line, sizeof(line), 0, LOG_LEVEL_INFO, "x", "a\nb\rc\x1b[0m");
    ck_assert_str_eq(line, "1970-01-01T00:00:00.000Z INFO x: a?b?c?[0m");
    memset(big, 'z', 3 * LOG_LINE_MAX - 1);
    big[3 * LOG_LINE_MAX - 1] = '\0';
    n = log_format(line, sizeof(line), 0, LOG_LEVEL_INFO, "x", big);
    ck_assert_uint_eq(n, LOG_LINE_MAX);
    ck_assert_uint_eq(strlen(line), LOG_LINE_MAX);
    free(big);
}
END_TEST

START_TEST(test_file_lines_and_levels)
{
    char *dir = tu_mkdtemp();
    char path[512];
    logger *lg;
    char *text;
    regex_t re;

    snprintf(path, sizeof(path), "%s/node.log", dir);
    ck_assert_int_eq(log_open(&lg, "node-1", path, LOG_LEVEL_INFO), 0);
    log_debug(lg, "hidden %d", 1);
    log_info(lg, "height %d tip %s", 42, "abcd");
    log_warn(lg, "slow peer");
    log_error(lg, "disk full");
    ck_assert(log_enabled(lg, LOG_LEVEL_INFO));
    ck_assert(!log_enabled(lg, LOG_LEVEL_DEBUG));
    log_set_level(lg, LOG_LEVEL_ERROR);
    log_warn(lg, "now hidden");
    log_error(lg, "still shown");
    log_close(lg);

    text = slurp(path);
    ck_assert_int_eq(count_lines(text), 4);
    ck_assert_ptr_null(strstr(text, "hidden"));
    ck_assert_int_eq(regcomp(&re,
        "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z "
        "INFO node-1: height 42 tip abcd\n"
        "[^\n]+ WARN node-1: slow peer\n"
        "[^\n]+ ERROR node-1: disk full\n"
        "[^\n]+ ERROR node-1: still shown\n$", REG_EXTENDED), 0);
    ck_assert_int_eq(regexec(&re, text, 0, NULL, 0), 0);
    regfree(&re);
    free(text);
    tu_rmtree(dir);
}
END_TEST

START_TEST(test_reopen_after_rename)
{
    char *dir = tu_mkdtemp();
    char path[512], rotated[512];
    logger *lg;
    char *a, *b;

    snprintf(path, sizeof(path), "%s/node.log", dir);
    snprintf(rotated, sizeof(rotated), "%s/node.log.1", dir);
    ck_assert_int_eq(log_open(&lg, "n", path, LOG_LEVEL_DEBUG), 0);
    log_info(lg, "before rotation");
    ck_assert_int_eq(rename(path, rotated), 0);
    log_info(lg, "still old file");      /* as logrotate's window allows */
    ck_assert_int_eq(log_reopen(lg), 0);
    log_info(lg, "after reopen");
    log_close(lg);

    a = slurp(rotated);
    b = slurp(path);
    ck_assert_int_eq(count_lines(a), 2);
    ck_assert_ptr_nonnull(strstr(a, "before rotation"));
    ck_assert_ptr_nonnull(strstr(a, "still old file"));
    ck_assert_int_eq(count_lines(b), 1);
    ck_assert_ptr_nonnull(strstr(b, "after reopen"));
    free(a);
    free(b);
    tu_rmtree(dir);
}
END_TEST

START_TEST(test_open_errors)
{
    logger *lg = (logger *)1;
    int level = -1;
    ck_assert_int_eq(log_open(&lg, "n", "/nonexistent-dir/x/y.log",
                              LOG_LEVEL_INFO), SG_EIO);
    ck_assert_ptr_null(lg);
    ck_assert_int_eq(log_open(&lg, NULL, NULL, LOG_LEVEL_INFO), SG_EINVAL);
    ck_assert_int_eq(log_open(&lg, "n", NULL, 99), SG_EINVAL);
    ck_assert_int_eq(log_level_parse("Warning", &level), 0);
    ck_assert_int_eq(level, LOG_LEVEL_WARN);
    ck_assert_int_eq(log_level_parse("debug", &level), 0);
    ck_assert_int_eq(level, LOG_LEVEL_DEBUG);
    ck_assert_int_eq(log_level_parse("loud", &level), SG_EINVAL);
    ck_assert_str_eq(log_level_name(LOG_LEVEL_ERROR), "ERROR");
    /* A NULL logger is a silent one. */
    log_info(NULL, "nothing %d", 1);
    ck_assert(!log_enabled(NULL, LOG_LEVEL_ERROR));
    ck_assert_int_eq(log_reopen(NULL), 0);
}
END_TEST

typedef struct {
    int n;
    int levels[8];
    char lines[8][LOG_LINE_MAX + 1];
} captured;

static void capture(void *ctx, int level, uint64_t time_ms, const char *line,
                    size_t len)
{
    captured *c = ctx;
    (void)time_ms;
    ck_assert_uint_eq(strlen(line), len);
    if (c->n < 8) {
        c->levels[c->n] = level;
        snprintf(c->lines[c->n], sizeof(c->lines[0]), "%s", line);
    }
    c->n++;
}

START_TEST(test_hook_levels)
{
    char *dir = tu_mkdtemp();
    char path[512];
    logger *lg;
    captured cap;
    char *text;

    memset(&cap, 0, sizeof(cap));
    snprintf(path, sizeof(path), "%s/node.log", dir);
    /* File keeps warnings and up; the subscriber wants debug and up. */
    ck_assert_int_eq(log_open(&lg, "op", path, LOG_LEVEL_WARN), 0);
    log_set_hook(lg, LOG_LEVEL_DEBUG, capture, &cap);
    log_debug(lg, "d");
    log_info(lg, "i");
    log_error(lg, "e");
    ck_assert_int_eq(cap.n, 3);
    ck_assert_int_eq(cap.levels[0], LOG_LEVEL_DEBUG);
    ck_assert_int_eq(cap.levels[2], LOG_LEVEL_ERROR);
    ck_assert_ptr_nonnull(strstr(cap.lines[1], " INFO op: i"));
    ck_assert_ptr_null(strchr(cap.lines[1], '\n'));
    log_set_hook_level(lg, LOG_LEVEL_ERROR);
    log_warn(lg, "w");
    ck_assert_int_eq(cap.n, 3);
    log_set_hook(lg, LOG_LEVEL_DEBUG, NULL, NULL);
    log_error(lg, "after removal");
    ck_assert_int_eq(cap.n, 3);
    log_close(lg);

    text = slurp(path);
    ck_assert_int_eq(count_lines(text), 3);   /* e, w, after removal */
    ck_assert_ptr_null(strstr(text, "INFO"));
    free(text);
    tu_rmtree(dir);
}
END_TEST

Suite *log_suite(void)
{
    Suite *s = suite_create("log");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_format_exact);
    tcase_add_test(tc, test_format_sanitizes_and_truncates);
    tcase_add_test(tc, test_file_lines_and_levels);
    tcase_add_test(tc, test_reopen_after_rename);
    tcase_add_test(tc, test_open_errors);
    tcase_add_test(tc, test_hook_levels);
    suite_add_tcase(s, tc);
    return s;
}
