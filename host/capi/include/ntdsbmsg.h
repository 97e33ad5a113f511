/*
 * ntdsbmsg.h - result codes of the directory backup and restore API
 *
 * Part of libdsrestore, a re-implementation of Windows' ntdsbcli.dll client
 * API (see ntdsbcli.h) for Linux and other non-Windows systems.
 *
 * This header defines the hr* codes that the DsBackup* and DsRestore*
 * functions return, with the values Windows' ntdsbmsg.h gives them. Most are
 * HRESULTs with the severity "error", so they are negative as an HRESULT
 * (int32_t). The functions also return Win32 and RPC errors as their raw,
 * positive numbers: see "Return codes" in ntdsbcli.h, and compare results with
 * S_OK or a named code, not with SUCCEEDED()/FAILED().
 *
 * Layout of an HRESULT-shaped code (bit 31 on the left):
 *
 *     3 3 2 2 2 2 2 2 2 2 2 2 1 1 1 1 1 1 1 1 1 1
 *     1 0 9 8 7 6 5 4 3 2 1 0 9 8 7 6 5 4 3 2 1 0 9 8 7 6 5 4 3 2 1 0
 *    +---+-+-+-----------------------+-------------------------------+
 *    |Sev|C|R|       Facility        |              Code             |
 *    +---+-+-+-----------------------+-------------------------------+
 *
 *    Sev       severity: one of the STATUS_SEVERITY_* values below
 *    C         customer code flag
 *    R         reserved
 *    Facility  FACILITY_BACKUP for the backup API's own codes,
 *              FACILITY_NTDSB for the database engine's codes
 *    Code      the facility's status code
 */
#ifndef DSRESTORE_NTDSBMSG_H
#define DSRESTORE_NTDSBMSG_H

#include <stdint.h>

#if defined(_WIN32)
#  include <windows.h>
#endif

#if !defined(_WIN32) && !defined(DSRESTORE_HAVE_WIN32_TYPES)
/* HRESULT is 32 bits, as on Windows (not long, which is 64 bits on LP64).
 * ntdsbcli.h defines it under the same guard. */
#  ifndef DSRESTORE_HRESULT_DEFINED
#    define DSRESTORE_HRESULT_DEFINED
typedef int32_t HRESULT;
#  endif
#endif

/* ------------------------------------------------------------------------
 * Facilities and severities
 * ------------------------------------------------------------------------ */

#ifndef FACILITY_SYSTEM
#  define FACILITY_SYSTEM                  0x0
#endif
#ifndef FACILITY_BACKUP
#  define FACILITY_BACKUP                  0x7FF
#endif
#ifndef FACILITY_NTDSB
#  define FACILITY_NTDSB                   0x800
#endif

#ifndef STATUS_SEVERITY_SUCCESS
#  define STATUS_SEVERITY_SUCCESS          0x0
#endif
#ifndef STATUS_SEVERITY_INFORMATIONAL
#  define STATUS_SEVERITY_INFORMATIONAL    0x1
#endif
#ifndef STATUS_SEVERITY_WARNING
#  define STATUS_SEVERITY_WARNING          0x2
#endif
#ifndef STATUS_SEVERITY_ERROR
#  define STATUS_SEVERITY_ERROR            0x3
#endif

/* ------------------------------------------------------------------------
 * General codes
 * ------------------------------------------------------------------------ */

/* Success: no error (equal to S_OK). */
#define hrNone                             ((HRESULT)0)

/* The function is not implemented. */
#define hrNyi                              ((HRESULT)0xC0000001u)

/* ------------------------------------------------------------------------
 * Backup API errors (FACILITY_BACKUP)
 * ------------------------------------------------------------------------ */

/* A parameter is not valid. Not the same code as hrInvalidParameter below. */
#define hrInvalidParam                     ((HRESULT)0xC7FF0001u)

/* An internal error. libdsrestore returns it for any failure of its own,
 * and logs a line that describes it. */
#define hrError                            ((HRESULT)0xC7FF0002u)

/* The handle is not valid for this call, e.g. DsBackupRead or DsBackupClose
 * with no file open. */
#define hrInvalidHandle                    ((HRESULT)0xC7FF0003u)

/* A restore is already in progress on the server. */
#define hrRestoreInProgress                ((HRESULT)0xC7FF0004u)

/* The file is already open: a backup handle has one open file at a time. */
#define hrAlreadyOpen                      ((HRESULT)0xC7FF0005u)

/* The recipients are not valid (a legacy code). */
#define hrInvalidRecips                    ((HRESULT)0xC7FF0006u)

/* The backup server cannot be reached, or its service is not running. */
#define hrCouldNotConnect                  ((HRESULT)0xC7FF0007u)

/* A restore map already exists; one may be given only on a full restore. */
#define hrRestoreMapExists                 ((HRESULT)0xC7FF0008u)

/* The database was changed in a way that makes later incremental backups
 * fail: take a full backup. */
#define hrIncrementalBackupDisabled        ((HRESULT)0xC7FF0009u)

/* A log file needed for an incremental backup is missing. */
#define hrLogFileNotFound                  ((HRESULT)0xC7FF000Au)

