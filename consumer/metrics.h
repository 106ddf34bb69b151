/*-------------------------------------------------------------------------
 *
 * metrics.h
 *		An HTTP endpoint for Prometheus: GET /metrics.
 *
 * libmicrohttpd serves the page from a thread of its own; the relay
 * renders the page in its loop and hands over a copy with
 * metrics_publish(), so the two threads share one string under a mutex
 * and nothing else.
 *
 *-------------------------------------------------------------------------
 */
#ifndef WALCAST_METRICS_H
#define WALCAST_METRICS_H

#include "common.h"

typedef struct Metrics Metrics;

/* listen on "HOST:PORT" (an IPv4 address, or none for every one) */
extern Metrics *metrics_start(const char *listen, WcError *err);
extern void metrics_stop(Metrics **metrics);

/* the page to serve from now on (copied) */
extern void metrics_publish(Metrics *metrics, const char *page);

#endif							/* WALCAST_METRICS_H */
