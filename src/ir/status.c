/* Names of MindSpore Lite status codes, for messages. */
#include "tod/status.h"

const char *tod_status_name(tod_status s) {
  switch (s) {
    case TOD_OK: return "RET_OK";
    case TOD_ERROR: return "RET_ERROR";
    case TOD_NULL_PTR: return "RET_NULL_PTR";
    case TOD_PARAM_INVALID: return "RET_PARAM_INVALID";
    case TOD_NO_CHANGE: return "RET_NO_CHANGE";
    case TOD_SUCCESS_EXIT: return "RET_SUCCESS_EXIT";
    case TOD_MEMORY_FAILED: return "RET_MEMORY_FAILED";
    case TOD_NOT_SUPPORT: return "RET_NOT_SUPPORT";
    case TOD_THREAD_POOL_ERROR: return "RET_THREAD_POOL_ERROR";
    case TOD_OUT_OF_TENSOR_RANGE: return "RET_OUT_OF_TENSOR_RANGE";
    case TOD_INPUT_TENSOR_ERROR: return "RET_INPUT_TENSOR_ERROR";
    case TOD_REENTRANT_ERROR: return "RET_REENTRANT_ERROR";
    case TOD_GRAPH_FILE_ERR: return "RET_GRAPH_FILE_ERR";
    case TOD_NOT_FIND_OP: return "RET_NOT_FIND_OP";
    case TOD_INVALID_OP_NAME: return "RET_INVALID_OP_NAME";
    case TOD_INVALID_OP_ATTR: return "RET_INVALID_OP_ATTR";
    case TOD_OP_EXECUTE_FAILURE: return "RET_OP_EXECUTE_FAILURE";
    case TOD_FORMAT_ERR: return "RET_FORMAT_ERR";
    case TOD_INFER_ERR: return "RET_INFER_ERR";
    case TOD_INFER_INVALID: return "RET_INFER_INVALID";
    case TOD_INPUT_PARAM_INVALID: return "RET_INPUT_PARAM_INVALID";
    default: return "RET_UNKNOWN";
  }
}