/* Circular logging is on, so an incremental backup is impossible. */
#define hrCircularLogging                  ((HRESULT)0xC7FF000Bu)

/* An incremental restore was attempted before a full restore. */
#define hrNoFullRestore                    ((HRESULT)0xC7FF000Cu)

/* A communication error during a local backup. */
#define hrCommunicationError               ((HRESULT)0xC7FF000Du)

/* An incremental backup needs a full backup taken before it. */
#define hrFullBackupNotTaken               ((HRESULT)0xC7FF000Eu)

/* The expiry token is missing: e.g. DsRestoreRegister on a handle that
 * DsRestorePrepare gave without a token. */
#define hrMissingExpiryToken               ((HRESULT)0xC7FF000Fu)

/* The expiry token is not in a format the server recognises. */
#define hrUnknownExpiryTokenFormat         ((HRESULT)0xC7FF0010u)

/* The backup's contents are too old to restore (older than the forest's
 * tombstone lifetime). */
#define hrContentsExpired                  ((HRESULT)0xC7FF0011u)

/* The RPC server is already listening. Not HRESULT-shaped: it is the raw
 * RPC error number RPC_S_ALREADY_LISTENING. */
#ifndef RPC_S_ALREADY_LISTENING
#  define RPC_S_ALREADY_LISTENING          1713
#endif
#define hrAlreadyListening                 ((HRESULT)RPC_S_ALREADY_LISTENING)

/* ------------------------------------------------------------------------
 * Database engine errors and warnings (FACILITY_NTDSB)
 *
 * 0xC800xxxx codes are errors, 0x8800xxxx codes are warnings. The low 16
 * bits are the magnitude of the matching database engine (ESE) error number:
 * hrMissingPreviousLogFile 0xC80001FD is engine error -509.
 * ------------------------------------------------------------------------ */

/* No backup directory was given. */
#define hrNoBackupDirectory                ((HRESULT)0xC80001F7u)

/* The backup directory is not empty. */
#define hrBackupDirectoryNotEmpty          ((HRESULT)0xC80001F8u)

/* A backup is already in progress. */
#define hrBackupInProgress                 ((HRESULT)0xC80001F9u)

/* A log file before the current one is missing. */
#define hrMissingPreviousLogFile           ((HRESULT)0xC80001FDu)

/* No backup is in progress. */
#define hrNoBackup                         ((HRESULT)0xC8000208u)

/* A backup call was made out of sequence. */
#define hrInvalidBackupSequence            ((HRESULT)0xC8000209u)

/* A backup cannot be taken yet. */
#define hrBackupNotAllowedYet              ((HRESULT)0xC800020Bu)

/* The backup is not valid: e.g. a file's size or checksum is wrong. */
#define hrInvalidBackup                    ((HRESULT)0xC800020Eu)

/* A log file is missing. */
#define hrMissingLogFile                   ((HRESULT)0xC8000210u)

/* A log file's signature is bad. */
#define hrBadLogSignature                  ((HRESULT)0xC8000212u)

/* The checkpoint file is missing, unreadable or corrupt. */
#define hrCheckpointCorrupt                ((HRESULT)0xC8000215u)

/* The database is inconsistent, e.g. after a failed restore. */
#define hrDatabaseInconsistent             ((HRESULT)0xC8000226u)

/* The patch file does not match the database. */
#define hrPatchFileMismatch                ((HRESULT)0xC8000228u)

/* The restored logs start at a generation lower than needed. */
#define hrRestoreLogTooLow                 ((HRESULT)0xC8000229u)

/* The restored logs end at a generation higher than needed. */
#define hrRestoreLogTooHigh                ((HRESULT)0xC800022Au)

/* A log file given for the restore has a bad signature. */
#define hrGivenLogFileHasBadSignature      ((HRESULT)0xC800022Bu)

/* The log files given for the restore are not contiguous. */
#define hrGivenLogFileIsNotContiguous      ((HRESULT)0xC800022Cu)

/* Log files needed for the restore are missing. */
#define hrMissingRestoreLogFiles           ((HRESULT)0xC800022Du)

/* Warning: a log file already in place has a bad signature. */
#define hrExistingLogFileHasBadSignature   ((HRESULT)0x8800022Eu)

/* Warning: the log files already in place are not contiguous. */
#define hrExistingLogFileIsNotContiguous   ((HRESULT)0x8800022Fu)

/* The full backup that an incremental backup or restore builds on is
 * missing. */
#define hrMissingFullBackup                ((HRESULT)0xC8000230u)

/* The backed-up database's size is not a multiple of 4 KB. */
#define hrBadBackupDatabaseSize            ((HRESULT)0xC8000231u)

/* A parameter is not valid (the engine's code; compare hrInvalidParam). */
#define hrInvalidParameter                 ((HRESULT)0xC80003EBu)

/* Out of memory. */
#define hrOutOfMemory                      ((HRESULT)0xC80003F3u)

/* A file was not found. */
#define hrFileNotFound                     ((HRESULT)0xC8000713u)

/* Access to a file was denied. */
#define hrAccessDenied                     ((HRESULT)0xC8000773u)

#endif /* DSRESTORE_NTDSBMSG_H */
