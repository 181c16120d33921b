/* The HTTP side of `tod serve`: routing, JSON, the bearer token and request limits
 * (shared/formats/service-api.md is the contract). */
#ifndef TOD_SERVICE_HTTP_API_H
#define TOD_SERVICE_HTTP_API_H

#include <stddef.h>

#include "service/store.h"
#include "service/worker.h"

#define TOD_BODY_LIMIT (1 << 20) /* request bodies over 1 MiB get 413 */

typedef struct {
  tod_store *store;
  const char *root_real;
  char token_hash[65]; /* hex SHA-256 of the access token */
  tod_worker_pool *pool;
} tod_api;

typedef struct tod_http tod_http;

/* Listens on host:port (port 0: any free one; *bound_port receives it) and serves api from a
 * thread per connection. api must outlive the server. NULL with err on failure. */
tod_http *tod_http_start(tod_api *api, const char *host, int port, int *bound_port, char *err, size_t errlen);

/* Closes the listening socket and every connection, then frees the server. */
void tod_http_stop(tod_http *h);

#endif
