/*
 * A fake libnvidia-ml.so.1 for tests and demos: the subset of NVML the agent calls, with the GPUs, MIG profile
 * tables, placements, processes, health counters and injected failures of one simulated server read from a JSON
 * state file. Nothing here touches a real GPU.
 *
 * Environment:
 *   FAKE_NVML_STATE      the state file (hardware-fixtures/<server>/nvml.json); required
 *   FAKE_NVML_MIG_STATE  optional: MIG mode and instances are written here after every change and read at init,
 *                        so a second process (the CLI, the next test) sees the first one's layout
 *   FAKE_NVML_EVENTS     optional: an append-only file of events "<gpu index> <event type> <event data>" that
 *                        nvmlEventSetWait_v2 delivers (and applies: GPU unavailable / recovery); a line
 *                        "<gpu index> lost" makes that GPU fall off the bus without an event: the wait that reads
 *                        it returns NVML_ERROR_GPU_IS_LOST ("if a GPU has fallen off the bus", nvml.h)
 *   FAKE_NVML_SYSFS_ROOT optional: a sysfs tree; a non-empty bus/pci/devices/<bus id>/reset file completes that
 *                        one GPU's pending MIG mode change (the function-level reset), then is truncated
 *   FAKE_NVML_IDENTITY   optional: lines "<gpu index> uuid <value>" or "<gpu index> busId <value>" that replace
 *                        what the state file gives that GPU, read again at every nvmlDeviceGetUUID and
 *                        nvmlDeviceGetPciInfo_v3 (a GPU that reports another identity after start, as after a
 *                        reset or a driver fault); a GPU without a line reports the state file's
 *
 * Rules enforced as the real driver does: placements only at the profile's possible placements, no overlap of
 * memory slices (NVML_ERROR_INSUFFICIENT_RESOURCES), per-profile instance counts, the compute-slice budget, GPU
 * instances with compute instances cannot be destroyed (NVML_ERROR_IN_USE), compute instances sit at placements
 * aligned to their size inside their GPU instance without overlap (nvmlGpuInstanceCreateComputeInstanceWithPlacement
 * takes one; the plain create takes the first free), MIG mode changes report IN_USE while
 * processes run and RESET_REQUIRED where the fixture says so.
 * Injected failures ("failures": [{function, return, times, after}]) fail a function "times" times (-1: always)
 * after letting its first "after" calls succeed, so a test can break an apply midway; on
 * nvmlDeviceGetHandleByIndex_v2 that is a GPU without a handle. Two GPUs may be given one "uuid" or "busId" (a
 * driver fault the agent must detect). Injected field failures
 * ("fieldFailures": [{fieldId, return}]) give one field of nvmlDeviceGetFieldValues its own error code while the
 * call and the other fields succeed, as the real driver does. Power: "powerMilliwatts" is field 186
 * (NVML_FI_DEV_POWER_INSTANT), "powerUsageMilliwatts" what nvmlDeviceGetPowerUsage returns (the averaged reading DCGM
 * reports; the instant one when not given). Every exported call is counted
 * (fakeNvmlCallCount) so benchmarks can report NVML calls per poll.
 */
#define _GNU_SOURCE
#include "fake_nvml_types.h"
#include "json.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <pthread.h>
#include <sys/stat.h>

#define EXPORT __attribute__((visibility("default")))
#define MAX_GPUS 16
#define MAX_PROFILES 24
#define MAX_PLACEMENTS 16
#define MAX_GI 16
#define MAX_CI 8
#define MAX_LINKS 18
#define MAX_PROCS 16
#define MAX_FAILURES 8
#define MAX_COUNTERS 96

struct profile {
    unsigned int index, id, sliceCount, instanceCount, sm, ce, dec, enc, jpeg, ofa, p2p;
    unsigned long long memMB;
    char name[96];
    int nplace;
    nvmlGpuInstancePlacement_t place[MAX_PLACEMENTS];
};

struct table {
    char name[48];
    int nprof;
    int emptyNames; /* "emptyProfileNames": answer profile info with an empty name, as an H100 on driver 580.159.04 did */
    unsigned int computeSlices;
    struct profile prof[MAX_PROFILES];
};

struct fake_ci { struct fake_gi *gi; int used; unsigned int id, profileId, start, size; };

struct fake_gi {
    struct fake_device *dev;
    int used;
    unsigned int id, profileId;
    nvmlGpuInstancePlacement_t placement;
    struct fake_ci ci[MAX_CI];
};

struct failure { char fn[64]; nvmlReturn_t rc; int times; /* -1: always */ int after; /* calls that succeed first */ };

struct fake_device {
    int index;
    char busId[32], name[96], uuid[96], serial[32];
    char stateBusId[32], stateUuid[96]; /* as the state file gives them (FAKE_NVML_IDENTITY overrides the others) */
    unsigned int pciDeviceId, pciSubSystemId;
    unsigned long long memTotalMB, memUsedMB, memReservedMB;
    int numa, persistence, migCapable, migCurrent, migPending, migNeedsReset, virtMode, lost;
    unsigned long cpuMask[16];
    int nlinks;
    int linkActive[MAX_LINKS];
    char linkRemote[MAX_LINKS][32];
    int hasFabric;
    unsigned int fabricState, fabricClique, fabricHealth;
    nvmlReturn_t fabricStatus;
    unsigned char fabricCluster[16];
    unsigned long long sbeVol, dbeVol, sbeAgg, dbeAgg;
    unsigned int remapCor, remapUnc, remapPending, remapFailure, retiredPending, memTempC, powerMw, powerUsageMw;
    unsigned int gpuUtil, memUtil, encUtil, decUtil, gpuTempC, smClockMHz, memClockMHz, pcieReplays;
    unsigned long long energyMj;
    int nprocs;
    nvmlProcessInfo_t procs[MAX_PROCS];
    struct table *table;
    struct fake_gi gi[MAX_GI];
    int nfail;
    struct failure fail[MAX_FAILURES];
    int nfieldfail;
    struct { unsigned int fieldId; nvmlReturn_t rc; } fieldfail[MAX_FAILURES];
};

struct fake_event_set { unsigned long long mask[MAX_GPUS]; long offset; };

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static int g_init;
static int g_ngpus;
static struct fake_device g_gpus[MAX_GPUS];
static int g_ntables;
static struct table g_tables[8];
static char g_driver[80] = "550.54.15";
static nvmlReturn_t g_refuseProfileInfoV3; /* "refuseProfileInfoV3": what a driver before R545 answers a v3 struct */
static int g_cuda = 12040;
static const char *g_counter_names[MAX_COUNTERS];
static unsigned long long g_counts[MAX_COUNTERS];
static int g_ncounters;
static unsigned long long g_total_calls;

/* ---- call counting ---------------------------------------------------------------------------------------- */

static void count_call(const char *fn, int *slot)
{
    pthread_mutex_lock(&g_lock);
    if (*slot < 0 && g_ncounters < MAX_COUNTERS) {
        *slot = g_ncounters;
        g_counter_names[g_ncounters++] = fn;
    }
    if (*slot >= 0) g_counts[*slot]++;
    g_total_calls++;
    pthread_mutex_unlock(&g_lock);
}
#define COUNT() static int _slot = -1; count_call(__func__, &_slot)

/* Calls of one exported function since the last reset; NULL: all calls. */
EXPORT unsigned long long fakeNvmlCallCount(const char *fn)
{
    if (!fn) return g_total_calls;
    for (int i = 0; i < g_ncounters; i++)
        if (strcmp(g_counter_names[i], fn) == 0) return g_counts[i];
    return 0;
}

EXPORT void fakeNvmlResetCallCounts(void)
{
    pthread_mutex_lock(&g_lock);
    memset(g_counts, 0, sizeof g_counts);
    g_total_calls = 0;
    pthread_mutex_unlock(&g_lock);
}

