/* One runner for every suite; the list is generated from tests/<module>/test_<file>.c.
 * CK_RUN_SUITE / CK_RUN_CASE pick a subset, CK_FORK=no runs in-process (sanitizers). */
#include <check.h>
#include <curl/curl.h>
#include <stdlib.h>

#define ZONECI_SUITE(name) Suite *suite_##name(void);
#include "suites.h"
#undef ZONECI_SUITE

int main(void)
{
    SRunner *sr;
    int failed;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    sr = srunner_create(NULL);

#define ZONECI_SUITE(name) srunner_add_suite(sr, suite_##name());
#include "suites.h"
#undef ZONECI_SUITE
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    curl_global_cleanup();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
