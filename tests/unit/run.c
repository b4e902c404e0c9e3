/* One Check runner for every tests/unit/check_<module>.c; the Makefile
 * generates suites.h with a SUITE(module) line for each.  Suites run in
 * Check's fork mode, so a crash or hang fails one test, not the run. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#define SUITE(name) Suite *name##_suite(void);
#include "suites.h"
#undef SUITE

int main(int argc, char **argv)
{
    SRunner *sr = srunner_create(NULL);
    /* `unit_tests MODULE...` runs only those suites. */
#define SUITE(name)                                                        \
    do {                                                                   \
        int want = argc < 2;                                               \
        for (int i = 1; i < argc; i++)                                     \
            if (strcmp(argv[i], #name) == 0)                               \
                want = 1;                                                  \
        if (want)                                                          \
            srunner_add_suite(sr, name##_suite());                         \
    } while (0);
#include "suites.h"
#undef SUITE
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
