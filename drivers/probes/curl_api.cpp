#include "probes/curl_api.hpp"

#include <cstdlib>

#include "probes/shared_library.hpp"

namespace classroom::drivers::probes {
namespace {

// Debian's libcurl links librtmp, which links GnuTLS, whose constructor
// initialises GnuTLS at load (some 120 KiB of heap, measured) although only
// rtmp:// would use it, and the probes allow http and https alone (OpenSSL).
// GnuTLS skips that implicit initialisation when this is set; whoever really
// uses GnuTLS calls gnutls_global_init() itself. Set before the first load
// only, never overriding a value from outside.
void skip_gnutls_init() {
  ::setenv("GNUTLS_NO_IMPLICIT_INIT", "1", 0);
}

bool fill(Symbols& bind, CurlApi& a) {
  return bind("curl_global_init", a.global_init) && bind("curl_global_cleanup", a.global_cleanup) &&
         bind("curl_multi_init", a.multi_init) && bind("curl_multi_setopt", a.multi_setopt) &&
         bind("curl_multi_cleanup", a.multi_cleanup) &&
         bind("curl_multi_add_handle", a.multi_add_handle) &&
         bind("curl_multi_remove_handle", a.multi_remove_handle) &&
         bind("curl_multi_socket_action", a.multi_socket_action) &&
         bind("curl_multi_info_read", a.multi_info_read) && bind("curl_easy_init", a.easy_init) &&
         bind("curl_easy_setopt", a.easy_setopt) && bind("curl_easy_getinfo", a.easy_getinfo) &&
         bind("curl_easy_cleanup", a.easy_cleanup) && bind("curl_easy_strerror", a.easy_strerror);
}

// Made on first use: nothing depends on the order of static initialisation.
// Never destroyed: a probe thread abandoned at exit may still ask it.
SharedLibrary<CurlApi>& curl_library() {
  static auto* library =
      new SharedLibrary<CurlApi>("libcurl.so.4", "libcurl4", fill, skip_gnutls_init);
  return *library;
}

}  // namespace

const CurlApi* load_curl(std::string* error) {
  return curl_library().load(error);
}

const CurlApi& curl_api() {
  return curl_library().api();
}

}  // namespace classroom::drivers::probes
