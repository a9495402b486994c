// The only place nginx headers are included; nginx headers go first, they
// define 64-bit off_t.
#pragma once

extern "C" {
#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <nginx.h>
}