/* ---- state loading ---------------------------------------------------------------------------------------- */

static nvmlReturn_t return_by_name(const char *name)
{
    static const struct { const char *n; nvmlReturn_t rc; } names[] = {
        {"NOT_SUPPORTED", NVML_ERROR_NOT_SUPPORTED}, {"NO_PERMISSION", NVML_ERROR_NO_PERMISSION},
        {"NOT_FOUND", NVML_ERROR_NOT_FOUND}, {"GPU_IS_LOST", NVML_ERROR_GPU_IS_LOST},
        {"RESET_REQUIRED", NVML_ERROR_RESET_REQUIRED}, {"IN_USE", NVML_ERROR_IN_USE},
        {"INSUFFICIENT_RESOURCES", NVML_ERROR_INSUFFICIENT_RESOURCES}, {"INVALID_STATE", NVML_ERROR_INVALID_STATE},
        {"INVALID_ARGUMENT", NVML_ERROR_INVALID_ARGUMENT}, {"UNKNOWN", NVML_ERROR_UNKNOWN}, {"TIMEOUT", NVML_ERROR_TIMEOUT},
        {"ARGUMENT_VERSION_MISMATCH", NVML_ERROR_ARGUMENT_VERSION_MISMATCH}, {"FUNCTION_NOT_FOUND", NVML_ERROR_FUNCTION_NOT_FOUND},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(names[i].n, name) == 0) return names[i].rc;
    return NVML_ERROR_UNKNOWN;
}

static void copy_str(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src ? src : "");
}

static void parse_cpu_list(struct fake_device *d, const char *list)
{
    /* "0-55,112-167" as in sysfs local_cpulist */
    const char *p = list;
    while (p && *p) {
        char *end;
        long a = strtol(p, &end, 10), b = a;
        if (*end == '-') b = strtol(end + 1, &end, 10);
        for (long c = a; c <= b && c < 16 * 64; c++) d->cpuMask[c / 64] |= 1UL << (c % 64);
        p = *end == ',' ? end + 1 : NULL;
    }
}

static void load_table(struct table *t, const char *name, const jnode *j)
{
    memset(t, 0, sizeof *t); /* a reload (nvmlInit after the last nvmlShutdown) starts from scratch */
    copy_str(t->name, sizeof t->name, name);
    t->emptyNames = json_bool(j, "emptyProfileNames", 0);
    jnode *profs = json_get(j, "gpuInstanceProfiles");
    for (int i = 0; profs && i < profs->count && t->nprof < MAX_PROFILES; i++) {
        const jnode *pj = profs->items[i];
        struct profile *p = &t->prof[t->nprof++];
        p->id = (unsigned)json_num(pj, "id", 0);
        /* The index (NVML_GPU_INSTANCE_PROFILE_*) that nvmlDeviceGetGpuInstanceProfileInfo takes; every other call
           takes the id it returns. Real drivers number them differently (1g.10gb: index 0, id 19). */
        p->index = (unsigned)json_num(pj, "index", p->id);
        copy_str(p->name, sizeof p->name, json_str(pj, "name", ""));
        p->sliceCount = (unsigned)json_num(pj, "sliceCount", 1);
        p->instanceCount = (unsigned)json_num(pj, "instanceCount", 1);
        p->sm = (unsigned)json_num(pj, "multiprocessorCount", 0);
        p->ce = (unsigned)json_num(pj, "copyEngineCount", 0);
        p->dec = (unsigned)json_num(pj, "decoderCount", 0);
        p->enc = (unsigned)json_num(pj, "encoderCount", 0);
        p->jpeg = (unsigned)json_num(pj, "jpegCount", 0);
        p->ofa = (unsigned)json_num(pj, "ofaCount", 0);
        p->p2p = (unsigned)json_bool(pj, "p2p", 0);
        p->memMB = (unsigned long long)json_num(pj, "memorySizeMB", 0);
        jnode *pl = json_get(pj, "placements");
        for (int k = 0; pl && k < pl->count && p->nplace < MAX_PLACEMENTS; k++) {
            const jnode *pair = pl->items[k];
            if (pair->type != J_ARR || pair->count != 2) continue;
            p->place[p->nplace].start = (unsigned)pair->items[0]->num;
            p->place[p->nplace].size = (unsigned)pair->items[1]->num;
            p->nplace++;
        }
        if (p->sliceCount > t->computeSlices) t->computeSlices = p->sliceCount;
    }
}

static struct table *find_table(const char *name)
{
    for (int i = 0; i < g_ntables; i++)
        if (strcmp(g_tables[i].name, name) == 0) return &g_tables[i];
    return NULL;
}

