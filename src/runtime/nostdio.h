/* Force-included (-include) into every file of the TOD_MINIMAL libraries: library code formats
 * its error messages with snprintf/vsnprintf, and here they become the small formatter of
 * runtime/tiny_format.c, so the library references nothing of stdio (a file that includes
 * stdio.h later declares tod_snprintf again, compatibly). No system header is included here:
 * that would fix the feature-test macros before a file's own _DEFAULT_SOURCE.
 * scripts/size_report.sh checks the archive's undefined symbols. */
#ifndef TOD_RUNTIME_NOSTDIO_H
#define TOD_RUNTIME_NOSTDIO_H

#include "runtime/tiny_format.h"

#define snprintf tod_snprintf
#define vsnprintf tod_vsnprintf

#endif
