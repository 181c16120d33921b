/* `tod export` subcommand. */
#ifndef TOD_TOOLS_EXPORT_H
#define TOD_TOOLS_EXPORT_H

int tod_cmd_export(int argc, char **argv);

#endif
