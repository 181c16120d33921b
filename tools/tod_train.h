/* `tod train` and `tod eval` subcommands. */
#ifndef TOD_TOOLS_TRAIN_H
#define TOD_TOOLS_TRAIN_H

int tod_cmd_train(int argc, char **argv);
int tod_cmd_eval(int argc, char **argv);

#endif
