/*
 * ntdsbcli.h - directory backup and restore client API (libdsrestore)
 *
 * libdsrestore re-implements, for Linux and other non-Windows systems, the
 * client API of Windows' ntdsbcli.dll: the DsBackup* and DsRestore* functions
 * with their documented names, parameters and behaviour. Result codes are in
 * ntdsbmsg.h. Link with -ldsrestore. The library is for 64-bit platforms.
 *
 * Backup (the directory must be online):
 *     DsIsNTDSOnline -> DsBackupPrepare -> DsBackupGetDatabaseNames, then for
 *     each file DsBackupOpenFile, DsBackupRead until ERROR_HANDLE_EOF,
 *     DsBackupClose -> DsBackupGetBackupLogs, each log read the same way ->
 *     DsBackupTruncateLogs -> store the expiry token with the backup, then
 *     DsBackupFree it -> DsBackupEnd.
 *
 * Restore (the directory must be offline):
 *     DsIsNTDSOnline -> DsRestorePrepare (with the backup's expiry token) ->
 *     DsRestoreGetDatabaseLocations -> copy the files into place ->
 *     DsRestoreRegister -> DsRestoreRegisterComplete -> DsRestoreEnd.
 *
 * Strings
 *     Functions that take strings come in two forms. The ...A functions take
 *     NUL-terminated UTF-8 (not a Windows ANSI code page); the ...W functions
 *     take NUL-terminated UTF-16 in WCHAR units. WCHAR is 16 bits, as on
 *     Windows, and is not wchar_t (32 bits here), so L"..." literals do not
 *     fit: in C11, u"..." literals do (in C++ they are char16_t and need a
 *     cast). An A string that is not valid UTF-8, or a W string with an
 *     unpaired surrogate, gives ERROR_INVALID_PARAMETER. Without A or W, the
 *     names below select one form by UNICODE, as on Windows.
 *
 * Server names
 *     Server names are those of the dsrestore command line:
 *         local:<dir>                           an embedded target: the
 *                                               directory <dir> on this machine
 *         tcp://host:port#sha256:<fingerprint>  an agent, trusted by the
 *                                               fingerprint of its certificate
 *         tcp://host:port#ca-file=<path>        an agent whose certificate a
 *                                               CA in the file <path> signed
 *         <name>                                a server configured in
 *                                               dsrestore.toml (found through
 *                                               $DSRESTORE_CONFIG)
 *     As in the original, leading backslashes of a plain name ("\\dc1") are
 *     dropped, and a host name must not contain '_'.
 *
 * Handles
 *     An HBC is an opaque 64-bit token, not a pointer. A handle that has
 *     ended, is stale, was never issued or is garbage makes a function return
 *     ERROR_INVALID_PARAMETER; it never crashes the process. DsBackupEnd and
 *     DsRestoreEnd invalidate the handle whatever they return.
 *
 * Name lists
 *     DsBackupGetDatabaseNames, DsBackupGetBackupLogs and
 *     DsRestoreGetDatabaseLocations return a list in a buffer the library
 *     allocates:
 *         entry NUL entry NUL ... entry NUL NUL
 *     Each entry is one BFT character (see "File types" below) followed by a
 *     path. In the A form the BFT character is one byte that is not part of
 *     the UTF-8 text; in the W form it is one WCHAR. The byte count returned
 *     with the list includes both final terminators. Free the list with
 *     DsBackupFree.
 *
 * General behaviour
 *     - Every function is thread-safe.
 *     - The library starts its sandbox runtime on first use, once per
 *       process, so the first call takes longer than later ones.
 *     - A NULL out-pointer gives ERROR_INVALID_PARAMETER.
 *     - An internal failure gives hrError and logs a line that describes it
 *       (on standard error; $DSRESTORE_LOG sets the level).
 */
#ifndef DSRESTORE_NTDSBCLI_H
#define DSRESTORE_NTDSBCLI_H

#include <stdint.h>

/* ------------------------------------------------------------------------
 * Win32 types
 *
 * On Windows they come from <windows.h>. Elsewhere this header defines the
 * few it needs, with Windows' sizes; define DSRESTORE_HAVE_WIN32_TYPES if
 * another header of yours defines them already.
 * ------------------------------------------------------------------------ */

#if defined(_WIN32)
#  include <windows.h>
#endif

#if !defined(_WIN32) && !defined(DSRESTORE_HAVE_WIN32_TYPES)

