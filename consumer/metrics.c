/*-------------------------------------------------------------------------
 *
 * metrics.c
 *		The Prometheus endpoint, on libmicrohttpd.
 *
 * libmicrohttpd (Debian's libmicrohttpd-dev) rather than a hand-written
 * HTTP server: parsing requests from the network is exactly the code a
 * small daemon should not write again.
 *
 *-------------------------------------------------------------------------
 */
#include "metrics.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct Metrics
{
	struct MHD_Daemon *daemon;
	pthread_mutex_t lock;		/* guards page */
	char	   *page;			/* the exposition text */
};

static enum MHD_Result
answer(void *cls, struct MHD_Connection *conn, const char *url,
	   const char *method, const char *version, const char *upload_data,
	   size_t *upload_data_size, void **con_cls)
{
	Metrics    *metrics = cls;
	struct MHD_Response *response;
	enum MHD_Result ret;
	unsigned	status = MHD_HTTP_OK;
	char	   *body;

	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
	{
		body = wc_strdup("only GET is supported\n");
		status = MHD_HTTP_METHOD_NOT_ALLOWED;
	}
	else if (strcmp(url, "/metrics") != 0)
	{
		body = wc_strdup("not found: the metrics are at /metrics\n");
		status = MHD_HTTP_NOT_FOUND;
	}
	else
	{
		pthread_mutex_lock(&metrics->lock);
		body = wc_strdup(metrics->page ? metrics->page : "");
		pthread_mutex_unlock(&metrics->lock);
	}
	response = MHD_create_response_from_buffer(strlen(body), body,
											   MHD_RESPMEM_MUST_FREE);
	MHD_add_response_header(response, "Content-Type",
							status == MHD_HTTP_OK ?
							"text/plain; version=0.0.4" : "text/plain");
	ret = MHD_queue_response(conn, status, response);
	MHD_destroy_response(response);
	return ret;
}

Metrics *
metrics_start(const char *listen, WcError *err)
{
	Metrics    *metrics = wc_malloc0(sizeof(Metrics));
	struct sockaddr_in addr;
	const char *colon = strrchr(listen, ':');
	char		host[64];
	long		port;
	char	   *end;

	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_ANY);
	port = strtol(colon ? colon + 1 : listen, &end, 10);
	if (*end != '\0' || port < 1 || port > 65535 ||
		(colon && colon - listen >= (long) sizeof(host)))
	{
		wc_error_set(err, "invalid metrics address \"%s\"", listen);
		wc_error_hint(err, "Give HOST:PORT or PORT, such as \"127.0.0.1:9187\".");
		free(metrics);
		return NULL;
	}
	if (colon && colon > listen)
	{
		memcpy(host, listen, colon - listen);
		host[colon - listen] = '\0';
		if (inet_pton(AF_INET, host, &addr.sin_addr) != 1)
		{
			wc_error_set(err, "invalid metrics address \"%s\"", listen);
			wc_error_hint(err, "The host must be an IPv4 address, such as 127.0.0.1.");
			free(metrics);
			return NULL;
		}
	}
	addr.sin_port = htons((uint16_t) port);
	pthread_mutex_init(&metrics->lock, NULL);
	metrics->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD,
									   (uint16_t) port, NULL, NULL, answer, metrics,
									   MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &addr,
									   MHD_OPTION_CONNECTION_LIMIT, (unsigned) 16,
									   MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) 10,
									   MHD_OPTION_END);
	if (metrics->daemon == NULL)
	{
		wc_error_set(err, "could not listen for metrics on \"%s\"", listen);
		wc_error_hint(err, "Is another process using the port?");
		pthread_mutex_destroy(&metrics->lock);
		free(metrics);
		return NULL;
	}
	return metrics;
}

void
metrics_stop(Metrics **metricsp)
{
	Metrics    *metrics = *metricsp;

	if (metrics == NULL)
		return;
	MHD_stop_daemon(metrics->daemon);
	pthread_mutex_destroy(&metrics->lock);
	free(metrics->page);
	free(metrics);
	*metricsp = NULL;
}

void
metrics_publish(Metrics *metrics, const char *page)
{
	char	   *copy = wc_strdup(page);
	char	   *old;

	pthread_mutex_lock(&metrics->lock);
	old = metrics->page;
	metrics->page = copy;
	pthread_mutex_unlock(&metrics->lock);
	free(old);
}
