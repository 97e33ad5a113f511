/*
 * Misuse of the API: every call gets its documented code and nothing
 * crashes. Then the same calls from several threads at once.
 *
 *   misuse OFFLINE-SERVER    a target in restore mode (no backup runs)
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "ntdsbcli.h"
#include "ntdsbmsg.h"

static int failures = 0;

static void expect(const char *what, HRESULT got, HRESULT want)
{
    if (got != want) {
        fprintf(stderr, "%s: 0x%08lx, expected 0x%08lx\n", what,
                (unsigned long)(DWORD)got, (unsigned long)(DWORD)want);
        failures++;
    }
}

#define EXPECT(call, want) expect(#call, (call), (want))

static const char *server;

static HBC restricted(void)
{
    HBC hbc = NULL;
    EXPECT(DsRestorePrepareA(server, RESTORE_TYPE_CATCHUP, NULL, 0, &hbc), S_OK);
    return hbc;
}

static void *worker(void *unused)
{
    int i;
    (void)unused;
    for (i = 0; i < 10; i++) {
        HBC hbc = restricted();
        LPSTR list = NULL;
        DWORD size = 0;
        BOOL online = TRUE;
        EXPECT(DsRestoreGetDatabaseLocationsA(hbc, &list, &size), S_OK);
        DsBackupFree(list);
        EXPECT(DsIsNTDSOnlineA(server, &online), S_OK);
        EXPECT(DsRestoreEnd(hbc), S_OK);
        EXPECT(DsRestoreEnd(hbc), ERROR_INVALID_PARAMETER);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    HBC hbc, live, forged;
    LPSTR list = NULL;
    DWORD size = 0, got = 0;
    BOOL online = TRUE;
    char buffer[32768];
    PVOID token = NULL;
    pthread_t threads[6];
    int i;

    if (argc != 2) return 2;
    server = argv[1];

    /* Ended handles. */
    hbc = restricted();
    EXPECT(DsRestoreEnd(hbc), S_OK);
    EXPECT(DsRestoreEnd(hbc), ERROR_INVALID_PARAMETER);
    EXPECT(DsRestoreGetDatabaseLocationsA(hbc, &list, &size), ERROR_INVALID_PARAMETER);
    EXPECT(DsRestoreRegisterComplete(hbc, S_OK), ERROR_INVALID_PARAMETER);

    /* Never issued, garbage, and a live handle with another generation. */
    EXPECT(DsRestoreEnd(NULL), ERROR_INVALID_PARAMETER);
    EXPECT(DsRestoreEnd((HBC)(uintptr_t)0x1234), ERROR_INVALID_PARAMETER);
    EXPECT(DsRestoreEnd((HBC)~(uintptr_t)0), ERROR_INVALID_PARAMETER);
    EXPECT(DsBackupRead((HBC)(uintptr_t)0xdeadbeef, buffer, sizeof buffer, &got),
           ERROR_INVALID_PARAMETER);
    live = restricted();
    forged = (HBC)((uintptr_t)live ^ ((uintptr_t)1 << 24));
    EXPECT(DsRestoreEnd(forged), ERROR_INVALID_PARAMETER);

    /* NULL out-pointers and parameters. */
    EXPECT(DsRestoreGetDatabaseLocationsA(live, NULL, &size), ERROR_INVALID_PARAMETER);
    EXPECT(DsRestoreGetDatabaseLocationsA(live, &list, NULL), ERROR_INVALID_PARAMETER);
    EXPECT(DsRestorePrepareA(server, RESTORE_TYPE_CATCHUP, NULL, 0, NULL), ERROR_INVALID_PARAMETER);
    EXPECT(DsIsNTDSOnlineA(server, NULL), ERROR_INVALID_PARAMETER);
    EXPECT(DsIsNTDSOnlineA(NULL, &online), ERROR_INVALID_PARAMETER);
    EXPECT(DsIsNTDSOnlineA("local:\xff\xfe", &online), ERROR_INVALID_PARAMETER);
    EXPECT(DsBackupPrepareA(server, 0, BACKUP_TYPE_FULL, NULL, &size, &hbc), hrInvalidParam);
    EXPECT(DsBackupPrepareA(server, 0, BACKUP_TYPE_FULL, &token, &size, NULL), ERROR_INVALID_PARAMETER);
    EXPECT(DsRestoreRegisterA(live, "c", "l", NULL, 1, "b", 1, 1), ERROR_INVALID_PARAMETER);
    EXPECT(DsRestorePrepareA(server, 0x80, NULL, 0, &hbc), ERROR_INVALID_PARAMETER);

    /* A restore handle is no backup handle, and survives being tried as one. */
    EXPECT(DsBackupClose(live), ERROR_INVALID_PARAMETER);
    EXPECT(DsBackupEnd(live), ERROR_INVALID_PARAMETER);
    EXPECT(DsBackupRead(live, buffer, sizeof buffer, &got), ERROR_INVALID_PARAMETER);
    EXPECT(DsRestoreGetDatabaseLocationsA(live, &list, &size), S_OK);
    DsBackupFree(list);
    EXPECT(DsRestoreEnd(live), S_OK);

    /* The target's answers come through as they are. */
    EXPECT(DsIsNTDSOnlineA(server, &online), S_OK);
    if (online) { fprintf(stderr, "the target should be offline\n"); failures++; }
    EXPECT(DsIsNTDSOnlineA("local:/nonexistent/dsrestore-target", &online), hrCouldNotConnect);
    EXPECT(DsBackupPrepareA(server, 0, BACKUP_TYPE_INCREMENTAL, &token, &size, &hbc),
           ERROR_INVALID_PARAMETER);

    DsBackupFree(NULL);

    for (i = 0; i < 6; i++) pthread_create(&threads[i], NULL, worker, NULL);
    for (i = 0; i < 6; i++) pthread_join(threads[i], NULL);

    if (failures) return 1;
    printf("ok\n");
    return 0;
}
