/* scheduler/tzif.c and scheduler/tzdata.c: the TZif and POSIX TZ readers on zones crafted
 * with zic (the system's own tz compiler) and on every footer of the system database,
 * checked against glibc; then ICU data generated from a crafted, "newer" tzdata folder and
 * used by the real zoneci binary, which must regenerate it by itself at start. */
#define _DEFAULT_SOURCE
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>

#include "core/core.h"
#include "scheduler/sched_windows.h"
#include "tests/support/support.h"

/* Crafted zones: no transitions (a 45-minute offset), a negative half-hour offset with
 * DST, a zone that ended DST (Mexico, 2022), Irish negative DST, Greenland's rule whose
 * footer time is -1:00, Israel's "Friday before the last Sunday" (footer /26), and a link. */
static const char crafted_source[] = "Rule Tst 1990 max - Mar lastSun 2:00 1:00 D\n"
                                     "Rule Tst 1990 max - Oct lastSun 3:00 0 S\n"
                                     "Rule Mx 1996 2022 - Apr Sun>=1 2:00 1:00 D\n"
                                     "Rule Mx 1996 2022 - Oct lastSun 2:00 0 S\n"
                                     "Rule Irl 1990 max - Oct lastSun 1:00u -1:00 -\n"
                                     "Rule Irl 1991 max - Mar lastSun 1:00u 0 -\n"
                                     "Rule Gl 2023 max - Mar lastSun 1:00u 1:00 -\n"
                                     "Rule Gl 2023 max - Oct lastSun 1:00u 0 -\n"
                                     "Rule Il 2013 max - Mar Fri>=23 2:00 1:00 D\n"
                                     "Rule Il 2013 max - Oct lastSun 2:00 0 S\n"
                                     "Zone Test/Fixed 5:45 - +0545\n"
                                     "Zone Test/NegHalf -3:30 Tst -0330/-0230\n"
                                     "Zone Test/EndsDST -6:36:36 - LMT 1922 Jan 1 7:00u\n"
                                     "  -6:00 Mx C%sT 2022 Oct 30 2:00\n"
                                     "  -6:00 - CST\n"
                                     "Zone Test/NegDST -0:25:21 - LMT 1990\n"
                                     "  1:00 Irl IST/GMT\n"
                                     "Zone Test/Late -3:00 - -03 2023 Mar 25 22:00u\n"
                                     "  -2:00 Gl -02/-01\n"
                                     "Zone Test/Friday 2:00 Il I%sT\n"
                                     "Zone Etc/UTC 0 - UTC\n"
                                     "Link Test/NegHalf Test/Link\n";

static const char *const crafted_ids[] = {"Test/Fixed",  "Test/NegHalf", "Test/EndsDST",
                                          "Test/NegDST", "Test/Late",    "Test/Friday",
                                          "Test/Link"};
#define N_CRAFTED (sizeof(crafted_ids) / sizeof(crafted_ids[0]))

/* A zoneinfo folder compiled by zic ("slim" or "fat"), with a tzdata.zi naming `version`
 * and the link. */
static char *crafted_zoneinfo(const char *bloat, const char *version)
{
    char *dir = ts_tmpdir();
    char zi[128];

    free(ts_write_file(dir, "crafted.src", crafted_source));
    ts_sh("zic -b %s -d %s/zoneinfo %s/crafted.src", bloat, dir, dir);
    snprintf(zi, sizeof(zi), "# version %s\nL Test/NegHalf Test/Link\n", version);
    free(ts_write_file(dir, "zoneinfo/tzdata.zi", zi));
    return dir;
}

static sched_tzif parse_file(const char *path)
{
    size_t len;
    char *data = ts_read_file(path, &len);
    sched_tzif z;
    core_error err = {0};

    ck_assert_msg(data != NULL, "cannot read %s", path);
    ck_assert_msg(sched_tzif_parse((const uint8_t *)data, len, &z, &err) == 0, "%s: %s", path,
                  err.msg);
    free(data);
    return z;
}

