/*-------------------------------------------------------------------------
 *
 * common.c
 *		Logging, error buffers, allocation, LSNs and clocks for every
 *		module of the walcast program.
 *
 * Messages follow PostgreSQL's frontend style: "walcast: error: could not
 * connect to server: ...", then "walcast: detail: ..." and
 * "walcast: hint: ..." lines.
 *
 *-------------------------------------------------------------------------
 */
#include "common.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

WcLogLevel	wc_log_min_level = WC_LOG_NOTICE;

static const char *const level_names[] = {
	[WC_LOG_DEBUG] = "debug",
	[WC_LOG_INFO] = "info",
	[WC_LOG_NOTICE] = "notice",
	[WC_LOG_WARNING] = "warning",
	[WC_LOG_ERROR] = "error",
};

/* whether detail and hint lines belong to a message that was shown */
static bool last_message_shown = true;

static void
log_line(const char *label, const char *fmt, va_list args)
{
	char		line[4096];

	/* one write per line, so lines of concurrent processes do not mix */
	vsnprintf(line, sizeof(line), fmt, args);
	fprintf(stderr, "walcast: %s: %s\n", label, line);
}

void
wc_log(WcLogLevel level, const char *fmt,...)
{
	va_list		args;

	last_message_shown = level >= wc_log_min_level;
	if (!last_message_shown)
		return;
	va_start(args, fmt);
	log_line(level_names[level], fmt, args);
	va_end(args);
}

void
wc_log_detail(const char *fmt,...)
{
	va_list		args;

	if (!last_message_shown)
		return;
	va_start(args, fmt);
	log_line("detail", fmt, args);
	va_end(args);
}

void
wc_log_hint(const char *fmt,...)
{
	va_list		args;

	if (!last_message_shown)
		return;
	va_start(args, fmt);
	log_line("hint", fmt, args);
	va_end(args);
}

void
wc_log_wcerror(WcLogLevel level, const WcError *err)
{
	wc_log(level, "%s", err->message);
	if (err->detail[0])
		wc_log_detail("%s", err->detail);
	if (err->hint[0])
		wc_log_hint("%s", err->hint);
}

static void
error_format(char *buf, const char *fmt, va_list args)
{
	size_t		len;

	vsnprintf(buf, WC_ERRBUF_SIZE, fmt, args);
	/* libpq's messages end in a newline; ours do not */
	len = strlen(buf);
	while (len > 0 && buf[len - 1] == '\n')
		buf[--len] = '\0';
}

void
wc_error_set(WcError *err, const char *fmt,...)
{
	va_list		args;

	wc_error_clear(err);
	va_start(args, fmt);
	error_format(err->message, fmt, args);
	va_end(args);
}

void
wc_error_detail(WcError *err, const char *fmt,...)
{
	va_list		args;

	va_start(args, fmt);
	error_format(err->detail, fmt, args);
	va_end(args);
}

void
wc_error_hint(WcError *err, const char *fmt,...)
{
	va_list		args;

	va_start(args, fmt);
	error_format(err->hint, fmt, args);
	va_end(args);
}

void
wc_error_clear(WcError *err)
{
	err->message[0] = err->detail[0] = err->hint[0] = '\0';
}

static void *
check_alloc(void *p, size_t size)
{
	if (p == NULL && size > 0)
	{
		fprintf(stderr, "walcast: error: out of memory (%zu bytes requested)\n",
				size);
		abort();
	}
	return p;
}

void *
wc_malloc(size_t size)
{
	return check_alloc(malloc(size ? size : 1), size);
}

void *
wc_malloc0(size_t size)
{
	return check_alloc(calloc(1, size ? size : 1), size);
}

void *
wc_realloc(void *ptr, size_t size)
{
	return check_alloc(realloc(ptr, size ? size : 1), size);
}

char *
wc_strdup(const char *s)
{
	size_t		len = strlen(s) + 1;

	return memcpy(wc_malloc(len), s, len);
}

char *
wc_vpsprintf(const char *fmt, va_list args)
{
	va_list		copy;
	int			len;
	char	   *buf;

	va_copy(copy, args);
	len = vsnprintf(NULL, 0, fmt, copy);
	va_end(copy);
	buf = wc_malloc(len + 1);
	vsnprintf(buf, len + 1, fmt, args);
	return buf;
}

char *
wc_psprintf(const char *fmt,...)
{
	va_list		args;
	char	   *buf;

	va_start(args, fmt);
	buf = wc_vpsprintf(fmt, args);
	va_end(args);
	return buf;
}

/*
 * Parse "XXX/XXX", as PostgreSQL prints LSNs.
 */
bool
wc_parse_lsn(const char *str, WcLsn *lsn)
{
	unsigned int hi,
				lo;
	int			consumed;

	if (sscanf(str, "%X/%X%n", &hi, &lo, &consumed) != 2 ||
		str[consumed] != '\0')
		return false;
	*lsn = ((WcLsn) hi << 32) | lo;
	return true;
}

int64_t
wc_now_monotonic(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t
wc_now_unix(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

bool
wc_parse_int_option(const char *name, const char *value,
					int64_t min, int64_t max, int64_t *result)
{
	char	   *end;
	long long	v;

	errno = 0;
	v = strtoll(value, &end, 10);
	if (errno != 0 || end == value || *end != '\0')
	{
		wc_error("invalid value \"%s\" for option %s", value, name);
		return false;
	}
	if (v < min || v > max)
	{
		wc_error("%s must be in range %" PRId64 "..%" PRId64, name, min, max);
		return false;
	}
	*result = v;
	return true;
}
