/* The installed C header (include/vlmjudge.h in the repository), found on the include
 * path that `pkg-config --cflags vlmjudge` gives. */
#ifndef CVLMJUDGE_SHIM_H
#define CVLMJUDGE_SHIM_H
#include <vlmjudge.h>
#endif