START_TEST(tzif_files_read_as_zic_wrote_them)
{
    char *slim = crafted_zoneinfo("slim", "2099a"), *fat = crafted_zoneinfo("fat", "2099a");
    char path[512];
    sched_tzif z;

    snprintf(path, sizeof(path), "%s/zoneinfo/Test/Fixed", slim);
    z = parse_file(path);
    ck_assert_int_eq(z.n_trans, 0);
    ck_assert_int_eq(z.types[0].utoff, 5 * 3600 + 45 * 60);
    ck_assert_str_eq(z.footer, "<+0545>-5:45");
    sched_tzif_free(&z);

    snprintf(path, sizeof(path), "%s/zoneinfo/Test/NegHalf", slim);
    z = parse_file(path);
    ck_assert_str_eq(z.footer, "<-0330>3:30<-0230>,M3.5.0,M10.5.0/3");
    sched_tzif_free(&z);

    /* Fat files spell out the transitions up to 2037 that slim ones leave to the footer. */
    snprintf(path, sizeof(path), "%s/zoneinfo/Test/NegHalf", fat);
    z = parse_file(path);
    ck_assert_int_ge(z.n_trans, 90);
    ck_assert_int_ge(z.trans[z.n_trans - 1], ts_iso("2037-01-01T00:00:00Z") / 1000);
    sched_tzif_free(&z);

    snprintf(path, sizeof(path), "%s/zoneinfo/Test/EndsDST", slim);
    z = parse_file(path);
    ck_assert_str_eq(z.footer, "CST6");
    ck_assert_int_eq(z.trans[z.n_trans - 1], ts_iso("2022-10-30T07:00:00Z") / 1000);
    sched_tzif_free(&z);

    snprintf(path, sizeof(path), "%s/zoneinfo/Test/NegDST", slim);
    z = parse_file(path);
    ck_assert_str_eq(z.footer, "IST-1GMT0,M10.5.0,M3.5.0/1");
    sched_tzif_free(&z);

    snprintf(path, sizeof(path), "%s/zoneinfo/Test/Late", slim);
    z = parse_file(path);
    ck_assert_str_eq(z.footer, "<-02>2<-01>,M3.5.0/-1,M10.5.0/0");
    sched_tzif_free(&z);
    ts_rmtree(slim);
    ts_rmtree(fat);
    free(slim);
    free(fat);
}
END_TEST

START_TEST(malformed_tzif_is_refused)
{
    char *dir = crafted_zoneinfo("fat", "2099a");
    char path[512];
    size_t len;
    char *data;
    sched_tzif z;
    core_error err = {0};

    snprintf(path, sizeof(path), "%s/zoneinfo/Test/NegHalf", dir);
    data = ts_read_file(path, &len);
    ck_assert_int_eq(sched_tzif_parse((const uint8_t *)"TZif", 4, &z, &err), CORE_EINVAL);
    ck_assert_int_eq(sched_tzif_parse((const uint8_t *)"nope, not a zone file at all........"
                                                       "........",
                                      44, &z, &err),
                     CORE_EINVAL);
    ck_assert_str_eq(err.msg, "not a TZif file");
    /* Every truncation is refused or read whole; none reads past the end (ASan). */
    for (size_t cut = 0; cut < len; cut += 7) {
        if (sched_tzif_parse((const uint8_t *)data, cut, &z, NULL) == 0)
            sched_tzif_free(&z);
    }
    /* A transition naming a type that does not exist (in the 64-bit block). */
    {
        const uint8_t *h = (const uint8_t *)data;
        uint32_t c[6];
        size_t v1, v2_idx;

        for (int i = 0; i < 6; i++)
            c[i] = (uint32_t)h[20 + 4 * i] << 24 | (uint32_t)h[21 + 4 * i] << 16 |
                   (uint32_t)h[22 + 4 * i] << 8 | h[23 + 4 * i];
        /* isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt */
        v1 = c[3] * 5 + c[4] * 6 + c[5] + c[2] * 8 + c[1] + c[0];
        h += 44 + v1;
        v2_idx = 44 + v1 + 44 +
                 8 * ((uint32_t)h[32] << 24 | (uint32_t)h[33] << 16 | (uint32_t)h[34] << 8 | h[35]);
        ck_assert_int_lt(v2_idx, len);
        data[v2_idx] = (char)0xff;
        ck_assert_int_eq(sched_tzif_parse((const uint8_t *)data, len, &z, &err), CORE_EINVAL);
        ck_assert_ptr_nonnull(strstr(err.msg, "names type 255"));
    }
    free(data);
    ts_rmtree(dir);
    free(dir);
}
END_TEST

