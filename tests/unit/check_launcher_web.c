/* Unit tests for the live page's snapshot (launcher/web_snap.c): node
 * states, links from peer_names, tips and the market series, read back
 * with jansson as the page reads them. */
#include <check.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "common/core/role.h"
#include "launcher/web_snap.h"
#include "testutil.h"

#define TIP_A "00000aaaa"
#define TIP_B "00000bbbb"

static void node(fleet_node *n, const char *name, int role, pid_t pid, int stats,
                 const char *tip, const char *peers)
{
    memset(n, 0, sizeof *n);
    snprintf(n->name, sizeof n->name, "%s", name);
    n->role = role;
    n->pid = pid;
    n->have_stats = stats;
    n->stats_ms = 10000;
    n->st.height = 7;
    snprintf(n->st.tip, sizeof n->st.tip, "%s", tip);
    snprintf(n->st.peer_names, sizeof n->st.peer_names, "%s", peers);
}

static json_t *build(web_snap *ws, fleet *f, view_header *h, int64_t now)
{
    size_t len = 0;
    char *s = web_snap_build(ws, f, NULL, h, "run-1", now, 1700000000000, &len);
    ck_assert_ptr_nonnull(s);
    ck_assert_uint_eq(strlen(s), len);
    ck_assert_ptr_null(strchr(s, '\n'));         /* one SSE data line */
    json_error_t e;
    json_t *j = json_loads(s, 0, &e);
    ck_assert_msg(j != NULL, "not JSON: %s", e.text);
    free(s);
    return j;
}

static const char *str_at(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

START_TEST(test_nodes_links_tips)
{
    fleet_node nodes[5];
    fleet f = { .nodes = nodes, .n = 5 };
    view_header h = { .phase = "running", .elapsed_ms = 5000, .duration_s = 60 };
    web_snap *ws = calloc(1, sizeof *ws);
    node(&nodes[0], "op", ROLE_OPERATOR, 100, 1, TIP_A, "p1 c1");
    node(&nodes[1], "p1", ROLE_PROSUMER, 101, 1, TIP_A, "op c1");
    node(&nodes[2], "c1", ROLE_CONSUMER, 102, 1, TIP_B, "op p1");
    node(&nodes[3], "c2", ROLE_CONSUMER, 0, 0, "", "");          /* dead */
    node(&nodes[4], "c3", ROLE_CONSUMER, 104, 0, "", "");        /* restarted, silent */
    nodes[4].restarts = 2;
    nodes[1].stats_ms = 1000;                                    /* stale stats */
    h.events[0] = "c2 died (signal 9)";

    json_t *j = build(ws, &f, &h, 10000);
    ck_assert_str_eq(str_at(j, "run"), "run-1");
    ck_assert_str_eq(str_at(j, "phase"), "running");
    json_t *ns = json_object_get(j, "nodes");
    ck_assert_uint_eq(json_array_size(ns), 5);
    static const char *const states[] = { "up", "unresponsive", "up", "down", "restarting" };
    for (size_t i = 0; i < 5; i++)
        ck_assert_str_eq(str_at(json_array_get(ns, i), "state"), states[i]);
    json_t *links = json_object_get(json_array_get(ns, 0), "links");
    ck_assert_uint_eq(json_array_size(links), 2);
    ck_assert_str_eq(json_string_value(json_array_get(links, 0)), "p1");
    ck_assert_str_eq(json_string_value(json_array_get(links, 1)), "c1");
    ck_assert_ptr_null(json_object_get(json_array_get(ns, 3), "links"));
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(ns, 4), "restarts")), 2);
    ck_assert_str_eq(str_at(json_array_get(ns, 2), "role"), "consumer");

    /* Two tips: op and p1 on one, c1 on the other; the dead are on none. */
    json_t *tips = json_object_get(j, "tips");
    ck_assert_uint_eq(json_array_size(tips), 2);
    ck_assert_str_eq(str_at(json_array_get(tips, 0), "tip"), TIP_A);
    ck_assert_uint_eq(json_array_size(json_object_get(json_array_get(tips, 0), "nodes")), 2);
    ck_assert_uint_eq(json_array_size(json_object_get(json_array_get(tips, 1), "nodes")), 1);
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(j, "events"), 0)),
                     "c2 died (signal 9)");
    json_decref(j);
    free(ws);
}
END_TEST

/* A point per tick in which intervals settled, with the grid energy of
 * those intervals (differences of the running totals). */
START_TEST(test_market_series)
{
    fleet_node nodes[1];
    fleet f = { .nodes = nodes, .n = 1 };
    view_header h = { .phase = "running" };
    web_snap *ws = calloc(1, sizeof *ws);
    node(&nodes[0], "op", ROLE_OPERATOR, 100, 1, TIP_A, "");
    for (int k = 1; k <= WEB_SNAP_SERIES + 10; k++) {
        h.ist.intervals = (uint64_t)k;
        h.ist.last_price = 1000u * (uint64_t)k;
        h.ist.last_traded_wh = 5;
        h.ist.grid_import_wh = 10u * (uint64_t)k;
        json_decref(build(ws, &f, &h, 10000));
        json_decref(build(ws, &f, &h, 10000));     /* nothing new: no point */
    }
    json_t *j = build(ws, &f, &h, 10000);
    json_t *se = json_object_get(json_object_get(j, "market"), "series");
    ck_assert_uint_eq(json_array_size(se), WEB_SNAP_SERIES);
    json_t *last = json_array_get(se, WEB_SNAP_SERIES - 1), *first = json_array_get(se, 0);
    ck_assert_int_eq(json_integer_value(json_array_get(last, 0)), WEB_SNAP_SERIES + 10);
    ck_assert_int_eq(json_integer_value(json_array_get(first, 0)), 11);
    ck_assert_int_eq(json_integer_value(json_array_get(last, 1)), 1000 * (WEB_SNAP_SERIES + 10));
    ck_assert_int_eq(json_integer_value(json_array_get(last, 3)), 10);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(j, "market"),
                                                       "grid_import_wh")),
                     10 * (WEB_SNAP_SERIES + 10));
    json_decref(j);
    free(ws);
}
END_TEST

Suite *launcher_web_suite(void)
{
    Suite *s = suite_create("launcher_web");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_nodes_links_tips);
    tcase_add_test(tc, test_market_series);
    suite_add_tcase(s, tc);
    return s;
}
