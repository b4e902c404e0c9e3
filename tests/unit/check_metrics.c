#include <check.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "common/daemon/daemon.h"
#include "common/base/err.h"
#include "common/daemon/metrics.h"

static proto_stat st_int(const char *k, int64_t v)
{
    proto_stat s;
    memset(&s, 0, sizeof s);
    snprintf(s.key, sizeof s.key, "%s", k);
    s.kind = PROTO_STAT_INT;
    s.i = v;
    return s;
}

static proto_stat st_str(const char *k, const char *v)
{
    proto_stat s;
    memset(&s, 0, sizeof s);
    snprintf(s.key, sizeof s.key, "%s", k);
    s.kind = PROTO_STAT_STR;
    snprintf(s.s, sizeof s.s, "%s", v);
    return s;
}

static char *format(const proto_stat *items, size_t n)
{
    char *out = NULL;
    size_t len = 0;
    ck_assert_int_eq(metrics_format(items, n, &out, &len), 0);
    ck_assert_uint_eq(strlen(out), len);
    return out;
}

START_TEST(test_format_families)
{
    proto_stat items[] = {
        st_str("name", "p1"), st_str("role", "prosumer"), st_str("impl", "avx2"),
        st_int("height", 42), st_int("blocks_mined", 7), st_int("loop_lag_ms_avg", 1234),
        st_int("last_settled_interval", -1), st_int("grid_import_wh", 5000),
        st_int("hashrate", 1000000),
    };
    char *out = format(items, sizeof items / sizeof items[0]);
    const char *want[] = {
        "# TYPE sg_node_info gauge\nsg_node_info{node=\"p1\",role=\"prosumer\",impl=\"avx2\"} 1\n",
        "# HELP sg_block_height Height of the best chain tip.\n# TYPE sg_block_height gauge\n"
        "sg_block_height{node=\"p1\",role=\"prosumer\"} 42\n",
        "# TYPE sg_blocks_mined_total counter\n"
        "sg_blocks_mined_total{node=\"p1\",role=\"prosumer\"} 7\n",
        "sg_loop_lag_seconds{node=\"p1\",role=\"prosumer\"} 1.234\n",
        "sg_market_last_settled_interval{node=\"p1\",role=\"prosumer\"} -1\n",
        "# TYPE sg_grid_import_wh_total counter\n"
        "sg_grid_import_wh_total{node=\"p1\",role=\"prosumer\"} 5000\n",
        "# TYPE sg_hashrate_hashes_per_second gauge\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        ck_assert_msg(strstr(out, want[i]) != NULL, "missing:\n%s\nin:\n%s", want[i], out);
    /* Stats not given produce no family at all. */
    ck_assert_ptr_null(strstr(out, "sg_peers"));
    free(out);
}
END_TEST

START_TEST(test_format_rules)
{
    proto_stat items[] = {
        st_str("name", "we\"ird\\na\nme"), st_str("role", "operator"),
        st_int("stale_blocks", 3), st_int("total_traded_wh", 9), st_int("uptime_ms", 5),
        st_str("height", "not an int"), st_int("no_such_stat", 1),
        st_int("settlements_mined", 2), st_int("peers", 4),
    };
    char *out = format(items, sizeof items / sizeof items[0]);
    ck_assert_ptr_nonnull(strstr(out, "node=\"we\\\"ird\\\\na\\nme\""));
    ck_assert_ptr_null(strstr(out, "sg_block_height"));
    ck_assert_ptr_null(strstr(out, "no_such_stat"));
    ck_assert_ptr_nonnull(strstr(out, "sg_uptime_seconds{node=\"we\\\"ird\\\\na\\nme\","
                                      "role=\"operator\"} 0.005\n"));
    /* Every counter is *_total, every family has HELP then TYPE then one
     * sample, and no raw newline sits inside a label. */
    unsigned families = 0;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        char name[128], type[16];
        if (strncmp(line, "# HELP ", 7) == 0) {
            families++;
            continue;
        }
        if (sscanf(line, "# TYPE %127s %15s", name, type) == 2) {
            if (strcmp(type, "counter") == 0)
                ck_assert_msg(strlen(name) > 6 && strcmp(name + strlen(name) - 6, "_total") == 0,
                              "counter %s", name);
            else
                ck_assert_str_eq(type, "gauge");
            continue;
        }
        ck_assert_msg(strncmp(line, "sg_", 3) == 0, "stray line '%s'", line);
        ck_assert_ptr_nonnull(strstr(line, "role=\"operator\""));
    }
    ck_assert_uint_eq(families, 6);  /* info, stale, traded, uptime, settlements, peers */
    free(out);
}
END_TEST

START_TEST(test_daemon_opts)
{
    daemon_opts o;
    char err[256];
    char *ok[] = { "sgnode", "--role", "consumer", "--genesis", "g", "--cluster-key", "k",
                   "--data-dir", "d", "--metrics-port", "9100" };
    ck_assert_int_eq(daemon_parse_opts(&o, "sgnode", 0, 11, ok, err, sizeof err), 0);
    ck_assert_str_eq(o.metrics_listen, "127.0.0.1:9100");
    char *lst[] = { "sgnode", "--role", "consumer", "--genesis", "g", "--cluster-key", "k",
                    "--data-dir", "d", "--metrics-listen=0.0.0.0:9200" };
    ck_assert_int_eq(daemon_parse_opts(&o, "sgnode", 0, 10, lst, err, sizeof err), 0);
    ck_assert_str_eq(o.metrics_listen, "0.0.0.0:9200");
    char *off[] = { "sgnode", "--role", "consumer", "--genesis", "g", "--cluster-key", "k",
                    "--data-dir", "d" };
    ck_assert_int_eq(daemon_parse_opts(&o, "sgnode", 0, 9, off, err, sizeof err), 0);
    ck_assert_ptr_null(o.metrics_listen);
    char *bad[] = { "sgnode", "--role", "consumer", "--genesis", "g", "--cluster-key", "k",
                    "--data-dir", "d", "--metrics-port", "70000" };
    ck_assert_int_eq(daemon_parse_opts(&o, "sgnode", 0, 11, bad, err, sizeof err), SG_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "--metrics-port"));
}
END_TEST