static int32_t glibc_utoff(time_t t)
{
    struct tm tm;

    localtime_r(&t, &tm);
    return (int32_t)tm.tm_gmtoff;
}

/* The POSIX rules agree with glibc reading the same string: at each computed instant the
 * offset changes, and one second before it has not yet. */
START_TEST(posix_rules_match_glibc)
{
    static const char *const strings[] = {
        "PST8PDT,M3.2.0,M11.1.0",
        "CET-1CEST,M3.5.0,M10.5.0/3",
        "IST-2IDT,M3.4.4/26,M10.5.0",
        "EET-2EEST,M3.4.4/50,M10.4.4/50",
        "<-04>4<-03>,M9.1.6/24,M4.1.6/24",
        "<-02>2<-01>,M3.5.0/-1,M10.5.0/0",
        "IST-1GMT0,M10.5.0,M3.5.0/1",
        "<+1245>-12:45<+1345>,M9.5.0/2:45,M4.1.0/3:45",
        "<+1030>-10:30<+11>-11,M10.1.0,M4.1.0",
        "EET-2EEST,M4.5.5/0,M10.5.4/24",
        "<+00>0<+02>-2,M3.5.0/1,M10.5.0/3",
        "XST3XDT,J60/1,J300/1",
        "YST3YDT,45,200",
    };
    for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
        sched_posix_tz tz;
        core_error err = {0};

        ck_assert_msg(sched_posix_tz_parse(strings[i], &tz, &err) == 0, "%s: %s", strings[i],
                      err.msg);
        ck_assert(tz.has_dst);
        ts_tz_use(strings[i]);
        for (int64_t y = 1999; y <= 2040; y++) {
            int64_t on, off;

            sched_posix_tz_year(&tz, y, &on, &off);
            ck_assert_msg(glibc_utoff((time_t)on) == tz.dst_utoff &&
                              glibc_utoff((time_t)on - 1) == tz.std_utoff,
                          "%s: %lld: daylight time from %lld", strings[i], (long long)y,
                          (long long)on);
            ck_assert_msg(glibc_utoff((time_t)off) == tz.std_utoff &&
                              glibc_utoff((time_t)off - 1) == tz.dst_utoff,
                          "%s: %lld: standard time from %lld", strings[i], (long long)y,
                          (long long)off);
        }
    }
    ts_tz_restore();
}
END_TEST

START_TEST(posix_strings_refused_with_a_reason)
{
    static const char *const bad[] = {"",
                                      "P8",
                                      "PST",
                                      "PST8PDT,M13.1.0,M1.1.0",
                                      "PST8PDT,M3.2.0",
                                      "<+05",
                                      "PST99",
                                      "PST8PDT,M3.6.0,M11.1.0",
                                      "PST8PDT,J0,J365",
                                      "PST8PDT,M3.2.0/200,M11.1.0"};
    sched_posix_tz tz;
    core_error err = {0};

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(sched_posix_tz_parse(bad[i], &tz, &err) == CORE_EINVAL, "%s", bad[i]);
        ck_assert_ptr_nonnull(strstr(err.msg, "tz string"));
    }
    ck_assert_int_eq(sched_posix_tz_parse("<+0545>-5:45", &tz, NULL), 0);
    ck_assert(!tz.has_dst);
    ck_assert_int_eq(tz.std_utoff, 5 * 3600 + 45 * 60);
}
END_TEST

