/*-------------------------------------------------------------------------
 *
 * common.h
 *		What every module of the walcast program shares: logging in
 *		PostgreSQL's frontend style, allocation that cannot fail, LSNs and
 *		the exit codes a supervisor acts on.
 *
 * Library-like modules (stream.c, pub.c, durable.c, state.c) do not log:
 * they return -1 and leave a message in an error buffer, and the command
 * that called them decides what to say.
 *
 *-------------------------------------------------------------------------
 */
#ifndef WALCAST_COMMON_H
#define WALCAST_COMMON_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WALCAST_VERSION "1.0.0"

/*
 * Exit codes.  A supervisor restarts on WC_EXIT_FAILURE (the server went
 * away, a network cut outlasted the retries), fixes its configuration on
 * WC_EXIT_USAGE, and must resynchronize its subscribers on WC_EXIT_RESYNC
 * (the slot was dropped, recreated, invalidated, or is on another server):
 * restarting alone cannot help then.
 */
#define WC_EXIT_OK			0
#define WC_EXIT_FAILURE		1
#define WC_EXIT_USAGE		2
#define WC_EXIT_RESYNC		3

/* an error message of a library-like module, for its caller to print */
#define WC_ERRBUF_SIZE 1024
typedef struct WcError
{
	char		message[WC_ERRBUF_SIZE];	/* primary message */
	char		detail[WC_ERRBUF_SIZE]; /* full sentence(s), or empty */
	char		hint[WC_ERRBUF_SIZE];	/* full sentence(s), or empty */
} WcError;

extern void wc_error_set(WcError *err, const char *fmt,...)
			__attribute__((format(printf, 2, 3)));
extern void wc_error_detail(WcError *err, const char *fmt,...)
			__attribute__((format(printf, 2, 3)));
extern void wc_error_hint(WcError *err, const char *fmt,...)
			__attribute__((format(printf, 2, 3)));
extern void wc_error_clear(WcError *err);

/* logging: one line per event on stderr, "walcast: error: ..." */
typedef enum WcLogLevel
{
	WC_LOG_DEBUG,
	WC_LOG_INFO,				/* shown with --verbose */
	WC_LOG_NOTICE,				/* always shown: state changes */
	WC_LOG_WARNING,
	WC_LOG_ERROR
} WcLogLevel;

extern WcLogLevel wc_log_min_level;

extern void wc_log(WcLogLevel level, const char *fmt,...)
			__attribute__((format(printf, 2, 3)));
extern void wc_log_detail(const char *fmt,...)
			__attribute__((format(printf, 1, 2)));
extern void wc_log_hint(const char *fmt,...)
			__attribute__((format(printf, 1, 2)));
extern void wc_log_wcerror(WcLogLevel level, const WcError *err);

#define wc_error(...)	wc_log(WC_LOG_ERROR, __VA_ARGS__)
#define wc_warning(...) wc_log(WC_LOG_WARNING, __VA_ARGS__)
#define wc_notice(...)	wc_log(WC_LOG_NOTICE, __VA_ARGS__)
#define wc_info(...)	wc_log(WC_LOG_INFO, __VA_ARGS__)
#define wc_debug(...)	wc_log(WC_LOG_DEBUG, __VA_ARGS__)

/* allocation: abort with a message when out of memory */
extern void *wc_malloc(size_t size);
extern void *wc_malloc0(size_t size);
extern void *wc_realloc(void *ptr, size_t size);
extern char *wc_strdup(const char *s);
extern char *wc_psprintf(const char *fmt,...)
			__attribute__((format(printf, 1, 2)));
extern char *wc_vpsprintf(const char *fmt, va_list args)
			__attribute__((format(printf, 1, 0)));

/* LSNs, printed as PostgreSQL does */
typedef uint64_t WcLsn;

#define WC_LSN_FMT "%X/%X"
#define WC_LSN_ARGS(lsn) ((unsigned) ((lsn) >> 32)), ((unsigned) (lsn))

extern bool wc_parse_lsn(const char *str, WcLsn *lsn);

/* time: microseconds, monotonic and wall clock */
extern int64_t wc_now_monotonic(void);
extern int64_t wc_now_unix(void);

/* PostgreSQL's epoch (2000-01-01) in Unix microseconds */
#define WC_PG_EPOCH_UNIX_USEC INT64_C(946684800000000)

/* a number option: "--name VALUE", whole and within [min, max] */
extern bool wc_parse_int_option(const char *name, const char *value,
								int64_t min, int64_t max, int64_t *result);

#endif							/* WALCAST_COMMON_H */