static void load_gpu(struct fake_device *d, int index, const jnode *g)
{
    memset(d, 0, sizeof *d);
    d->index = index;
    copy_str(d->busId, sizeof d->busId, json_str(g, "busId", "0000:00:00.0"));
    copy_str(d->name, sizeof d->name, json_str(g, "name", "NVIDIA Simulated GPU"));
    copy_str(d->uuid, sizeof d->uuid, json_str(g, "uuid", "GPU-00000000-0000-0000-0000-000000000000"));
    memcpy(d->stateBusId, d->busId, sizeof d->stateBusId);
    memcpy(d->stateUuid, d->uuid, sizeof d->stateUuid);
    copy_str(d->serial, sizeof d->serial, json_str(g, "serial", "0000000000000"));
    d->pciDeviceId = (unsigned)strtoul(json_str(g, "pciDeviceId", "0x000010de"), NULL, 0);
    d->pciSubSystemId = (unsigned)strtoul(json_str(g, "pciSubSystemId", "0x0"), NULL, 0);
    d->memTotalMB = (unsigned long long)json_num(g, "memoryTotalMB", 0);
    d->memUsedMB = (unsigned long long)json_num(g, "memoryUsedMB", 0);
    d->memReservedMB = (unsigned long long)json_num(g, "memoryReservedMB", 0);
    d->numa = (int)json_num(g, "numaNode", -1);
    parse_cpu_list(d, json_str(g, "cpuAffinity", ""));
    d->persistence = json_bool(g, "persistenceMode", 1);
    d->migCapable = json_get(g, "profileTable") != NULL;
    d->migCurrent = d->migPending = json_bool(g, "migMode", 0);
    if (json_get(g, "migPendingMode")) d->migPending = json_bool(g, "migPendingMode", 0);
    d->migNeedsReset = json_bool(g, "migModeChangeNeedsReset", 0);
    d->virtMode = (int)json_num(g, "virtualizationMode", 0);
    d->lost = json_bool(g, "lost", 0);
    if (d->migCapable) d->table = find_table(json_str(g, "profileTable", ""));
    if (!d->table) d->migCapable = 0;
    jnode *links = json_get(g, "nvlinks");
    for (int i = 0; links && i < links->count && i < MAX_LINKS; i++) {
        d->linkActive[i] = json_bool(links->items[i], "active", 0);
        copy_str(d->linkRemote[i], sizeof d->linkRemote[i], json_str(links->items[i], "remoteBusId", ""));
        d->nlinks = i + 1;
    }
    jnode *fab = json_get(g, "fabric");
    if (fab) {
        d->hasFabric = 1;
        d->fabricState = (unsigned)json_num(fab, "state", 3);
        d->fabricStatus = (nvmlReturn_t)json_num(fab, "status", 0);
        d->fabricClique = (unsigned)json_num(fab, "cliqueId", 0);
        d->fabricHealth = (unsigned)json_num(fab, "healthMask", 0);
        const char *cu = json_str(fab, "clusterUuid", "");
        for (int i = 0; i < 16 && cu[2 * i] && cu[2 * i + 1]; i++) {
            char hex[3] = {cu[2 * i], cu[2 * i + 1], 0};
            d->fabricCluster[i] = (unsigned char)strtoul(hex, NULL, 16);
        }
    }
    jnode *ecc = json_get(g, "ecc");
    d->sbeVol = (unsigned long long)json_num(ecc, "singleBitVolatile", 0);
    d->dbeVol = (unsigned long long)json_num(ecc, "doubleBitVolatile", 0);
    d->sbeAgg = (unsigned long long)json_num(ecc, "singleBitAggregate", 0);
    d->dbeAgg = (unsigned long long)json_num(ecc, "doubleBitAggregate", 0);
    jnode *rr = json_get(g, "remappedRows");
    d->remapCor = (unsigned)json_num(rr, "correctable", 0);
    d->remapUnc = (unsigned)json_num(rr, "uncorrectable", 0);
    d->remapPending = (unsigned)json_bool(rr, "pending", 0);
    d->remapFailure = (unsigned)json_bool(rr, "failure", 0);
    d->retiredPending = (unsigned)json_bool(g, "retiredPagesPending", 0);
    d->memTempC = (unsigned)json_num(g, "memoryTemperatureC", 45);
    d->powerMw = (unsigned)json_num(g, "powerMilliwatts", 70000);
    /* nvmlDeviceGetPowerUsage (averaged over a second on newer GPUs); field 186 (POWER_INSTANT) gives powerMw. */
    d->powerUsageMw = (unsigned)json_num(g, "powerUsageMilliwatts", d->powerMw);
    /* Simulated readings (an H100 SXM at light load) unless the state file gives them. */
    d->gpuUtil = (unsigned)json_num(g, "gpuUtilPercent", 12);
    d->memUtil = (unsigned)json_num(g, "memCopyUtilPercent", 3);
    d->encUtil = (unsigned)json_num(g, "encoderUtilPercent", 0);
    d->decUtil = (unsigned)json_num(g, "decoderUtilPercent", 0);
    d->gpuTempC = (unsigned)json_num(g, "gpuTemperatureC", 38);
    d->smClockMHz = (unsigned)json_num(g, "smClockMHz", 1980);
    d->memClockMHz = (unsigned)json_num(g, "memClockMHz", 2619);
    d->pcieReplays = (unsigned)json_num(g, "pcieReplays", 0);
    d->energyMj = (unsigned long long)json_num(g, "energyMillijoules", 123456789);
    jnode *procs = json_get(g, "processes");
    for (int i = 0; procs && i < procs->count && i < MAX_PROCS; i++) {
        d->procs[i].pid = (unsigned)json_num(procs->items[i], "pid", 0);
        d->procs[i].usedGpuMemory = (unsigned long long)json_num(procs->items[i], "usedMB", 0) << 20;
        d->procs[i].gpuInstanceId = (unsigned)json_num(procs->items[i], "gpuInstanceId", 0xFFFFFFFF);
        d->procs[i].computeInstanceId = (unsigned)json_num(procs->items[i], "computeInstanceId", 0xFFFFFFFF);
        d->nprocs = i + 1;
    }
    jnode *fails = json_get(g, "failures");
    for (int i = 0; fails && i < fails->count && i < MAX_FAILURES; i++) {
        copy_str(d->fail[i].fn, sizeof d->fail[i].fn, json_str(fails->items[i], "function", ""));
        d->fail[i].rc = return_by_name(json_str(fails->items[i], "return", "UNKNOWN"));
        d->fail[i].times = (int)json_num(fails->items[i], "times", -1);
        d->fail[i].after = (int)json_num(fails->items[i], "after", 0);
        d->nfail = i + 1;
    }
    jnode *fieldFails = json_get(g, "fieldFailures");
    for (int i = 0; fieldFails && i < fieldFails->count && i < MAX_FAILURES; i++) {
        d->fieldfail[i].fieldId = (unsigned)json_num(fieldFails->items[i], "fieldId", 0);
        d->fieldfail[i].rc = return_by_name(json_str(fieldFails->items[i], "return", "UNKNOWN"));
        d->nfieldfail = i + 1;
    }
    for (int i = 0; i < MAX_GI; i++) d->gi[i].dev = d;
}

static struct fake_gi *gi_slot(struct fake_device *d, unsigned id)
{
    for (int i = 0; i < MAX_GI; i++)
        if (d->gi[i].used && d->gi[i].id == id) return &d->gi[i];
    return NULL;
}

static void load_mig_state(void)
{
    const char *path = getenv("FAKE_NVML_MIG_STATE");
    FILE *f = path ? fopen(path, "r") : NULL;
    if (!f) return;
    for (int i = 0; i < g_ngpus; i++) memset(g_gpus[i].gi, 0, sizeof g_gpus[i].gi);
    for (int i = 0; i < g_ngpus; i++) for (int k = 0; k < MAX_GI; k++) g_gpus[i].gi[k].dev = &g_gpus[i];
    char line[256];
    while (fgets(line, sizeof line, f)) {
        unsigned a, b, c, e, s, z, y;
        if (sscanf(line, "mode %u %u %u", &a, &b, &c) == 3 && a < (unsigned)g_ngpus) {
            g_gpus[a].migCurrent = (int)b;
            g_gpus[a].migPending = (int)c;
        } else if (sscanf(line, "gi %u %u %u %u %u", &a, &b, &c, &s, &z) == 5 && a < (unsigned)g_ngpus) {
            for (int k = 0; k < MAX_GI; k++) {
                struct fake_gi *gi = &g_gpus[a].gi[k];
                if (gi->used) continue;
                gi->used = 1; gi->id = b; gi->profileId = c; gi->placement.start = s; gi->placement.size = z;
                break;
            }
        } else if (sscanf(line, "ci %u %u %u %u %u %u", &a, &b, &c, &e, &s, &y) == 6 && a < (unsigned)g_ngpus) {
            struct fake_gi *gi = gi_slot(&g_gpus[a], b);
            for (int k = 0; gi && k < MAX_CI; k++) {
                if (gi->ci[k].used) continue;
                gi->ci[k] = (struct fake_ci){gi, 1, c, e, s, y};
                break;
            }
        }
    }
    fclose(f);
}

static void save_mig_state(void)
{
    const char *path = getenv("FAKE_NVML_MIG_STATE");
    if (!path) return;
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) return;
    for (int i = 0; i < g_ngpus; i++) {
        struct fake_device *d = &g_gpus[i];
        fprintf(f, "mode %d %d %d\n", i, d->migCurrent, d->migPending);
        for (int k = 0; k < MAX_GI; k++) {
            struct fake_gi *gi = &d->gi[k];
            if (!gi->used) continue;
            fprintf(f, "gi %d %u %u %u %u\n", i, gi->id, gi->profileId, gi->placement.start, gi->placement.size);
            for (int c = 0; c < MAX_CI; c++)
                if (gi->ci[c].used)
                    fprintf(f, "ci %d %u %u %u %u %u\n", i, gi->id, gi->ci[c].id, gi->ci[c].profileId, gi->ci[c].start, gi->ci[c].size);
        }
    }
    fflush(f);
    fsync(fileno(f));
    fclose(f);
    rename(tmp, path);
}