/* The TZif reader alone (the offsets check-config compares ICU with) agrees with glibc on
 * every zone of the system database, at random instants 1901-2099. */
START_TEST(tzif_offsets_match_glibc_everywhere)
{
    char path[600], line[512];
    unsigned seed = 7;
    size_t zones = 0;
    FILE *zi;

    snprintf(path, sizeof(path), "%s/tzdata.zi", core_tz_dir());
    zi = fopen(path, "r");
    ck_assert_ptr_nonnull(zi);
    while (fgets(line, sizeof(line), zi)) {
        char id[256], file[600];
        size_t len;
        char *data;
        sched_tzif z;
        sched_posix_tz footer;
        bool has_footer;

        if (sscanf(line, "Z %255s", id) != 1)
            continue;
        snprintf(file, sizeof(file), "%s/%s", core_tz_dir(), id);
        data = ts_read_file(file, &len);
        ck_assert_int_eq(sched_tzif_parse((const uint8_t *)data, len, &z, NULL), 0);
        free(data);
        has_footer = z.footer[0] && sched_posix_tz_parse(z.footer, &footer, NULL) == 0;
        ts_tz_use(id);
        for (int k = 0; k < 300; k++) {
            int64_t t = -2177452800LL +
                        (int64_t)(((uint64_t)rand_r(&seed) << 31 ^ (uint64_t)rand_r(&seed)) %
                                  6311390400ULL);

            ck_assert_msg(sched_tzif_utoff_at(&z, has_footer ? &footer : NULL, t) ==
                              glibc_utoff((time_t)t),
                          "%s at %lld", id, (long long)t);
        }
        sched_tzif_free(&z);
        zones++;
    }
    fclose(zi);
    ts_tz_restore();
    ck_assert_uint_ge(zones, 300);
}
END_TEST

/* The start-up check reads the system's TZif file itself: it finds where ICU and the
 * system disagree without touching TZ (a reload runs it while other threads work). */
START_TEST(system_check_leaves_tz_alone)
{
    char *dir = ts_tmpdir();
    char tzdir[512], *saved_dir = getenv("TZDIR") ? strdup(getenv("TZDIR")) : NULL;
    const char *tz_before = getenv("TZ");
    char *tz_copy = tz_before ? strdup(tz_before) : NULL;
    const sched_zone *zone;
    sched_tz_mismatch mm;

    ck_assert_int_eq(sched_zone_get("America/Los_Angeles", &zone, NULL), 0);
    free(ts_write_file(dir, "la.src", "Zone America/Los_Angeles 5:00 - +05\n"));
    ts_sh("zic -d %s/zoneinfo %s/la.src", dir, dir);
    snprintf(tzdir, sizeof(tzdir), "%s/zoneinfo", dir);
    setenv("TZDIR", tzdir, 1);
    ck_assert_int_eq(sched_zone_check_system(zone, ts_iso("2026-01-10T00:00:00Z"), 30, &mm, NULL),
                     0);
    ck_assert(mm.differs);
    ck_assert_int_eq(mm.system_offset_ms, 5 * 3600000);
    ck_assert_int_eq(mm.icu_offset_ms, -8 * 3600000);
    ck_assert_int_eq(mm.at_ms, ts_iso("2026-01-10T00:00:00Z"));
    ck_assert(tz_copy ? getenv("TZ") && strcmp(getenv("TZ"), tz_copy) == 0 : !getenv("TZ"));
    if (saved_dir)
        setenv("TZDIR", saved_dir, 1);
    else
        unsetenv("TZDIR");
    ck_assert_int_eq(sched_zone_check_system(zone, ts_iso("2026-01-10T00:00:00Z"), 400, &mm, NULL),
                     0);
    ck_assert(!mm.differs);
    free(saved_dir);
    free(tz_copy);
    ts_rmtree(dir);
    free(dir);
}
END_TEST

/* ---- generated data used by the real binary ------------------------------------------- */