/* 32 bits, as on Windows (not long, which is 64 bits on LP64). ntdsbmsg.h
 * defines it under the same guard. */
#  ifndef DSRESTORE_HRESULT_DEFINED
#    define DSRESTORE_HRESULT_DEFINED
typedef int32_t HRESULT;
#  endif

typedef uint32_t        DWORD;
typedef uint32_t        ULONG;
typedef int32_t         LONG;
typedef int32_t         BOOL;
typedef uint8_t         BYTE;
typedef char            CHAR;
typedef uint16_t        WCHAR;          /* UTF-16 code unit, not wchar_t */
typedef CHAR           *LPSTR;
typedef const CHAR     *LPCSTR;
typedef WCHAR          *LPWSTR;
typedef const WCHAR    *LPCWSTR;
typedef void           *PVOID;
typedef DWORD          *PDWORD;
typedef DWORD          *LPDWORD;

/* A 64-bit integer, also readable as two 32-bit halves. The unnamed struct
 * (li.LowPart) is standard only from C11: it is declared for C11 and later,
 * and for GCC-compatible compilers, which accept it in every mode. li.u.LowPart
 * and li.QuadPart work everywhere. */
#  if defined(__GNUC__)
#    define DSRESTORE_ANONYMOUS_STRUCT __extension__ struct
#  elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#    define DSRESTORE_ANONYMOUS_STRUCT struct
#  endif
typedef union _LARGE_INTEGER {
#  ifdef DSRESTORE_ANONYMOUS_STRUCT
    DSRESTORE_ANONYMOUS_STRUCT {
        uint32_t LowPart;
        int32_t  HighPart;
    };
#  endif
    struct {
        uint32_t LowPart;
        int32_t  HighPart;
    } u;
    int64_t QuadPart;
} LARGE_INTEGER, *PLARGE_INTEGER;
#  undef DSRESTORE_ANONYMOUS_STRUCT

#  ifndef VOID
#    define VOID void
#  endif
#  ifndef TRUE
#    define TRUE 1
#  endif
#  ifndef FALSE
#    define FALSE 0
#  endif
#  ifndef S_OK
#    define S_OK ((HRESULT)0)
#  endif

#endif /* !_WIN32 && !DSRESTORE_HAVE_WIN32_TYPES */

/* HBC values are 64-bit tokens: building for a platform with other pointers
 * fails here. */
typedef char dsrestore_hbc_needs_64_bit_pointers[sizeof(void *) == 8 ? 1 : -1];

