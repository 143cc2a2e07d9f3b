/* One runner for every suite; the list is generated from tests/<module>/test_<file>.c.
 * CK_RUN_SUITE / CK_RUN_CASE pick a subset, CK_FORK=no runs in-process (sanitizers). */
#include <check.h>
#include <stdlib.h>

#define ZONECI_SUITE(name) Suite *suite_##name(void);
#include "suites.h"
#undef ZONECI_SUITE

int main(void)
{
    SRunner *sr = srunner_create(NULL);
    int failed;

#define ZONECI_SUITE(name) srunner_add_suite(sr, suite_##name());
#include "suites.h"
#undef ZONECI_SUITE
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
