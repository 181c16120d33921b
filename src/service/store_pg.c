/* placeholder */
#include <stdio.h>
#include "service/store.h"
tod_store *tod_store_pg_open(const char *url, char *err, size_t errlen) {
  (void)url;
  snprintf(err, errlen, "PostgreSQL support is not built in");
  return NULL;
}
