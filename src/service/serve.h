/* `tod serve`: the model conversion task service (seed 004). */
#ifndef TOD_SERVICE_SERVE_H
#define TOD_SERVICE_SERVE_H

/* Runs the service until SIGTERM or SIGINT; argv[1] is "serve". Returns the process exit code. */
int tod_serve_main(int argc, char **argv);

#endif