static char *write_config(const char *dir, const char *const *ids, size_t n)
{
    core_buf b = {0};
    char *path;

    core_buf_printf(&b,
                    "{\"server\": {\"listen\": \"127.0.0.1:8080\"},"
                    " \"redis\": {\"url\": \"redis://127.0.0.1:6379\"},"
                    " \"github\": {\"webhook_secret_env\": \"UNUSED\"},"
                    " \"cache_dir\": \"%s/cache\", \"regions\": [",
                    dir);
    for (size_t i = 0; i < n; i++)
        core_buf_printf(&b,
                        "%s{\"name\": \"r%zu\", \"timezone\": \"%s\", "
                        "\"hours\": [\"Mon-Fri 09:00-17:00\"]}",
                        i ? ", " : "", i, ids[i]);
    core_buf_puts(&b, "], \"policies\": [{\"repos\": [\"*/*\"], \"regions\": [\"r0\"]}]}");
    path = ts_write_file(dir, "zoneci.json", b.data);
    core_buf_free(&b);
    return path;
}

/* `zoneci windows --json` at `at`, with TZDIR at the crafted folder. */
static json_t *windows_at(const char *cfg, const char *tzdir, const char *path_env, int64_t at,
                          char **errout)
{
    char iso[CORE_ISO_MAX], env_tzdir[600], env_path[600];
    char *argv[] = {"windows", "--config", (char *)cfg, "--at", iso, "--json", NULL};
    char *env[] = {env_tzdir, path_env ? env_path : NULL, NULL};
    char *out = NULL;
    json_t *j;

    core_time_format_iso(at, iso);
    snprintf(env_tzdir, sizeof(env_tzdir), "TZDIR=%s", tzdir);
    snprintf(env_path, sizeof(env_path), "PATH=%s", path_env ? path_env : "");
    ck_assert_int_eq(ts_zoneci_run(argv, env, &out, errout), 0);
    j = json_loads(out, 0, NULL);
    ck_assert_msg(j != NULL, "not JSON: %s", out);
    free(out);
    return j;
}

/* "2026-03-29T03:00:00+02:00" -> +7200 */
static int32_t local_utoff(const char *local)
{
    size_t n = strlen(local);
    int h = atoi(local + n - 5), m = atoi(local + n - 2);

    return (local[n - 6] == '-' ? -1 : 1) * (h * 3600 + m * 60);
}

