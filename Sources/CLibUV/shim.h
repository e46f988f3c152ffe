#ifndef SKEIN_CLIBUV_SHIM_H
#define SKEIN_CLIBUV_SHIM_H
#include <uv.h>
#endif
