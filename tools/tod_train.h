/* `tod train` and `tod eval` subcommands. */
#ifndef TOD_TOOLS_TRAIN_H
#define TOD_TOOLS_TRAIN_H

#include <stddef.h>

int tod_cmd_train(int argc, char **argv);
int tod_cmd_eval(int argc, char **argv);
/* --max-memory's value: bytes, or with a K/M/G suffix (optionally followed by B), binary units.
 * 0 on success, -1 when s is not such a number. */
int tod_parse_bytes(const char *s, size_t *out);

#endif