START_TEST(generated_from_newer_system_tzdata_at_start)
{
    char *dir = crafted_zoneinfo("slim", "2099a");
    char tzdir[512], stamp[600], *cfg = write_config(dir, crafted_ids, N_CRAFTED), *err = NULL;
    char *saved_dir = getenv("TZDIR") ? strdup(getenv("TZDIR")) : NULL;
    struct stat st1, st2;
    json_t *j;
    size_t checked = 0;

    snprintf(tzdir, sizeof(tzdir), "%s/zoneinfo", dir);
    /* First start: nothing generated from this tzdata yet, so zoneci generates it. */
    j = windows_at(cfg, tzdir, NULL, ts_iso("2026-07-15T12:00:00Z"), &err);
    ck_assert_str_eq(json_string_value(json_object_get(j, "tz_data_version")), "2099a");
    json_decref(j);
    free(err);
    snprintf(stamp, sizeof(stamp), "%s/cache/tzdata/2099a/zoneci-tzdata.stamp", dir);
    ck_assert_int_eq(stat(stamp, &st1), 0);

    /* Offsets of every crafted zone, on both sides of each of its changes 2020-2027 and in
     * 1930, against glibc reading the same TZif files. */
    setenv("TZDIR", tzdir, 1);
    for (size_t zi = 0; zi < N_CRAFTED; zi++) {
        int64_t instants[64];
        size_t n = 0;

        ts_tz_use(crafted_ids[zi]);
        instants[n++] = ts_iso("1930-06-01T00:00:00Z");
        for (int64_t t = ts_iso("2020-01-01T00:00:00Z") / 1000;
             t < ts_iso("2028-01-01T00:00:00Z") / 1000 && n + 2 < 64; t += 3600) {
            if (glibc_utoff((time_t)t) != glibc_utoff((time_t)t + 3600)) {
                int64_t c = t + 1;

                while (glibc_utoff((time_t)c) == glibc_utoff((time_t)t))
                    c++;
                instants[n++] = (c - 1) * 1000;
                instants[n++] = c * 1000;
            }
        }
        for (size_t k = 0; k < n; k++) {
            json_t *regions;
            const char *local;
            /* Local times show whole minutes: LMT's seconds are cut off. */
            int32_t want = glibc_utoff((time_t)(instants[k] / 1000)) / 60 * 60;

            j = windows_at(cfg, tzdir, NULL, instants[k], NULL);
            regions = json_object_get(j, "regions");
            local = json_string_value(json_object_get(json_array_get(regions, zi), "local_time"));
            ck_assert_msg(local_utoff(local) == want, "%s at %lld: %s, system UTC%+d s",
                          crafted_ids[zi], (long long)instants[k], local, want);
            json_decref(j);
            checked++;
        }
    }
    ck_assert_int_ge(checked, 40);

    /* A second start finds the generated copy and leaves it alone. */
    ck_assert_int_eq(stat(stamp, &st2), 0);
    ck_assert_int_eq(st1.st_mtim.tv_nsec, st2.st_mtim.tv_nsec);
    ck_assert_int_eq(st1.st_ino, st2.st_ino);
    {
        char *argv[] = {"version", "--config", cfg, NULL};
        char env_tzdir[600], *env[] = {env_tzdir, NULL}, *out = NULL;

        snprintf(env_tzdir, sizeof(env_tzdir), "TZDIR=%s", tzdir);
        ck_assert_int_eq(ts_zoneci_run(argv, env, &out, NULL), 0);
        ck_assert_ptr_nonnull(
            strstr(out, "time-zone data 2099a, generated from the system's tzdata"));
        free(out);
    }
    if (saved_dir)
        setenv("TZDIR", saved_dir, 1);
    else
        unsetenv("TZDIR");
    ts_tz_restore();
    free(saved_dir);
    free(cfg);
    ts_rmtree(dir);
    free(dir);
}
END_TEST

/* Without genrb the start goes on, says why loudly, and computes with ICU's own data. */
START_TEST(generation_failure_falls_back_to_icu)
{
    char *dir = crafted_zoneinfo("slim", "2099b");
    static const char *const utc[] = {"Etc/UTC"};
    char tzdir[512], *cfg = write_config(dir, utc, 1), *err = NULL;
    json_t *j;

    snprintf(tzdir, sizeof(tzdir), "%s/zoneinfo", dir);
    j = windows_at(cfg, tzdir, "/nonexistent", ts_iso("2026-07-15T12:00:00Z"), &err);
    ck_assert_ptr_nonnull(strstr(err, "warning: cannot generate time-zone data"));
    ck_assert_ptr_nonnull(strstr(err, "genrb not found"));
    ck_assert_ptr_nonnull(strstr(err, "ICU's bundled data"));
    ck_assert_str_ne(json_string_value(json_object_get(j, "tz_data_version")), "2099b");
    json_decref(j);
    free(err);
    free(cfg);
    ts_rmtree(dir);
    free(dir);
}
END_TEST

Suite *suite_scheduler_tzdata(void)
{
    Suite *s = suite_create("scheduler_tzdata");
    TCase *tc = tcase_create("tzdata");

    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, tzif_files_read_as_zic_wrote_them);
    tcase_add_test(tc, malformed_tzif_is_refused);
    tcase_add_test(tc, posix_rules_match_glibc);
    tcase_add_test(tc, posix_strings_refused_with_a_reason);
    tcase_add_test(tc, tzif_offsets_match_glibc_everywhere);
    tcase_add_test(tc, system_check_leaves_tz_alone);
    tcase_add_test(tc, generated_from_newer_system_tzdata_at_start);
    tcase_add_test(tc, generation_failure_falls_back_to_icu);
    suite_add_tcase(s, tc);
    return s;
}
