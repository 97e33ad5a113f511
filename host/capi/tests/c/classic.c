/*
 * A full backup and a full restore the classic ntdsbcli way, as a program
 * ported from Windows writes them. The tests build it twice: as is (the A
 * functions, UTF-8 strings) and with -DUNICODE (the W functions, UTF-16
 * strings), both through the plain names the header maps.
 *
 *   classic backup  SERVER DIR [DOMAIN USER PASSWORD]
 *       every file of SERVER into DIR, the expiry token into DIR/token,
 *       DIR/index names them
 *   classic restore SERVER DIR [DOMAIN USER PASSWORD]
 *       the files of DIR back onto SERVER
 * With DOMAIN USER PASSWORD, DsSetAuthIdentity first (for an agent).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ntdsbcli.h"
#include "ntdsbmsg.h"

#ifdef UNICODE
typedef WCHAR TCH;
#define EDB_OLD_NAME wszDatabaseName
#define EDB_NEW_NAME wszNewDatabaseName
#else
typedef char TCH;
#define EDB_OLD_NAME szDatabaseName
#define EDB_NEW_NAME szNewDatabaseName
#endif

static void fail(const char *what, HRESULT hr)
{
    fprintf(stderr, "%s failed: 0x%08lx\n", what, (unsigned long)(DWORD)hr);
    exit(1);
}

#define CHECK(call)                          \
    do {                                     \
        HRESULT hr_ = (call);                \
        if (hr_ != S_OK) fail(#call, hr_);   \
    } while (0)

static size_t tlen(const TCH *s)
{
    size_t n = 0;
    while (s[n]) n++;
    return n;
}

#ifdef UNICODE
/* UTF-8 to UTF-16, malloc'ed. */
static TCH *from_utf8(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    WCHAR *w = malloc((strlen(s) + 1) * sizeof *w), *o = w;
    while (*p) {
        unsigned long c;
        int extra;
        if (*p < 0x80) { c = *p; extra = 0; }
        else if ((*p & 0xE0) == 0xC0) { c = *p & 0x1F; extra = 1; }
        else if ((*p & 0xF0) == 0xE0) { c = *p & 0x0F; extra = 2; }
        else { c = *p & 0x07; extra = 3; }
        p++;
        while (extra-- > 0 && *p) c = (c << 6) | (*p++ & 0x3F);
        if (c >= 0x10000) {
            c -= 0x10000;
            *o++ = (WCHAR)(0xD800 + (c >> 10));
            *o++ = (WCHAR)(0xDC00 + (c & 0x3FF));
        } else {
            *o++ = (WCHAR)c;
        }
    }
    *o = 0;
    return w;
}

/* UTF-16 to UTF-8, malloc'ed. */
static char *to_utf8(const TCH *w)
{
    size_t n = tlen(w), i;
    char *s = malloc(n * 3 + 1), *o = s;
    for (i = 0; i < n; i++) {
        unsigned long c = w[i];
        if (c >= 0xD800 && c < 0xDC00 && i + 1 < n)
            c = 0x10000 + ((c - 0xD800) << 10) + (unsigned long)(w[++i] - 0xDC00);
        if (c < 0x80) {
            *o++ = (char)c;
        } else if (c < 0x800) {
            *o++ = (char)(0xC0 | (c >> 6));
            *o++ = (char)(0x80 | (c & 0x3F));
        } else if (c < 0x10000) {
            *o++ = (char)(0xE0 | (c >> 12));
            *o++ = (char)(0x80 | ((c >> 6) & 0x3F));
            *o++ = (char)(0x80 | (c & 0x3F));
        } else {
            *o++ = (char)(0xF0 | (c >> 18));
            *o++ = (char)(0x80 | ((c >> 12) & 0x3F));
            *o++ = (char)(0x80 | ((c >> 6) & 0x3F));
            *o++ = (char)(0x80 | (c & 0x3F));
        }
    }
    *o = 0;
    return s;
}
#else
static char *copy(const char *s)
{
    char *c = malloc(strlen(s) + 1);
    strcpy(c, s);
    return c;
}
static TCH *from_utf8(const char *s) { return copy(s); }
static char *to_utf8(const TCH *s) { return copy(s); }
#endif

