// The only place nginx headers are included; nginx headers go first, they
// define 64-bit off_t.  The stream module's sources define
// NGX_UPSTREAM_LATENCY_STREAM first, for the stream headers.
#pragma once

extern "C" {
#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#if (NGX_UPSTREAM_LATENCY_STREAM)
#include <ngx_stream.h>
#endif
#include <nginx.h>
}