static nvmlReturn_t load_state(void)
{
    const char *path = getenv("FAKE_NVML_STATE");
    if (!path) {
        fprintf(stderr, "fake libnvidia-ml: FAKE_NVML_STATE is not set\n");
        return NVML_ERROR_UNKNOWN; /* like a driver that is not loaded */
    }
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "fake libnvidia-ml: cannot open %s\n", path);
        return NVML_ERROR_UNKNOWN;
    }
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc((size_t)len + 1);
    size_t got = fread(text, 1, (size_t)len, f);
    text[got] = 0;
    fclose(f);
    char err[128];
    jnode *root = json_parse(text, err, sizeof err);
    free(text);
    if (!root) {
        fprintf(stderr, "fake libnvidia-ml: %s: %s\n", path, err);
        return NVML_ERROR_UNKNOWN;
    }
    copy_str(g_driver, sizeof g_driver, json_str(root, "driverVersion", "550.54.15"));
    g_cuda = (int)json_num(root, "cudaDriverVersion", 12040);
    g_refuseProfileInfoV3 = json_get(root, "refuseProfileInfoV3") ? return_by_name(json_str(root, "refuseProfileInfoV3", "")) : NVML_SUCCESS;
    g_ntables = 0;
    jnode *tables = json_get(root, "profileTables");
    for (int i = 0; tables && i < tables->count && g_ntables < 8; i++)
        load_table(&g_tables[g_ntables++], tables->items[i]->key, tables->items[i]);
    jnode *gpus = json_get(root, "gpus");
    g_ngpus = 0;
    for (int i = 0; gpus && i < gpus->count && i < MAX_GPUS; i++) load_gpu(&g_gpus[g_ngpus++], i, gpus->items[i]);
    load_mig_state();
    return NVML_SUCCESS;
}

/* ---- helpers ------------------------------------------------------------------------------------------------ */

/* An injected failure for this call on this device, if any (consumes one of its "times"). */
static nvmlReturn_t injected(struct fake_device *d, const char *fn)
{
    for (int i = 0; d && i < d->nfail; i++) {
        struct failure *f = &d->fail[i];
        if (strcmp(f->fn, fn) != 0 || f->times == 0) continue;
        if (f->after > 0) { f->after--; continue; }
        if (f->times > 0) f->times--;
        return f->rc;
    }
    return NVML_SUCCESS;
}

static void check_reset(struct fake_device *d)
{
    const char *root = getenv("FAKE_NVML_SYSFS_ROOT");
    if (!root) return;
    char path[4096];
    snprintf(path, sizeof path, "%s/bus/pci/devices/%s/reset", root, d->busId);
    for (char *p = path + strlen(root); *p; p++) if (*p >= 'A' && *p <= 'F') *p = (char)(*p + 32);
    struct stat st;
    if (stat(path, &st) != 0 || st.st_size == 0) return;
    d->migCurrent = d->migPending;
    memset(d->gi, 0, sizeof d->gi);
    for (int k = 0; k < MAX_GI; k++) d->gi[k].dev = d;
    d->lost = 0;
    FILE *f = fopen(path, "w");
    if (f) fclose(f);
    save_mig_state();
}

/* FAKE_NVML_IDENTITY: each GPU's UUID and bus id as the file says now, the state file's where it says nothing.
   Called with g_lock held. */
static void apply_identity(void)
{
    const char *path = getenv("FAKE_NVML_IDENTITY");
    if (!path || !*path) return;
    for (int i = 0; i < g_ngpus; i++) {
        memcpy(g_gpus[i].uuid, g_gpus[i].stateUuid, sizeof g_gpus[i].uuid);
        memcpy(g_gpus[i].busId, g_gpus[i].stateBusId, sizeof g_gpus[i].busId);
    }
    FILE *f = fopen(path, "r");
    if (!f) return;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        unsigned idx;
        char key[16], value[96];
        if (sscanf(line, "%u %15s %95s", &idx, key, value) != 3 || idx >= (unsigned)g_ngpus) continue;
        size_t n = strlen(value) + 1;
        if (strcmp(key, "uuid") == 0) memcpy(g_gpus[idx].uuid, value, n);
        else if (strcmp(key, "busId") == 0 && n <= sizeof g_gpus[idx].busId) memcpy(g_gpus[idx].busId, value, n);
    }
    fclose(f);
}

#define DEVICE_CALL(dev)                                                          \
    if (!g_init) return NVML_ERROR_UNINITIALIZED;                                 \
    if (!(dev)) return NVML_ERROR_INVALID_ARGUMENT;                               \
    check_reset(dev);                                                             \
    if ((dev)->lost) return NVML_ERROR_GPU_IS_LOST;                               \
    { nvmlReturn_t _inj = injected((dev), __func__); if (_inj) return _inj; }

static const struct profile *find_profile(const struct fake_device *d, unsigned id)
{
    if (!d->table) return NULL;
    for (int i = 0; i < d->table->nprof; i++)
        if (d->table->prof[i].id == id) return &d->table->prof[i];
    return NULL;
}

static const struct profile *find_profile_by_index(const struct fake_device *d, unsigned index)
{
    if (!d->table) return NULL;
    for (int i = 0; i < d->table->nprof; i++)
        if (d->table->prof[i].index == index) return &d->table->prof[i];
    return NULL;
}

static unsigned used_compute(const struct fake_device *d)
{
    unsigned sum = 0;
    for (int i = 0; i < MAX_GI; i++) {
        if (!d->gi[i].used) continue;
        const struct profile *p = find_profile(d, d->gi[i].profileId);
        sum += p ? p->sliceCount : 0;
    }
    return sum;
}

/* Why this placement cannot be created now, or NVML_SUCCESS. */
static nvmlReturn_t placement_blocked(const struct fake_device *d, const struct profile *p, nvmlGpuInstancePlacement_t pl)
{
    int valid = 0, same = 0;
    for (int i = 0; i < p->nplace; i++)
        if (p->place[i].start == pl.start && p->place[i].size == pl.size) valid = 1;
    if (!valid) return NVML_ERROR_INVALID_ARGUMENT;
    for (int i = 0; i < MAX_GI; i++) {
        const struct fake_gi *gi = &d->gi[i];
        if (!gi->used) continue;
        if (gi->profileId == p->id) same++;
        unsigned a0 = gi->placement.start, a1 = a0 + gi->placement.size, b0 = pl.start, b1 = b0 + pl.size;
        if (a0 < b1 && b0 < a1) return NVML_ERROR_INSUFFICIENT_RESOURCES;
    }
    if ((unsigned)same >= p->instanceCount) return NVML_ERROR_INSUFFICIENT_RESOURCES;
    if (used_compute(d) + p->sliceCount > d->table->computeSlices) return NVML_ERROR_INSUFFICIENT_RESOURCES;
    return NVML_SUCCESS;
}

static unsigned ci_slices(unsigned ciProfile)
{
    static const unsigned slices[] = {1, 2, 3, 4, 7, 8, 6, 1, 7};
    return ciProfile < sizeof slices / sizeof slices[0] ? slices[ciProfile] : 0;
}

/* ---- initialisation, system ------------------------------------------------------------------------------- */

EXPORT nvmlReturn_t nvmlInitWithFlags(unsigned int flags)
{
    COUNT();
    (void)flags;
    pthread_mutex_lock(&g_lock);
    nvmlReturn_t rc = NVML_SUCCESS;
    if (g_init++ == 0) rc = load_state();
    if (rc) g_init = 0;
    pthread_mutex_unlock(&g_lock);
    return rc;
}

EXPORT nvmlReturn_t nvmlInit_v2(void) { return nvmlInitWithFlags(0); }

EXPORT nvmlReturn_t nvmlShutdown(void)
{
    COUNT();
    if (!g_init) return NVML_ERROR_UNINITIALIZED;
    g_init--;
    return NVML_SUCCESS;
}

EXPORT const char *nvmlErrorString(nvmlReturn_t rc)
{
    switch (rc) {
    case NVML_SUCCESS: return "Success";
    case NVML_ERROR_NOT_SUPPORTED: return "Not Supported";
    case NVML_ERROR_GPU_IS_LOST: return "GPU is lost";
    case NVML_ERROR_IN_USE: return "In use by another client";
    case NVML_ERROR_INSUFFICIENT_RESOURCES: return "Insufficient resources";
    case NVML_ERROR_RESET_REQUIRED: return "GPU requires reset";
    default: return "Unknown Error";
    }
}