/* An entry's BFT code, whatever the signedness of char. */
static unsigned bft_of(const TCH *entry)
{
#ifdef UNICODE
    return entry[0];
#else
    return (unsigned char)entry[0];
#endif
}

/* A list's size must cover its entries and both final terminators. */
static void check_list(const TCH *list, DWORD size)
{
    const TCH *e = list;
    while (*e) e += tlen(e) + 1;
    if ((size_t)size != (size_t)(e - list + 1) * sizeof(TCH)) {
        fprintf(stderr, "a list of %lu bytes holds %lu\n", (unsigned long)size,
                (unsigned long)((size_t)(e - list + 1) * sizeof(TCH)));
        exit(1);
    }
}

static char *join(const char *dir, const char *name)
{
    char *p = malloc(strlen(dir) + strlen(name) + 2);
    sprintf(p, "%s/%s", dir, name);
    return p;
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static void copy_out(HBC hbc, const TCH *entry, const char *dir, FILE *index)
{
    LARGE_INTEGER size;
    char buffer[65536];
    DWORD got = 0;
    HRESULT hr;
    long long total = 0;
    char *path = to_utf8(entry + 1);
    char *out_path = join(dir, base_name(path));
    FILE *out = fopen(out_path, "wb");
    if (!out) { perror(out_path); exit(1); }
    /* The name as listed, BFT character and all. */
    CHECK(DsBackupOpenFile(hbc, entry, sizeof buffer, &size));
    while ((hr = DsBackupRead(hbc, buffer, sizeof buffer, &got)) == S_OK) {
        fwrite(buffer, 1, got, out);
        total += got;
    }
    if (hr != ERROR_HANDLE_EOF) fail("DsBackupRead", hr);
    if (total != size.QuadPart) {
        fprintf(stderr, "%s: read %lld bytes of %lld\n", path, total, (long long)size.QuadPart);
        exit(1);
    }
    CHECK(DsBackupClose(hbc));
    fclose(out);
    fprintf(index, "%02x %s\n", bft_of(entry), path);
    free(path);
    free(out_path);
}

static void backup(const char *server, const char *dir)
{
    TCH *srv = from_utf8(server);
    BOOL online = FALSE;
    PVOID token = NULL;
    DWORD token_size = 0, size = 0;
    HBC hbc = NULL;
    TCH *names = NULL;
    const TCH *e;
    char *index_path = join(dir, "index"), *token_path = join(dir, "token");
    FILE *index = fopen(index_path, "w"), *token_file;

    CHECK(DsIsNTDSOnline(srv, &online));
    if (!online) { fprintf(stderr, "%s is offline\n", server); exit(1); }
    CHECK(DsBackupPrepare(srv, 0, BACKUP_TYPE_FULL, &token, &token_size, &hbc));
    token_file = fopen(token_path, "wb");
    fwrite(token, 1, token_size, token_file);
    fclose(token_file);
    DsBackupFree(token);

    CHECK(DsBackupGetDatabaseNames(hbc, &names, &size));
    check_list(names, size);
    for (e = names; *e; e += tlen(e) + 1) copy_out(hbc, e, dir, index);
    DsBackupFree(names);

    names = NULL;
    CHECK(DsBackupGetBackupLogs(hbc, &names, &size));
    check_list(names, size);
    for (e = names; *e; e += tlen(e) + 1) copy_out(hbc, e, dir, index);
    DsBackupFree(names);

    CHECK(DsBackupTruncateLogs(hbc));
    CHECK(DsBackupEnd(hbc));
    fclose(index);
    free(srv);
    free(index_path);
    free(token_path);
}

static void copy_file(const char *from, const char *to)
{
    char buffer[65536];
    size_t n;
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    if (!in) { perror(from); exit(1); }
    if (!out) { perror(to); exit(1); }
    while ((n = fread(buffer, 1, sizeof buffer, in)) > 0) fwrite(buffer, 1, n, out);
    fclose(in);
    if (fclose(out) != 0) { perror(to); exit(1); }
}

static void restore(const char *server, const char *dir)
{
    TCH *srv = from_utf8(server);
    BOOL online = TRUE;
    HBC hbc = NULL;
    TCH *locations = NULL, *database = NULL, *log_dir = NULL, *checkpoint_dir = NULL;
    TCH *original = NULL;
    DWORD size = 0, token_size;
    const TCH *e;
    char line[4096], *token_path = join(dir, "token"), *index_path = join(dir, "index");
    unsigned char token[4096];
    ULONG gen_low = 0xFFFFFFFFu, gen_high = 0;
    FILE *f;
    EDB_RSTMAP map[1];

    CHECK(DsIsNTDSOnline(srv, &online));
    if (online) { fprintf(stderr, "%s is online\n", server); exit(1); }
    f = fopen(token_path, "rb");
    token_size = (DWORD)fread(token, 1, sizeof token, f);
    fclose(f);
    CHECK(DsRestorePrepare(srv, RESTORE_TYPE_CATCHUP, token, token_size, &hbc));
    CHECK(DsRestoreGetDatabaseLocations(hbc, &locations, &size));
    check_list(locations, size);
    for (e = locations; *e; e += tlen(e) + 1) {
        if (bft_of(e) == (unsigned char)BFT_NTDS_DATABASE) database = (TCH *)e + 1;
        if (bft_of(e) == (unsigned char)BFT_LOG_DIR) log_dir = (TCH *)e + 1;
        if (bft_of(e) == (unsigned char)BFT_CHECKPOINT_DIR) checkpoint_dir = (TCH *)e + 1;
    }
    if (!database || !log_dir || !checkpoint_dir) {
        fprintf(stderr, "a location is missing\n");
        exit(1);
    }

    f = fopen(index_path, "r");
    while (fgets(line, sizeof line, f)) {
        unsigned bft = (unsigned)strtoul(line, NULL, 16);
        char *path = line + 3, *from, *to;
        const char *base;
        path[strcspn(path, "\n")] = 0;
        base = base_name(path);
        from = join(dir, base);
        if (bft == (unsigned char)BFT_NTDS_DATABASE) {
            to = to_utf8(database);
            original = from_utf8(path);
        } else {
            char *target = to_utf8(bft == (unsigned char)BFT_LOG ? log_dir : checkpoint_dir);
            to = join(target, base);
            free(target);
            if (bft == (unsigned char)BFT_LOG) {
                ULONG gen = (ULONG)strtoul(base + 3, NULL, 16);
                if (gen < gen_low) gen_low = gen;
                if (gen > gen_high) gen_high = gen;
            }
        }
        copy_file(from, to);
        free(from);
        free(to);
    }
    fclose(f);

    map[0].EDB_OLD_NAME = original;
    map[0].EDB_NEW_NAME = database;
    CHECK(DsRestoreRegister(hbc, checkpoint_dir, log_dir, map, 1, log_dir, gen_low, gen_high));
    CHECK(DsRestoreRegisterComplete(hbc, S_OK));
    CHECK(DsRestoreEnd(hbc));
    DsBackupFree(locations);
    free(original);
    free(srv);
    free(token_path);
    free(index_path);
}

int main(int argc, char **argv)
{
    if (argc != 4 && argc != 7) {
        fprintf(stderr, "usage: %s backup|restore SERVER DIR [DOMAIN USER PASSWORD]\n", argv[0]);
        return 2;
    }
    if (argc == 7) {
        TCH *domain = from_utf8(argv[4]), *user = from_utf8(argv[5]), *password = from_utf8(argv[6]);
        CHECK(DsSetAuthIdentity(user, domain, password));
        free(domain);
        free(user);
        free(password);
    }
    if (strcmp(argv[1], "backup") == 0) backup(argv[2], argv[3]);
    else restore(argv[2], argv[3]);
    printf("ok\n");
    return 0;
}
