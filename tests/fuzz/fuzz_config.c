/* libFuzzer target for the configuration loader: any bytes must give either a config or a
 * list of problems, never a crash, a leak or an unbounded cost. */
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "policies/policies.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    policy_config *cfg = NULL;
    policy_problems problems = {0};
    core_error err;

    if (policy_config_parse((const char *)data, size, "fuzz", &cfg, &problems, &err) == 0) {
        /* A config that loads must be usable: walk what the server would. */
        (void)policy_match(cfg, "acme/payments");
        for (size_t i = 0; i < cfg->n_policies; i++) {
            for (size_t j = 0; j < cfg->policies[i].n_regions; j++)
                CORE_ASSERT(policy_region_find(cfg, cfg->policies[i].regions[j]) != NULL);
        }
        /* Migration settings that load are within what the inspection accepts. */
        for (size_t i = 0; i < cfg->n_policies; i++) {
            const policy_policy *p = &cfg->policies[i];

            CORE_ASSERT(p->pg_version >= POLICY_PG_MIN && p->pg_version <= POLICY_PG_MAX);
            for (size_t j = 0; j < p->n_rule_settings; j++) {
                CORE_ASSERT(policy_rule_known(p->rule_settings[j].rule));
                CORE_ASSERT(p->rule_settings[j].level != POLICY_RULE_DEFAULT);
            }
        }
        for (size_t i = 0; i < cfg->n_people; i++)
            CORE_ASSERT(!cfg->people[i].slack ||
                        policy_person_slack(cfg, cfg->people[i].github) != NULL);
        CORE_ASSERT(problems.count == 0);
    } else {
        for (size_t i = 0; i < problems.count; i++)
            CORE_ASSERT(problems.items[i].msg[0] != '\0');
    }
    policy_config_free(cfg);
    policy_problems_free(&problems);
    return 0;
}