EXPORT nvmlReturn_t nvmlSystemGetDriverVersion(char *version, unsigned int length)
{
    COUNT();
    if (!g_init) return NVML_ERROR_UNINITIALIZED;
    if (strlen(g_driver) + 1 > length) return NVML_ERROR_INSUFFICIENT_SIZE;
    strcpy(version, g_driver);
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlSystemGetCudaDriverVersion(int *v)
{
    COUNT();
    if (!g_init) return NVML_ERROR_UNINITIALIZED;
    *v = g_cuda;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *count)
{
    COUNT();
    if (!g_init) return NVML_ERROR_UNINITIALIZED;
    *count = (unsigned)g_ngpus;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device)
{
    COUNT();
    if (!g_init) return NVML_ERROR_UNINITIALIZED;
    if (index >= (unsigned)g_ngpus) return NVML_ERROR_INVALID_ARGUMENT;
    /* nvml.h: NVML_ERROR_GPU_IS_LOST "if the target GPU has fallen off the bus or is otherwise inaccessible" (and
       NO_PERMISSION, UNKNOWN: injectable); a reset brings the GPU back as for every other call. */
    check_reset(&g_gpus[index]);
    if (g_gpus[index].lost) return NVML_ERROR_GPU_IS_LOST;
    { nvmlReturn_t _inj = injected(&g_gpus[index], __func__); if (_inj) return _inj; }
    *device = &g_gpus[index];
    return NVML_SUCCESS;
}

/* ---- device identity ---------------------------------------------------------------------------------------- */

static nvmlReturn_t copy_out(char *dst, unsigned length, const char *src)
{
    if (strlen(src) + 1 > length) return NVML_ERROR_INSUFFICIENT_SIZE;
    strcpy(dst, src);
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t d, char *name, unsigned int length) { COUNT(); DEVICE_CALL(d); return copy_out(name, length, d->name); }
EXPORT nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t d, char *uuid, unsigned int length)
{
    COUNT(); DEVICE_CALL(d);
    pthread_mutex_lock(&g_lock);
    apply_identity();
    nvmlReturn_t rc = copy_out(uuid, length, d->uuid);
    pthread_mutex_unlock(&g_lock);
    return rc;
}
EXPORT nvmlReturn_t nvmlDeviceGetSerial(nvmlDevice_t d, char *s, unsigned int length) { COUNT(); DEVICE_CALL(d); return copy_out(s, length, d->serial); }

static void fill_pci(nvmlPciInfo_t *pci, const char *busId, unsigned devId, unsigned subsys)
{
    memset(pci, 0, sizeof *pci);
    unsigned dom = 0, bus = 0, dev = 0, fn = 0;
    sscanf(busId, "%x:%x:%x.%x", &dom, &bus, &dev, &fn);
    pci->domain = dom; pci->bus = bus; pci->device = dev;
    pci->pciDeviceId = devId; pci->pciSubSystemId = subsys;
    /* NVML prints bus ids with an 8-digit domain and upper-case hex. */
    snprintf(pci->busId, sizeof pci->busId, "%08X:%02X:%02X.%X", dom, bus, dev, fn);
    snprintf(pci->busIdLegacy, sizeof pci->busIdLegacy, "%04X:%02X:%02X.%X", dom, bus, dev, fn);
}

