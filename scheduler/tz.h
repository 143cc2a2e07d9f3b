/* ICU's side of the time-zone data, kept in scheduler/windows.c (the one file that includes
 * ICU) and used by the generator and the start-up choice in tzdata.c. Private to the
 * scheduler module. */
#ifndef ZONECI_SCHEDULER_TZ_H
#define ZONECI_SCHEDULER_TZ_H

#include "core/core.h"

typedef void (*tz_icu_id_fn)(const char *id, const char *canonical, void *ctx);

/* Calls fn for every zone id the data ICU has loaded knows, with ICU's canonical id for it
 * (borrowed strings, valid during the call). */
int tz_icu_each_id(tz_icu_id_fn fn, void *ctx, core_error *err);

/* Drops every ICU cache and points ICU's time-zone data at dir, checking that the version
 * ICU then reports is `version`. Single-threaded start-up only: ICU must not be in use. */
int tz_icu_use_dir(const char *dir, const char *version, core_error *err);

/* The version of the time-zone data ICU computes with ("2025b"), or "unknown". */
const char *tz_icu_version(void);

#endif