/* ---- the responder, driven by a blocking client thread ------------------- */

typedef struct {
    uint16_t port;
    uv_async_t done;
    metrics_server *ms;
    char resp[3][4096];
    int renders;
} srv_test;

static int render(void *ctx, char **body, size_t *len)
{
    srv_test *t = ctx;
    t->renders++;
    *body = strdup("sg_x 1\n");
    *len = 7;
    return *body ? 0 : SG_ENOMEM;
}

static void request(uint16_t port, const char *req, char *out, size_t cap)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
    size_t used = 0;
    ssize_t n;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    out[0] = '\0';
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
        goto out;
    if (write(fd, req, strlen(req)) != (ssize_t)strlen(req))
        goto out;
    while (used + 1 < cap && (n = read(fd, out + used, cap - 1 - used)) > 0)
        used += (size_t)n;
    out[used] = '\0';
out:
    if (fd >= 0)
        close(fd);
}

static void *client(void *arg)
{
    srv_test *t = arg;
    request(t->port, "GET /metrics HTTP/1.0\r\n\r\n", t->resp[0], sizeof t->resp[0]);
    request(t->port, "GET /nope HTTP/1.0\r\n\r\n", t->resp[1], sizeof t->resp[1]);
    request(t->port, "PUT /metrics HTTP/1.0\r\n\r\n", t->resp[2], sizeof t->resp[2]);
    uv_async_send(&t->done);
    return NULL;
}

static void on_done(uv_async_t *a)
{
    srv_test *t = a->data;
    metrics_server_close(t->ms);
    uv_close((uv_handle_t *)a, NULL);
}

START_TEST(test_server)
{
    uv_loop_t loop;
    srv_test *t = calloc(1, sizeof *t);
    pthread_t th;
    ck_assert_int_eq(uv_loop_init(&loop), 0);
    ck_assert_int_eq(metrics_server_start(&t->ms, &loop, "nohost", render, t, NULL), SG_EINVAL);
    ck_assert_int_eq(metrics_server_start(&t->ms, &loop, "127.0.0.1:0", render, t, NULL), 0);
    t->port = metrics_server_port(t->ms);
    ck_assert_uint_ne(t->port, 0);
    uv_async_init(&loop, &t->done, on_done);
    t->done.data = t;
    ck_assert_int_eq(pthread_create(&th, NULL, client, t), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    pthread_join(th, NULL);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
    ck_assert_msg(strncmp(t->resp[0], "HTTP/1.0 200 OK\r\n", 17) == 0, "%s", t->resp[0]);
    ck_assert_ptr_nonnull(strstr(t->resp[0], "Content-Type: text/plain; version=0.0.4"));
    ck_assert_ptr_nonnull(strstr(t->resp[0], "Content-Length: 7\r\n"));
    size_t rl = strlen(t->resp[0]);
    ck_assert(rl > 11 && strcmp(t->resp[0] + rl - 11, "\r\n\r\nsg_x 1\n") == 0);
    ck_assert_msg(strncmp(t->resp[1], "HTTP/1.0 404 ", 13) == 0, "%s", t->resp[1]);
    ck_assert_msg(strncmp(t->resp[2], "HTTP/1.0 405 ", 13) == 0, "%s", t->resp[2]);
    ck_assert_int_eq(t->renders, 1);
    free(t);
}
END_TEST

START_TEST(test_format_histogram)
{
    proto_stat items[] = { st_str("name", "c1"), st_str("role", "consumer") };
    static const uint64_t bounds[] = { 100, 250, 1000, 60000 };
    static const uint64_t counts[] = { 0, 1, 3, 3, 4 };
    metrics_histogram h = { .name = "sg_x_seconds", .help = "X.", .n = 4,
                            .bounds_ms = bounds, .counts = counts, .sum_ms = 61250 };
    char *out = NULL;
    size_t len = 0;
    ck_assert_int_eq(metrics_format_ex(items, 2, &h, 1, &out, &len), 0);
    ck_assert_uint_eq(strlen(out), len);
    ck_assert_ptr_nonnull(strstr(out,
        "# HELP sg_x_seconds X.\n# TYPE sg_x_seconds histogram\n"
        "sg_x_seconds_bucket{node=\"c1\",role=\"consumer\",le=\"0.1\"} 0\n"
        "sg_x_seconds_bucket{node=\"c1\",role=\"consumer\",le=\"0.25\"} 1\n"
        "sg_x_seconds_bucket{node=\"c1\",role=\"consumer\",le=\"1\"} 3\n"
        "sg_x_seconds_bucket{node=\"c1\",role=\"consumer\",le=\"60\"} 3\n"
        "sg_x_seconds_bucket{node=\"c1\",role=\"consumer\",le=\"+Inf\"} 4\n"
        "sg_x_seconds_sum{node=\"c1\",role=\"consumer\"} 61.25\n"
        "sg_x_seconds_count{node=\"c1\",role=\"consumer\"} 4\n"));
    free(out);
}
END_TEST

Suite *metrics_suite(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_format_families);
    tcase_add_test(tc, test_format_rules);
    tcase_add_test(tc, test_format_histogram);
    tcase_add_test(tc, test_daemon_opts);
    tcase_add_test(tc, test_server);
    suite_add_tcase(s, tc);
    return s;
}
