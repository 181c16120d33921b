/* tod status codes: MindSpore Lite's numbers (its public errorcode.h), so scripts written for
 * MindSpore Lite keep working. Every fallible tod function returns one of these. */
#ifndef TOD_STATUS_H
#define TOD_STATUS_H

typedef int tod_status;

enum {
  TOD_OK = 0,
  TOD_ERROR = -1,
  TOD_NULL_PTR = -2,
  TOD_PARAM_INVALID = -3,
  TOD_NO_CHANGE = -4,
  TOD_SUCCESS_EXIT = -5,
  TOD_MEMORY_FAILED = -6,
  TOD_NOT_SUPPORT = -7,
  TOD_THREAD_POOL_ERROR = -8,
  TOD_OUT_OF_TENSOR_RANGE = -100,
  TOD_INPUT_TENSOR_ERROR = -101,
  TOD_REENTRANT_ERROR = -102,
  TOD_GRAPH_FILE_ERR = -200,
  TOD_NOT_FIND_OP = -300,
  TOD_INVALID_OP_NAME = -301,
  TOD_INVALID_OP_ATTR = -302,
  TOD_OP_EXECUTE_FAILURE = -303,
  TOD_FORMAT_ERR = -400,
  TOD_INFER_ERR = -500,
  TOD_INFER_INVALID = -501,
  TOD_INPUT_PARAM_INVALID = -600
};

/* Short symbolic name of a status ("RET_PARAM_INVALID"); never NULL. */
const char *tod_status_name(tod_status s);

#endif