EXPORT nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t d, nvmlPciInfo_t *pci)
{
    COUNT(); DEVICE_CALL(d); /* nvml.h documents GPU_IS_LOST here too */
    if (!pci) return NVML_ERROR_INVALID_ARGUMENT;
    pthread_mutex_lock(&g_lock);
    apply_identity();
    fill_pci(pci, d->busId, d->pciDeviceId, d->pciSubSystemId);
    pthread_mutex_unlock(&g_lock);
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t d, nvmlMemory_v2_t *m)
{
    COUNT(); DEVICE_CALL(d);
    if (m->version != nvmlMemory_v2) return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
    m->total = d->memTotalMB << 20;
    m->reserved = d->memReservedMB << 20;
    m->used = d->memUsedMB << 20;
    m->free = m->total - m->used - m->reserved;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetPersistenceMode(nvmlDevice_t d, int *mode) { COUNT(); DEVICE_CALL(d); *mode = d->persistence; return NVML_SUCCESS; }
EXPORT nvmlReturn_t nvmlDeviceGetVirtualizationMode(nvmlDevice_t d, int *mode) { COUNT(); DEVICE_CALL(d); *mode = d->virtMode; return NVML_SUCCESS; }

EXPORT nvmlReturn_t nvmlDeviceGetNumaNodeId(nvmlDevice_t d, unsigned int *node)
{
    COUNT(); DEVICE_CALL(d);
    if (d->numa < 0) return NVML_ERROR_NOT_SUPPORTED;
    *node = (unsigned)d->numa;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetCpuAffinity(nvmlDevice_t d, unsigned int size, unsigned long *set)
{
    COUNT(); DEVICE_CALL(d);
    for (unsigned i = 0; i < size; i++) set[i] = i < 16 ? d->cpuMask[i] : 0;
    return NVML_SUCCESS;
}

/* ---- NVLink, fabric -------------------------------------------------------------------------------------- */

EXPORT nvmlReturn_t nvmlDeviceGetNvLinkState(nvmlDevice_t d, unsigned int link, int *active)
{
    COUNT(); DEVICE_CALL(d);
    if (link >= (unsigned)d->nlinks) return d->nlinks ? NVML_ERROR_INVALID_ARGUMENT : NVML_ERROR_NOT_SUPPORTED;
    *active = d->linkActive[link];
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetNvLinkRemotePciInfo_v2(nvmlDevice_t d, unsigned int link, nvmlPciInfo_t *pci)
{
    COUNT(); DEVICE_CALL(d);
    if (link >= (unsigned)d->nlinks) return d->nlinks ? NVML_ERROR_INVALID_ARGUMENT : NVML_ERROR_NOT_SUPPORTED;
    fill_pci(pci, d->linkRemote[link], 0, 0);
    return NVML_SUCCESS;
}

/* Built with -DFAKE_NVML_BEFORE_R550 the library lacks this export, as drivers before R550 do. */
#ifdef FAKE_NVML_BEFORE_R550
#define FABRIC_EXPORT static __attribute__((unused))
#else
#define FABRIC_EXPORT EXPORT
#endif
FABRIC_EXPORT nvmlReturn_t nvmlDeviceGetGpuFabricInfoV(nvmlDevice_t d, nvmlGpuFabricInfo_v3_t *info)
{
    COUNT(); DEVICE_CALL(d);
    if (info->version != nvmlGpuFabricInfo_v3) return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
    if (!d->hasFabric) return NVML_ERROR_NOT_SUPPORTED;
    memcpy(info->clusterUuid, d->fabricCluster, 16);
    info->status = d->fabricStatus;
    info->cliqueId = d->fabricClique;
    info->state = (unsigned char)d->fabricState;
    info->healthMask = d->fabricHealth;
    info->healthSummary = 0;
    return NVML_SUCCESS;
}

/* ---- health counters ------------------------------------------------------------------------------------- */

EXPORT nvmlReturn_t nvmlDeviceGetTotalEccErrors(nvmlDevice_t d, int errorType, int counterType, unsigned long long *count)
{
    COUNT(); DEVICE_CALL(d);
    /* errorType 0 corrected (single bit), 1 uncorrected (double bit); counterType 0 volatile, 1 aggregate */
    *count = errorType == 0 ? (counterType == 0 ? d->sbeVol : d->sbeAgg) : (counterType == 0 ? d->dbeVol : d->dbeAgg);
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetRemappedRows(nvmlDevice_t d, unsigned int *cor, unsigned int *unc, unsigned int *pending, unsigned int *failure)
{
    COUNT(); DEVICE_CALL(d);
    *cor = d->remapCor; *unc = d->remapUnc; *pending = d->remapPending; *failure = d->remapFailure;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetRetiredPagesPendingStatus(nvmlDevice_t d, int *pending)
{
    COUNT(); DEVICE_CALL(d);
    *pending = (int)d->retiredPending;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t d, unsigned int *count, nvmlProcessInfo_t *infos)
{
    COUNT(); DEVICE_CALL(d);
    if (*count < (unsigned)d->nprocs) {
        *count = (unsigned)d->nprocs;
        return d->nprocs ? NVML_ERROR_INSUFFICIENT_SIZE : NVML_SUCCESS;
    }
    *count = (unsigned)d->nprocs;
    for (int i = 0; i < d->nprocs; i++) infos[i] = d->procs[i];
    return NVML_SUCCESS;
}

typedef struct { unsigned int gpu, memory; } nvmlUtilization_t;

EXPORT nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t d, nvmlUtilization_t *u)
{
    COUNT(); DEVICE_CALL(d);
    if (!u) return NVML_ERROR_INVALID_ARGUMENT;
    u->gpu = d->gpuUtil;
    u->memory = d->memUtil;
    return NVML_SUCCESS;
}

/* NVENC/NVDEC utilisation; the sampling period is what a real H100 reports with no video work (one second). */
EXPORT nvmlReturn_t nvmlDeviceGetEncoderUtilization(nvmlDevice_t d, unsigned int *utilization, unsigned int *samplingPeriodUs)
{
    COUNT(); DEVICE_CALL(d);
    if (!utilization || !samplingPeriodUs) return NVML_ERROR_INVALID_ARGUMENT;
    *utilization = d->encUtil;
    *samplingPeriodUs = 1000000;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetDecoderUtilization(nvmlDevice_t d, unsigned int *utilization, unsigned int *samplingPeriodUs)
{
    COUNT(); DEVICE_CALL(d);
    if (!utilization || !samplingPeriodUs) return NVML_ERROR_INVALID_ARGUMENT;
    *utilization = d->decUtil;
    *samplingPeriodUs = 1000000;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t d, int sensor, unsigned int *temp)
{
    COUNT(); DEVICE_CALL(d);
    if (!temp || sensor != 0) return NVML_ERROR_INVALID_ARGUMENT;
    *temp = d->gpuTempC;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t d, unsigned int *power)
{
    COUNT(); DEVICE_CALL(d);
    if (!power) return NVML_ERROR_INVALID_ARGUMENT;
    *power = d->powerUsageMw;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetClockInfo(nvmlDevice_t d, int type, unsigned int *clock)
{
    COUNT(); DEVICE_CALL(d);
    if (!clock) return NVML_ERROR_INVALID_ARGUMENT;
    switch (type) {
    case 0: case 1: *clock = d->smClockMHz; break; /* graphics and SM clocks are the same domain on H100 */
    case 2: *clock = d->memClockMHz; break;
    case 3: *clock = 1755; break;
    default: return NVML_ERROR_INVALID_ARGUMENT;
    }
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetFieldValues(nvmlDevice_t d, int count, nvmlFieldValue_t *values)
{
    COUNT(); DEVICE_CALL(d);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    for (int i = 0; i < count; i++) {
        nvmlFieldValue_t *v = &values[i];
        v->timestamp = (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
        v->latencyUsec = 0;
        v->nvmlReturn = NVML_SUCCESS;
        v->valueType = 3; /* unsigned long long */
        switch (v->fieldId) {
        case 3: v->value.ullVal = d->sbeVol; break;
        case 4: v->value.ullVal = d->dbeVol; break;
        case 5: v->value.ullVal = d->sbeAgg; break;
        case 6: v->value.ullVal = d->dbeAgg; break;
        case 31: v->value.ullVal = d->retiredPending; break;
        case 82: v->value.ullVal = d->memTempC; break;
        case 83: v->value.ullVal = d->energyMj; break;
        case 94: v->value.ullVal = d->pcieReplays; break;
        case 142: v->value.ullVal = d->remapCor; break;
        case 143: v->value.ullVal = d->remapUnc; break;
        case 144: v->value.ullVal = d->remapPending; break;
        case 145: v->value.ullVal = d->remapFailure; break;
        case 186: v->value.ullVal = d->powerMw; break;
        default: v->nvmlReturn = NVML_ERROR_NOT_SUPPORTED; break;
        }
        for (int k = 0; k < d->nfieldfail; k++)
            if (d->fieldfail[k].fieldId == v->fieldId) { v->nvmlReturn = d->fieldfail[k].rc; v->value.ullVal = 0; }
    }
    return NVML_SUCCESS;
}

/* ---- MIG mode ----------------------------------------------------------------------------------------------- */

EXPORT nvmlReturn_t nvmlDeviceGetMigMode(nvmlDevice_t d, unsigned int *current, unsigned int *pending)
{
    COUNT(); DEVICE_CALL(d);
    if (!d->migCapable) return NVML_ERROR_NOT_SUPPORTED;
    *current = (unsigned)d->migCurrent;
    *pending = (unsigned)d->migPending;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceSetMigMode(nvmlDevice_t d, unsigned int mode, nvmlReturn_t *activation)
{
    COUNT(); DEVICE_CALL(d);
    if (!d->migCapable) return NVML_ERROR_NOT_SUPPORTED;
    if (mode > 1) return NVML_ERROR_INVALID_ARGUMENT;
    for (int i = 0; i < MAX_GI; i++)
        if (d->gi[i].used && mode == 0) return NVML_ERROR_IN_USE;
    d->migPending = (int)mode;
    if (d->nprocs > 0) *activation = NVML_ERROR_IN_USE;
    else if (d->migNeedsReset && d->migCurrent != d->migPending) *activation = NVML_ERROR_RESET_REQUIRED;
    else {
        d->migCurrent = d->migPending;
        *activation = NVML_SUCCESS;
    }
    save_mig_state();
    return NVML_SUCCESS;
}

/* ---- GPU instances ------------------------------------------------------------------------------------------ */

EXPORT nvmlReturn_t nvmlDeviceGetGpuInstanceProfileInfoV(nvmlDevice_t d, unsigned int profile, nvmlGpuInstanceProfileInfo_v2_t *info)
{
    COUNT(); DEVICE_CALL(d);
    if (!d->migCapable) return NVML_ERROR_NOT_SUPPORTED;
    const struct profile *p = find_profile_by_index(d, profile);
    if (!p) return NVML_ERROR_NOT_SUPPORTED;
    if (info->version == nvmlGpuInstanceProfileInfo_v3 && g_refuseProfileInfoV3) return g_refuseProfileInfoV3;
    if (info->version == nvmlGpuInstanceProfileInfo_v3) {
        nvmlGpuInstanceProfileInfo_v3_t *v3 = (nvmlGpuInstanceProfileInfo_v3_t *)info;
        v3->id = p->id; v3->sliceCount = p->sliceCount; v3->instanceCount = p->instanceCount;
        v3->multiprocessorCount = p->sm; v3->copyEngineCount = p->ce; v3->decoderCount = p->dec;
        v3->encoderCount = p->enc; v3->jpegCount = p->jpeg; v3->ofaCount = p->ofa; v3->memorySizeMB = p->memMB;
        copy_str(v3->name, sizeof v3->name, d->table->emptyNames ? "" : p->name);
        v3->capabilities = p->p2p ? 1 : 0;
        return NVML_SUCCESS;
    }
    if (info->version != nvmlGpuInstanceProfileInfo_v2) return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
    info->id = p->id; info->isP2pSupported = p->p2p; info->sliceCount = p->sliceCount;
    info->instanceCount = p->instanceCount; info->multiprocessorCount = p->sm; info->copyEngineCount = p->ce;
    info->decoderCount = p->dec; info->encoderCount = p->enc; info->jpegCount = p->jpeg; info->ofaCount = p->ofa;
    info->memorySizeMB = p->memMB;
    copy_str(info->name, sizeof info->name, d->table->emptyNames ? "" : p->name);
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetGpuInstancePossiblePlacements_v2(nvmlDevice_t d, unsigned int profileId, nvmlGpuInstancePlacement_t *placements, unsigned int *count)
{
    COUNT(); DEVICE_CALL(d);
    if (!d->migCapable) return NVML_ERROR_NOT_SUPPORTED;
    const struct profile *p = find_profile(d, profileId);
    if (!p) return NVML_ERROR_INVALID_ARGUMENT; /* as a real H100 answers an id no profile has (driver 580.159.04) */
    if (!placements) { *count = (unsigned)p->nplace; return NVML_SUCCESS; }
    /* A buffer given "must be large enough" (nvml.h): count is output-only */
    for (int i = 0; i < p->nplace; i++) placements[i] = p->place[i];
    *count = (unsigned)p->nplace;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetGpuInstanceRemainingCapacity(nvmlDevice_t d, unsigned int profileId, unsigned int *count)
{
    COUNT(); DEVICE_CALL(d);
    if (!d->migCapable || !d->migCurrent) return NVML_ERROR_NOT_SUPPORTED;
    const struct profile *p = find_profile(d, profileId);
    if (!p) return NVML_ERROR_NOT_SUPPORTED;
    /* How many more fit, greedily by placement order (as the driver counts). */
    struct fake_device copy = *d;
    unsigned n = 0;
    for (int i = 0; i < p->nplace; i++) {
        if (placement_blocked(&copy, p, p->place[i]) != NVML_SUCCESS) continue;
        for (int k = 0; k < MAX_GI; k++) {
            if (copy.gi[k].used) continue;
            copy.gi[k].used = 1; copy.gi[k].profileId = p->id; copy.gi[k].placement = p->place[i];
            break;
        }
        n++;
    }
    *count = n;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceCreateGpuInstanceWithPlacement(nvmlDevice_t d, unsigned int profileId, const nvmlGpuInstancePlacement_t *placement, nvmlGpuInstance_t *out)
{
    COUNT(); DEVICE_CALL(d);
    if (!d->migCapable) return NVML_ERROR_NOT_SUPPORTED;
    if (!d->migCurrent) return NVML_ERROR_INVALID_STATE;
    const struct profile *p = find_profile(d, profileId);
    if (!p || !placement) return NVML_ERROR_INVALID_ARGUMENT;
    nvmlReturn_t rc = placement_blocked(d, p, *placement);
    if (rc) return rc;
    unsigned id = 1;
    while (gi_slot(d, id)) id++;
    for (int k = 0; k < MAX_GI; k++) {
        struct fake_gi *gi = &d->gi[k];
        if (gi->used) continue;
        memset(gi, 0, sizeof *gi);
        gi->dev = d; gi->used = 1; gi->id = id; gi->profileId = profileId; gi->placement = *placement;
        *out = gi;
        save_mig_state();
        return NVML_SUCCESS;
    }
    return NVML_ERROR_INSUFFICIENT_RESOURCES;
}

EXPORT nvmlReturn_t nvmlGpuInstanceDestroy(nvmlGpuInstance_t gi)
{
    COUNT();
    if (!g_init) return NVML_ERROR_UNINITIALIZED;
    if (!gi || !gi->used) return NVML_ERROR_INVALID_ARGUMENT;
    DEVICE_CALL(gi->dev);
    for (int c = 0; c < MAX_CI; c++) if (gi->ci[c].used) return NVML_ERROR_IN_USE;
    for (int i = 0; i < gi->dev->nprocs; i++) if (gi->dev->procs[i].gpuInstanceId == gi->id) return NVML_ERROR_IN_USE;
    gi->used = 0;
    save_mig_state();
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetGpuInstances(nvmlDevice_t d, unsigned int profileId, nvmlGpuInstance_t *instances, unsigned int *count)
{
    COUNT(); DEVICE_CALL(d);
    if (!d->migCapable) return NVML_ERROR_NOT_SUPPORTED;
    if (!find_profile(d, profileId)) return NVML_ERROR_NOT_SUPPORTED;
    unsigned n = 0;
    for (int k = 0; k < MAX_GI; k++) {
        if (!d->gi[k].used || d->gi[k].profileId != profileId) continue;
        /* nvml.h: the buffer "must be large enough"; count only returns how many were written */
        if (instances) instances[n] = &d->gi[k];
        n++;
    }
    *count = n;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlGpuInstanceGetInfo(nvmlGpuInstance_t gi, nvmlGpuInstanceInfo_t *info)
{
    COUNT();
    if (!g_init) return NVML_ERROR_UNINITIALIZED;
    if (!gi || !gi->used) return NVML_ERROR_INVALID_ARGUMENT;
    info->device = gi->dev; info->id = gi->id; info->profileId = gi->profileId; info->placement = gi->placement;
    return NVML_SUCCESS;
}

/* ---- compute instances ------------------------------------------------------------------------------------------ */

static const struct profile *gi_profile(const struct fake_gi *gi) { return find_profile(gi->dev, gi->profileId); }

EXPORT nvmlReturn_t nvmlGpuInstanceGetComputeInstanceProfileInfoV(nvmlGpuInstance_t gi, unsigned int profile, unsigned int engProfile, nvmlComputeInstanceProfileInfo_v2_t *info)
{
    COUNT();
    if (!g_init) return NVML_ERROR_UNINITIALIZED;
    if (!gi || !gi->used || engProfile != 0) return NVML_ERROR_INVALID_ARGUMENT;
    DEVICE_CALL(gi->dev);
    if (info->version != nvmlComputeInstanceProfileInfo_v2) return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
    const struct profile *gp = gi_profile(gi);
    unsigned s = ci_slices(profile);
    if (!gp || s == 0 || s > gp->sliceCount || profile == 5 || profile == 7 || profile == 8) return NVML_ERROR_NOT_SUPPORTED;
    info->id = profile; info->sliceCount = s; info->instanceCount = gp->sliceCount / s;
    info->multiprocessorCount = gp->sm * s / gp->sliceCount;
    info->sharedCopyEngineCount = gp->ce; info->sharedDecoderCount = gp->dec; info->sharedEncoderCount = gp->enc;
    info->sharedJpegCount = gp->jpeg; info->sharedOfaCount = gp->ofa;
    if (gi->dev->table->emptyNames) info->name[0] = 0;
    else if (s == gp->sliceCount) copy_str(info->name, sizeof info->name, gp->name);
    else snprintf(info->name, sizeof info->name, "%uc.%.80s", s, gp->name);
    return NVML_SUCCESS;
}

/* Whether a compute instance of s slices at start fits the GPU instance: inside it, aligned to its size (as the
   driver's possible placements are), and overlapping no compute instance there. */
static nvmlReturn_t ci_placement_blocked(const struct fake_gi *gi, const struct profile *gp, unsigned start, unsigned s)
{
    if (start % s != 0 || start + s > gp->sliceCount) return NVML_ERROR_INVALID_ARGUMENT;
    for (int c = 0; c < MAX_CI; c++)
        if (gi->ci[c].used && gi->ci[c].start < start + s && start < gi->ci[c].start + gi->ci[c].size)
            return NVML_ERROR_INSUFFICIENT_RESOURCES;
    return NVML_SUCCESS;
}

/* Creates a compute instance at start, or at the first free placement when start is NULL. */
static nvmlReturn_t create_ci(nvmlGpuInstance_t gi, unsigned int profileId, const unsigned *start, nvmlComputeInstance_t *out)
{
    const struct profile *gp = gi_profile(gi);
    unsigned s = ci_slices(profileId), at = 0;
    if (!gp || s == 0 || s > gp->sliceCount) return NVML_ERROR_NOT_SUPPORTED;
    if (start) {
        nvmlReturn_t rc = ci_placement_blocked(gi, gp, *start, s);
        if (rc) return rc;
        at = *start;
    } else {
        for (at = 0; at + s <= gp->sliceCount && ci_placement_blocked(gi, gp, at, s) != NVML_SUCCESS; at += s) {}
        if (at + s > gp->sliceCount) return NVML_ERROR_INSUFFICIENT_RESOURCES;
    }
    unsigned id = 0;
    for (int again = 1; again;) {
        again = 0;
        for (int c = 0; c < MAX_CI; c++) if (gi->ci[c].used && gi->ci[c].id == id) { id++; again = 1; }
    }
    for (int c = 0; c < MAX_CI; c++) {
        if (gi->ci[c].used) continue;
        gi->ci[c] = (struct fake_ci){gi, 1, id, profileId, at, s};
        *out = &gi->ci[c];
        save_mig_state();
        return NVML_SUCCESS;
    }
    return NVML_ERROR_INSUFFICIENT_RESOURCES;
}

EXPORT nvmlReturn_t nvmlGpuInstanceCreateComputeInstance(nvmlGpuInstance_t gi, unsigned int profileId, nvmlComputeInstance_t *out)
{
    COUNT();
    if (!g_init) return NVML_ERROR_UNINITIALIZED;
    if (!gi || !gi->used) return NVML_ERROR_INVALID_ARGUMENT;
    DEVICE_CALL(gi->dev);
    return create_ci(gi, profileId, NULL, out);
}

/* nvml.h: "Create compute instance with the specified placement" (one of
   nvmlGpuInstanceGetComputeInstancePossiblePlacements); INSUFFICIENT_RESOURCES when it cannot be created. */
EXPORT nvmlReturn_t nvmlGpuInstanceCreateComputeInstanceWithPlacement(nvmlGpuInstance_t gi, unsigned int profileId, const nvmlComputeInstancePlacement_t *placement, nvmlComputeInstance_t *out)
{
    COUNT();
    if (!g_init) return NVML_ERROR_UNINITIALIZED;
    if (!gi || !gi->used || !placement || !out) return NVML_ERROR_INVALID_ARGUMENT;
    DEVICE_CALL(gi->dev);
    if (placement->size != ci_slices(profileId)) return NVML_ERROR_INVALID_ARGUMENT;
    return create_ci(gi, profileId, &placement->start, out);
}

EXPORT nvmlReturn_t nvmlComputeInstanceDestroy(nvmlComputeInstance_t ci)
{
    COUNT();
    if (!g_init) return NVML_ERROR_UNINITIALIZED;
    if (!ci || !ci->used) return NVML_ERROR_INVALID_ARGUMENT;
    DEVICE_CALL(ci->gi->dev);
    struct fake_device *d = ci->gi->dev;
    for (int i = 0; i < d->nprocs; i++)
        if (d->procs[i].gpuInstanceId == ci->gi->id && d->procs[i].computeInstanceId == ci->id) return NVML_ERROR_IN_USE;
    ci->used = 0;
    save_mig_state();
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlGpuInstanceGetComputeInstances(nvmlGpuInstance_t gi, unsigned int profileId, nvmlComputeInstance_t *cis, unsigned int *count)
{
    COUNT();
    if (!g_init) return NVML_ERROR_UNINITIALIZED;
    if (!gi || !gi->used) return NVML_ERROR_INVALID_ARGUMENT;
    unsigned n = 0;
    for (int c = 0; c < MAX_CI; c++) {
        if (!gi->ci[c].used || gi->ci[c].profileId != profileId) continue;
        if (cis) cis[n] = &gi->ci[c]; /* count is output-only, as for the GPU instances */
        n++;
    }
    *count = n;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlComputeInstanceGetInfo_v2(nvmlComputeInstance_t ci, nvmlComputeInstanceInfo_t *info)
{
    COUNT();
    if (!g_init) return NVML_ERROR_UNINITIALIZED;
    if (!ci || !ci->used) return NVML_ERROR_INVALID_ARGUMENT;
    info->device = ci->gi->dev; info->gpuInstance = ci->gi; info->id = ci->id; info->profileId = ci->profileId;
    info->placement.start = ci->start; info->placement.size = ci->size;
    return NVML_SUCCESS;
}

/* ---- events ------------------------------------------------------------------------------------------------- */

EXPORT nvmlReturn_t nvmlEventSetCreate(nvmlEventSet_t *set)
{
    COUNT();
    if (!g_init) return NVML_ERROR_UNINITIALIZED;
    *set = calloc(1, sizeof **set);
    /* Only events appended after the set was created are delivered. */
    const char *path = getenv("FAKE_NVML_EVENTS");
    struct stat st;
    if (path && stat(path, &st) == 0) (*set)->offset = st.st_size;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceRegisterEvents(nvmlDevice_t d, unsigned long long types, nvmlEventSet_t set)
{
    COUNT(); DEVICE_CALL(d);
    if (!set) return NVML_ERROR_INVALID_ARGUMENT;
    set->mask[d->index] |= types;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlEventSetWait_v2(nvmlEventSet_t set, nvmlEventData_t *data, unsigned int timeoutms)
{
    COUNT();
    if (!g_init) return NVML_ERROR_UNINITIALIZED;
    if (!set || !data) return NVML_ERROR_INVALID_ARGUMENT;
    const char *path = getenv("FAKE_NVML_EVENTS");
    for (unsigned waited = 0;; waited += 10) {
        FILE *f = path ? fopen(path, "r") : NULL;
        if (f) {
            fseek(f, set->offset, SEEK_SET);
            char line[256];
            while (fgets(line, sizeof line, f)) {
                if (line[strlen(line) - 1] != '\n') break; /* a line still being written */
                set->offset = ftell(f);
                unsigned idx, gi = 0xFFFFFFFF;
                unsigned long long type, value;
                char word[8];
                if (sscanf(line, "%u %7s", &idx, word) == 2 && strcmp(word, "lost") == 0 && idx < (unsigned)g_ngpus) {
                    g_gpus[idx].lost = 1;
                    fclose(f);
                    return NVML_ERROR_GPU_IS_LOST;
                }
                if (sscanf(line, "%u %lli %llu %u", &idx, &type, &value, &gi) < 3 || idx >= (unsigned)g_ngpus) continue;
                struct fake_device *d = &g_gpus[idx];
                if (type == 0x4000ULL) d->lost = 1;                 /* GPU unavailable */
                if (type == 0x8000ULL && value == 0) d->lost = 0;   /* recovery action: none needed */
                if (!(set->mask[idx] & type)) continue;
                data->device = d; data->eventType = type; data->eventData = value;
                data->gpuInstanceId = gi; data->computeInstanceId = 0xFFFFFFFF;
                fclose(f);
                return NVML_SUCCESS;
            }
            fclose(f);
        }
        if (waited >= timeoutms) return NVML_ERROR_TIMEOUT;
        usleep(10000);
    }
}

EXPORT nvmlReturn_t nvmlEventSetFree(nvmlEventSet_t set)
{
    COUNT();
    free(set);
    return NVML_SUCCESS;
}