#ifdef __cplusplus
extern "C" {
#endif

/* Declares the exported functions. Empty by default; define it before
 * including this header to add attributes. */
#ifndef NTDSBCLI_API
#  define NTDSBCLI_API
#endif

/* A backup or restore context handle: an opaque token. */
typedef void *HBC;

/* ------------------------------------------------------------------------
 * Backup and restore types
 * ------------------------------------------------------------------------ */

/* DsBackupPrepare's btBackupType. Only BACKUP_TYPE_FULL (the database, its
 * logs and patch file) is supported. */
#define BACKUP_TYPE_FULL                0x01
#define BACKUP_TYPE_LOGS_ONLY           0x02    /* not supported */
#define BACKUP_TYPE_INCREMENTAL         0x04    /* not supported */

/* DsRestorePrepare's rtFlag: 0 or an OR of these. Only RESTORE_TYPE_CATCHUP,
 * the default, is supported: replication then brings the restored database
 * up to date. */
#define RESTORE_TYPE_AUTHORATATIVE      0x01    /* (sic) not supported */
#define RESTORE_TYPE_ONLINE             0x02    /* not supported */
#define RESTORE_TYPE_CATCHUP            0x04

/* DsSetCurrentBackupLog's dwCurrentLog: disables incremental backups until
 * the next full backup. */
#define BACKUP_DISABLE_INCREMENTAL      0xFFFFFFFF

/* The annotations of the backup and restore RPC interfaces. Windows also
 * has g_wszBackupAnnotation and g_wszRestoreAnnotation, as L"..." strings;
 * they are left out here because L"..." is 32-bit wchar_t, not WCHAR. */
#define g_aszBackupAnnotation           "NTDS Backup Interface"
#define g_aszRestoreAnnotation          "NTDS Restore Interface"

/* ------------------------------------------------------------------------
 * File types (BFT)
 *
 * The first character of each entry of a name list says what the entry is.
 * BFT is the character type of the form UNICODE selects: WCHAR for W, CHAR
 * for A.
 *
 * CHAR may be signed, so (BFT)0x82 can be negative when BFT is CHAR.
 * Compare code values as unsigned char, which works for both forms whatever
 * UNICODE says:
 *
 *     A list:  if ((unsigned char)entry[0] == (unsigned char)BFT_LOG_DIR) ...
 *     W list:  if (entry[0] == (unsigned char)BFT_LOG_DIR) ...
 * ------------------------------------------------------------------------ */

#ifdef UNICODE
typedef WCHAR BFT;
#else
typedef CHAR BFT;
#endif

/* Flag bits of the codes */
#define BFT_DIRECTORY                   0x80    /* the entry is a directory */
#define BFT_DATABASE_DIRECTORY          0x40    /* goes in the database dir. */
#define BFT_LOG_DIRECTORY               0x20    /* goes in the log directory */

/* A log file: 0x21, '!' */
#define BFT_LOG                 ((BFT)(0x01 | BFT_LOG_DIRECTORY))
/* The log directory: 0x82 */
#define BFT_LOG_DIR             ((BFT)(0x02 | BFT_DIRECTORY))
/* The checkpoint directory: 0x83 */
#define BFT_CHECKPOINT_DIR      ((BFT)(0x03 | BFT_DIRECTORY))
/* The database file (ntds.dit): 0x44, 'D' */
#define BFT_NTDS_DATABASE       ((BFT)(0x04 | BFT_DATABASE_DIRECTORY))
/* A patch file: 0x25, '%' */
#define BFT_PATCH_FILE          ((BFT)(0x05 | BFT_LOG_DIRECTORY))
/* A file of no known type: 0x0F */
#define BFT_UNKNOWN             ((BFT)0x0F)

/* ------------------------------------------------------------------------
 * Restore map
 *
 * One entry of DsRestoreRegister's rgrstmap: a database's path at backup
 * time and its path now (a new location, where it moved).
 * ------------------------------------------------------------------------ */

typedef struct tagEDB_RSTMAPA {
    char  *szDatabaseName;              /* UTF-8 */
    char  *szNewDatabaseName;           /* UTF-8 */
} EDB_RSTMAPA, *PEDB_RSTMAPA;

typedef struct tagEDB_RSTMAPW {
    WCHAR *wszDatabaseName;             /* UTF-16 */
    WCHAR *wszNewDatabaseName;          /* UTF-16 */
} EDB_RSTMAPW, *PEDB_RSTMAPW;

#ifdef UNICODE
typedef EDB_RSTMAPW  EDB_RSTMAP;
typedef PEDB_RSTMAPW PEDB_RSTMAP;
#else
typedef EDB_RSTMAPA  EDB_RSTMAP;
typedef PEDB_RSTMAPA PEDB_RSTMAP;
#endif

/* ------------------------------------------------------------------------
 * Return codes
 *
 * Every function returns S_OK (0) on success. Failures are:
 *   - the hr* codes of ntdsbmsg.h, as they are (negative HRESULTs);
 *   - Win32 and RPC errors as their raw, positive numbers, as the
 *     documentation names them: DsRestoreEnd returns ERROR_INVALID_PARAMETER
 *     (87) for an invalid hbc, DsBackupRead returns ERROR_HANDLE_EOF (38) at
 *     the end of the file;
 *   - SSPI errors as HRESULTs (SEC_E_*).
 *
 * So compare a result with S_OK or with a named code, never with
 * SUCCEEDED() or FAILED(): a raw Win32 error is positive, which FAILED()
 * takes for success. The classic read loop:
 *
 *     while ((hr = DsBackupRead(hbc, buf, sizeof buf, &got)) == S_OK) {
 *         ... use got bytes of buf ...
 *     }
 *     if (hr != ERROR_HANDLE_EOF) {
 *         ... failed ...
 *     }
 * ------------------------------------------------------------------------ */

#ifndef ERROR_SUCCESS
#  define ERROR_SUCCESS                 0     /* no error */
#endif
#ifndef ERROR_FILE_NOT_FOUND
#  define ERROR_FILE_NOT_FOUND          2     /* no such file or directory */
#endif
#ifndef ERROR_ACCESS_DENIED
#  define ERROR_ACCESS_DENIED           5     /* the caller may not do this */
#endif
#ifndef ERROR_NOT_ENOUGH_MEMORY
#  define ERROR_NOT_ENOUGH_MEMORY       8     /* out of memory */
#endif
#ifndef ERROR_HANDLE_EOF
#  define ERROR_HANDLE_EOF              38    /* end of file (DsBackupRead) */
#endif
#ifndef ERROR_NOT_SUPPORTED
#  define ERROR_NOT_SUPPORTED           50    /* a type or flag that is not
                                                 supported */
#endif
#ifndef ERROR_INVALID_PARAMETER
#  define ERROR_INVALID_PARAMETER       87    /* a parameter or handle is not
                                                 valid */
#endif
#ifndef ERROR_INSUFFICIENT_BUFFER
#  define ERROR_INSUFFICIENT_BUFFER     122   /* data larger than a limit */
#endif
#ifndef ERROR_SERVICE_ALREADY_RUNNING
#  define ERROR_SERVICE_ALREADY_RUNNING 1056  /* the directory service is
                                                 online */
#endif
#ifndef ERROR_TIMEOUT
#  define ERROR_TIMEOUT                 1460  /* the server did not answer in
                                                 time */
#endif
#ifndef ERROR_ACCOUNT_LOCKED_OUT
#  define ERROR_ACCOUNT_LOCKED_OUT      1909  /* too many failed
                                                 authentications */
#endif
#ifndef RPC_S_INVALID_BINDING
#  define RPC_S_INVALID_BINDING         1702  /* not a usable server binding */
#endif
#ifndef RPC_S_OUT_OF_RESOURCES
#  define RPC_S_OUT_OF_RESOURCES        1721  /* e.g. too many open bindings */
#endif
#ifndef RPC_S_CALL_FAILED
#  define RPC_S_CALL_FAILED             1726  /* the connection broke */
#endif
#ifndef RPC_S_PROTOCOL_ERROR
#  define RPC_S_PROTOCOL_ERROR          1728  /* e.g. no common protocol
                                                 version */
#endif
#ifndef RPC_X_BAD_STUB_DATA
#  define RPC_X_BAD_STUB_DATA           1783  /* a malformed reply */
#endif

/* TLS to an agent: its certificate does not name the host dialled. */
#ifndef SEC_E_WRONG_PRINCIPAL
#  define SEC_E_WRONG_PRINCIPAL         ((HRESULT)0x80090322u)
#endif
/* TLS to an agent: its certificate is not trusted (neither the pinned
 * fingerprint nor the CA file vouches for it). */
#ifndef SEC_E_UNTRUSTED_ROOT
#  define SEC_E_UNTRUSTED_ROOT          ((HRESULT)0x80090325u)
#endif
/* TLS to an agent: the peer's answer is not TLS, or breaks it. */
#ifndef SEC_E_ILLEGAL_MESSAGE
#  define SEC_E_ILLEGAL_MESSAGE         ((HRESULT)0x80090326u)
#endif

/* ------------------------------------------------------------------------
 * Common functions
 * ------------------------------------------------------------------------ */

/*
 * DsIsNTDSOnline - is the directory service of a server running?
 *
 * szServerName   the server (see "Server names").
 * pfNTDSOnline   receives TRUE if the directory service is online, FALSE if
 *                it is offline.
 *
 * Call it before a backup, which needs the directory online, and before a
 * restore, which needs it offline.
 *
 * Returns S_OK; ERROR_INVALID_PARAMETER (a malformed name, a NULL
 * pfNTDSOnline); ERROR_ACCESS_DENIED; hrCouldNotConnect (the server cannot be
 * reached or is not a directory server); RPC_S_INVALID_BINDING; a SEC_E_*
 * code if an agent's TLS identity does not check out.
 */
NTDSBCLI_API HRESULT DsIsNTDSOnlineA(LPCSTR szServerName, BOOL *pfNTDSOnline);
NTDSBCLI_API HRESULT DsIsNTDSOnlineW(LPCWSTR szServerName, BOOL *pfNTDSOnline);

/*
 * DsSetAuthIdentity - set the identity used for backup and restore
 *
 * szUserName     the user name, or NULL to go back to the process's own
 *                identity (the default).
 * szDomainName   the user's domain, or NULL for none.
 * szPassword     the password, or NULL for an empty one.
 *
 * The setting is process-wide and applies to handles prepared after the
 * call; handles prepared before it keep the identity they were prepared
 * with. The strings are copied: the caller may clear its password buffer as
 * soon as the call returns.
 *
 * Returns S_OK; ERROR_INVALID_PARAMETER (a string that is not valid UTF-8
 * or UTF-16).
 */
NTDSBCLI_API HRESULT DsSetAuthIdentityA(LPCSTR szUserName,
                                        LPCSTR szDomainName,
                                        LPCSTR szPassword);
NTDSBCLI_API HRESULT DsSetAuthIdentityW(LPCWSTR szUserName,
                                        LPCWSTR szDomainName,
                                        LPCWSTR szPassword);

/*
 * DsBackupFree - free a buffer the library returned
 *
 * pvBuffer       an expiry token from DsBackupPrepare, or a name list from
 *                DsBackupGetDatabaseNames, DsBackupGetBackupLogs or
 *                DsRestoreGetDatabaseLocations. NULL does nothing.
 *
 * Passing anything else (a pointer the library did not return, or one
 * already freed) is undefined, as in the original.
 */
NTDSBCLI_API VOID DsBackupFree(PVOID pvBuffer);

/* ------------------------------------------------------------------------
 * Backup functions
 * ------------------------------------------------------------------------ */

/*
 * DsBackupPrepare - start a backup
 *
 * szBackupServer      the server to back up (see "Server names"); its
 *                     directory service must be online.
 * grbit               reserved: must be 0.
 * btBackupType        BACKUP_TYPE_FULL. BACKUP_TYPE_LOGS_ONLY gives
 *                     ERROR_NOT_SUPPORTED; BACKUP_TYPE_INCREMENTAL gives
 *                     ERROR_INVALID_PARAMETER.
 * ppvExpiryToken      receives the backup's expiry token: opaque bytes that
 *                     DsRestorePrepare needs to restore this backup. The
 *                     library allocates it: store it with the backup, then
 *                     free it with DsBackupFree.
 * pcbExpiryTokenSize  receives the token's size in bytes.
 * phbc                receives the backup handle; end it with DsBackupEnd.
 *
 * Returns S_OK; ERROR_INVALID_PARAMETER (a malformed server name, grbit not
 * 0, phbc NULL); hrInvalidParam (ppvExpiryToken or pcbExpiryTokenSize NULL,
 * as the documentation has it); ERROR_NOT_SUPPORTED; ERROR_ACCESS_DENIED;
 * ERROR_NOT_ENOUGH_MEMORY; hrCouldNotConnect (the server cannot be reached,
 * or its directory service is offline); RPC_S_INVALID_BINDING;
 * RPC_S_OUT_OF_RESOURCES (too many open bindings); a SEC_E_* code.
 */
NTDSBCLI_API HRESULT DsBackupPrepareA(LPCSTR szBackupServer, ULONG grbit,
                                      ULONG btBackupType, PVOID *ppvExpiryToken,
                                      LPDWORD pcbExpiryTokenSize, HBC *phbc);
NTDSBCLI_API HRESULT DsBackupPrepareW(LPCWSTR szBackupServer, ULONG grbit,
                                      ULONG btBackupType, PVOID *ppvExpiryToken,
                                      LPDWORD pcbExpiryTokenSize, HBC *phbc);

/*
 * DsBackupGetDatabaseNames - list the database files to back up
 *
 * hbc                a backup handle.
 * pszAttachmentInfo  receives the list (see "Name lists"): BFT_NTDS_DATABASE,
 *                    BFT_LOG and BFT_PATCH_FILE entries. Set *pszAttachmentInfo
 *                    to NULL before the call, as the original requires; free
 *                    the list with DsBackupFree.
 * pcbSize            receives the list's size in bytes.
 *
 * Returns S_OK; ERROR_INVALID_PARAMETER; ERROR_ACCESS_DENIED;
 * ERROR_NOT_ENOUGH_MEMORY.
 */
NTDSBCLI_API HRESULT DsBackupGetDatabaseNamesA(HBC hbc,
                                               LPSTR *pszAttachmentInfo,
                                               LPDWORD pcbSize);
NTDSBCLI_API HRESULT DsBackupGetDatabaseNamesW(HBC hbc,
                                               LPWSTR *pszAttachmentInfo,
                                               LPDWORD pcbSize);

/*
 * DsBackupOpenFile - open a file of the backup for reading
 *
 * hbc               a backup handle with no file open.
 * szAttachmentName  an entry of DsBackupGetDatabaseNames or
 *                   DsBackupGetBackupLogs, as listed, with or without its BFT
 *                   character.
 * cbReadHintSize    the buffer size you will pass to DsBackupRead: a multiple
 *                   of 8192, at least 24576.
 * pliFileSize       receives the file's size in bytes (pliFileSize->QuadPart).
 *
 * Read the file with DsBackupRead, then close it with DsBackupClose.
 *
 * Returns S_OK; ERROR_INVALID_PARAMETER (also for a bad cbReadHintSize);
 * ERROR_ACCESS_DENIED; hrAlreadyOpen (a file is open on hbc already).
 */
NTDSBCLI_API HRESULT DsBackupOpenFileA(HBC hbc, LPCSTR szAttachmentName,
                                       DWORD cbReadHintSize,
                                       LARGE_INTEGER *pliFileSize);
NTDSBCLI_API HRESULT DsBackupOpenFileW(HBC hbc, LPCWSTR szAttachmentName,
                                       DWORD cbReadHintSize,
                                       LARGE_INTEGER *pliFileSize);

/*
 * DsBackupRead - read the next bytes of the open file
 *
 * hbc        a backup handle with a file open.
 * pvBuffer   the buffer to read into.
 * cbBuffer   its size in bytes: a multiple of 8192, at least 24576.
 * pcbRead    receives the number of bytes read, which can be fewer than
 *            cbBuffer before the end of the file.
 *
 * Call it until it returns ERROR_HANDLE_EOF (see the loop under "Return
 * codes").
 *
 * Returns S_OK; ERROR_HANDLE_EOF (the whole file has been read);
 * ERROR_INVALID_PARAMETER (also for a bad cbBuffer); hrInvalidHandle (no file
 * is open).
 */
NTDSBCLI_API HRESULT DsBackupRead(HBC hbc, PVOID pvBuffer, DWORD cbBuffer,
                                  PDWORD pcbRead);

/*
 * DsBackupClose - close the open file
 *
 * hbc        a backup handle with a file open.
 *
 * Returns S_OK; ERROR_INVALID_PARAMETER; hrInvalidHandle (no file is open).
 */
NTDSBCLI_API HRESULT DsBackupClose(HBC hbc);

/*
 * DsBackupGetBackupLogs - list the log files to back up
 *
 * hbc                a backup handle, after the database files were read.
 * pszBackupLogFiles  receives the list (see "Name lists"). Set
 *                    *pszBackupLogFiles to NULL before the call, as the
 *                    original requires; free the list with DsBackupFree.
 * pcbSize            receives the list's size in bytes.
 *
 * Read each log as a database file: DsBackupOpenFile, DsBackupRead,
 * DsBackupClose.
 *
 * Returns S_OK; ERROR_INVALID_PARAMETER; ERROR_ACCESS_DENIED;
 * ERROR_NOT_ENOUGH_MEMORY.
 */
NTDSBCLI_API HRESULT DsBackupGetBackupLogsA(HBC hbc, LPSTR *pszBackupLogFiles,
                                            LPDWORD pcbSize);
NTDSBCLI_API HRESULT DsBackupGetBackupLogsW(HBC hbc, LPWSTR *pszBackupLogFiles,
                                            LPDWORD pcbSize);

/*
 * DsBackupTruncateLogs - delete the logs that were backed up
 *
 * hbc        a backup handle whose files have all been read.
 *
 * Call it only after a successful backup: the server deletes the committed
 * log files this backup holds.
 *
 * Returns S_OK; ERROR_INVALID_PARAMETER; ERROR_ACCESS_DENIED.
 */
NTDSBCLI_API HRESULT DsBackupTruncateLogs(HBC hbc);

/*
 * DsBackupEnd - end a backup
 *
 * hbc        a backup handle.
 *
 * Ends the backup on the server, closes the handle's bindings and releases
 * its resources, after a successful or a failed backup. The handle is
 * invalid afterwards, whatever the result.
 *
 * Returns S_OK; ERROR_INVALID_PARAMETER (hbc is not a live backup handle);
 * an error from the server while ending the backup.
 */
NTDSBCLI_API HRESULT DsBackupEnd(HBC hbc);

/* ------------------------------------------------------------------------
 * Restore functions
 * ------------------------------------------------------------------------ */

/*
 * DsRestorePrepare - start a restore
 *
 * szServerName       the server to restore (see "Server names"); its
 *                    directory service must be offline.
 * rtFlag             0 or RESTORE_TYPE_CATCHUP: both ask for a catch-up
 *                    restore. RESTORE_TYPE_AUTHORATATIVE and
 *                    RESTORE_TYPE_ONLINE give ERROR_NOT_SUPPORTED.
 * pvExpiryToken      the expiry token DsBackupPrepare returned for the
 *                    backup, or NULL for a restricted handle, which can only
 *                    call DsRestoreGetDatabaseLocations and DsRestoreEnd.
 * cbExpiryTokenSize  the token's size in bytes (0 with a NULL token).
 * phbc               receives the restore handle; end it with DsRestoreEnd.
 *
 * Returns S_OK; ERROR_INVALID_PARAMETER; ERROR_NOT_SUPPORTED;
 * ERROR_ACCESS_DENIED; ERROR_SERVICE_ALREADY_RUNNING (the directory service
 * is online); hrRestoreInProgress (another restore holds the server);
 * hrUnknownExpiryTokenFormat (not a token, or a damaged one);
 * hrContentsExpired (the backup is older than the tombstone lifetime);
 * hrCouldNotConnect; RPC_S_INVALID_BINDING; RPC_S_OUT_OF_RESOURCES; a
 * SEC_E_* code.
 */
NTDSBCLI_API HRESULT DsRestorePrepareA(LPCSTR szServerName, ULONG rtFlag,
                                       PVOID pvExpiryToken,
                                       DWORD cbExpiryTokenSize, HBC *phbc);
NTDSBCLI_API HRESULT DsRestorePrepareW(LPCWSTR szServerName, ULONG rtFlag,
                                       PVOID pvExpiryToken,
                                       DWORD cbExpiryTokenSize, HBC *phbc);

/*
 * DsRestoreGetDatabaseLocations - list where the restored files go
 *
 * hbc                      a restore handle (a restricted one will do).
 *                          The 2000-era SDK also allowed a backup handle;
 *                          this library does not (ERROR_INVALID_PARAMETER):
 *                          prepare a restricted restore handle instead.
 * pszDatabaseLocationList  receives the list (see "Name lists"): a
 *                          BFT_NTDS_DATABASE entry (the path the database is
 *                          copied to), a BFT_LOG_DIR entry (the directory for
 *                          the BFT_LOG files) and a BFT_CHECKPOINT_DIR entry
 *                          (the directory for the checkpoint file).
 *                          Free it with DsBackupFree.
 * pcbSize                  receives the list's size in bytes.
 *
 * Returns S_OK; ERROR_INVALID_PARAMETER; ERROR_ACCESS_DENIED;
 * ERROR_NOT_ENOUGH_MEMORY.
 */
NTDSBCLI_API HRESULT DsRestoreGetDatabaseLocationsA(
    HBC hbc, LPSTR *pszDatabaseLocationList, LPDWORD pcbSize);
NTDSBCLI_API HRESULT DsRestoreGetDatabaseLocationsW(
    HBC hbc, LPWSTR *pszDatabaseLocationList, LPDWORD pcbSize);

/*
 * DsRestoreRegister - register the restore with the server
 *
 * hbc                   a restore handle prepared with an expiry token.
 * szCheckPointFilePath  where the checkpoint file goes: the
 *                       BFT_CHECKPOINT_DIR entry. Must not be NULL.
 * szLogPath             where the log files go: the BFT_LOG_DIR entry. Must
 *                       not be NULL.
 * rgrstmap, crstmap     crstmap restore map entries (old and new path of
 *                       each database); crstmap 0 with a NULL rgrstmap means
 *                       no remapping.
 * szBackupLogPath       the directory that holds the backed-up logs now (it
 *                       may be szLogPath). Must not be NULL.
 * genLow, genHigh       the lowest and highest log generation restored, with
 *                       genLow <= genHigh <= 0xFFFFF.
 *
 * Records the restore on the server, which keeps the record across
 * restarts: its directory service will not start until
 * DsRestoreRegisterComplete. Call it before or after copying the files
 * into place.
 *
 * Returns S_OK; ERROR_INVALID_PARAMETER (a NULL or empty path, generations
 * out of order or range); ERROR_ACCESS_DENIED; hrMissingExpiryToken (hbc is
 * a restricted handle).
 */
NTDSBCLI_API HRESULT DsRestoreRegisterA(HBC hbc,
                                        LPCSTR szCheckPointFilePath,
                                        LPCSTR szLogPath,
                                        EDB_RSTMAPA rgrstmap[],
                                        LONG crstmap,
                                        LPCSTR szBackupLogPath,
                                        ULONG genLow,
                                        ULONG genHigh);
NTDSBCLI_API HRESULT DsRestoreRegisterW(HBC hbc,
                                        LPCWSTR szCheckPointFilePath,
                                        LPCWSTR szLogPath,
                                        EDB_RSTMAPW rgrstmap[],
                                        LONG crstmap,
                                        LPCWSTR szBackupLogPath,
                                        ULONG genLow,
                                        ULONG genHigh);

/*
 * DsRestoreRegisterComplete - finish a registered restore
 *
 * hbc             a restore handle on which DsRestoreRegister succeeded.
 * hrRestoreState  S_OK if the files were restored, else the error that
 *                 stopped the restore.
 *
 * Unlocks the server. With S_OK the directory service may start on the
 * restored database; with an error it will not start until a valid database
 * has been restored. Call it before rebooting the server.
 *
 * Returns S_OK; ERROR_INVALID_PARAMETER; ERROR_ACCESS_DENIED.
 */
NTDSBCLI_API HRESULT DsRestoreRegisterComplete(HBC hbc, HRESULT hrRestoreState);

/*
 * DsRestoreEnd - end a restore
 *
 * hbc        a restore handle, in any state, even after failed calls.
 *
 * Ends the restore on the server, closes the handle's bindings and releases
 * its resources. The handle is invalid afterwards, whatever the result.
 * DsRestoreEnd neither completes nor undoes a registration: after
 * DsRestoreRegister without DsRestoreRegisterComplete, the server stays
 * registered, and its directory service blocked.
 *
 * Returns S_OK; ERROR_INVALID_PARAMETER (hbc is not a live restore handle);
 * an error from the server while ending the restore.
 */
NTDSBCLI_API HRESULT DsRestoreEnd(HBC hbc);

/*
 * DsSetCurrentBackupLog - set a server's current backup log number
 *
 * szServerName   the server (see "Server names").
 * dwCurrentLog   the log number, or BACKUP_DISABLE_INCREMENTAL to stop
 *                incremental backups until the next full backup.
 *
 * Rarely needed: the backup functions track the last log themselves.
 *
 * Returns S_OK; ERROR_INVALID_PARAMETER; ERROR_NOT_ENOUGH_MEMORY;
 * hrCouldNotConnect.
 */
NTDSBCLI_API HRESULT DsSetCurrentBackupLogA(LPCSTR szServerName,
                                            DWORD dwCurrentLog);
NTDSBCLI_API HRESULT DsSetCurrentBackupLogW(LPCWSTR szServerName,
                                            DWORD dwCurrentLog);

/* ------------------------------------------------------------------------
 * Names without A or W
 *
 * As on Windows, these macros pick the W functions when UNICODE is defined
 * and the A functions otherwise.
 *
 * The library also exports the plain names (DsIsNTDSOnline,
 * DsBackupPrepare, ...) as symbols that behave as the W functions, for
 * callers that bind by name at run time (dlsym, ctypes). That is what the
 * macros give UNICODE builds.
 * ------------------------------------------------------------------------ */

#ifdef UNICODE
#  define DsIsNTDSOnline                DsIsNTDSOnlineW
#  define DsSetAuthIdentity             DsSetAuthIdentityW
#  define DsBackupPrepare               DsBackupPrepareW
#  define DsBackupGetDatabaseNames      DsBackupGetDatabaseNamesW
#  define DsBackupOpenFile              DsBackupOpenFileW
#  define DsBackupGetBackupLogs         DsBackupGetBackupLogsW
#  define DsRestorePrepare              DsRestorePrepareW
#  define DsRestoreGetDatabaseLocations DsRestoreGetDatabaseLocationsW
#  define DsRestoreRegister             DsRestoreRegisterW
#  define DsSetCurrentBackupLog         DsSetCurrentBackupLogW
#else
#  define DsIsNTDSOnline                DsIsNTDSOnlineA
#  define DsSetAuthIdentity             DsSetAuthIdentityA
#  define DsBackupPrepare               DsBackupPrepareA
#  define DsBackupGetDatabaseNames      DsBackupGetDatabaseNamesA
#  define DsBackupOpenFile              DsBackupOpenFileA
#  define DsBackupGetBackupLogs         DsBackupGetBackupLogsA
#  define DsRestorePrepare              DsRestorePrepareA
#  define DsRestoreGetDatabaseLocations DsRestoreGetDatabaseLocationsA
#  define DsRestoreRegister             DsRestoreRegisterA
#  define DsSetCurrentBackupLog         DsSetCurrentBackupLogA
#endif

#ifdef __cplusplus
}
#endif

#endif /* DSRESTORE_NTDSBCLI_H */
