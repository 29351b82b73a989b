#include "probes/curl_api.hpp"

#include <cstdlib>
#include <mutex>

#include "probes/shared_library.hpp"

namespace classroom::drivers::probes {
namespace {

CurlApi g_api{};
const CurlApi* g_loaded = nullptr;
std::string g_error;

constexpr const char* kSoname = "libcurl.so.4";

template <typename F>
bool bind(void* lib, const char* name, F& out) {
  return bind_symbol(lib, kSoname, name, out, g_error);
}

void load() {
  // Debian's libcurl links librtmp, which links GnuTLS, whose constructor
  // initialises GnuTLS at load (some 120 KiB of heap, measured) although only
  // rtmp:// would use it, and the probes allow http and https alone (OpenSSL).
  // GnuTLS skips that implicit initialisation when this is set; whoever really
  // uses GnuTLS calls gnutls_global_init() itself. Set before the first load
  // only, never overriding a value from outside.
  ::setenv("GNUTLS_NO_IMPLICIT_INIT", "1", 0);
  void* lib = open_library(kSoname, "libcurl4", g_error);
  if (!lib) return;
  CurlApi a{};
  if (bind(lib, "curl_global_init", a.global_init) &&
      bind(lib, "curl_global_cleanup", a.global_cleanup) &&
      bind(lib, "curl_multi_init", a.multi_init) &&
      bind(lib, "curl_multi_setopt", a.multi_setopt) &&
      bind(lib, "curl_multi_cleanup", a.multi_cleanup) &&
      bind(lib, "curl_multi_add_handle", a.multi_add_handle) &&
      bind(lib, "curl_multi_remove_handle", a.multi_remove_handle) &&
      bind(lib, "curl_multi_socket_action", a.multi_socket_action) &&
      bind(lib, "curl_multi_info_read", a.multi_info_read) &&
      bind(lib, "curl_easy_init", a.easy_init) && bind(lib, "curl_easy_setopt", a.easy_setopt) &&
      bind(lib, "curl_easy_getinfo", a.easy_getinfo) &&
      bind(lib, "curl_easy_cleanup", a.easy_cleanup) &&
      bind(lib, "curl_easy_strerror", a.easy_strerror)) {
    g_api = a;
    g_loaded = &g_api;
  }
  // The library stays loaded for the life of the process (never dlclose'd).
}

}  // namespace

const CurlApi* load_curl(std::string* error) {
  static std::once_flag once;
  std::call_once(once, load);
  if (!g_loaded && error) *error = g_error;
  return g_loaded;
}

const CurlApi& curl_api() {
  return g_api;
}

}  // namespace classroom::drivers::probes
