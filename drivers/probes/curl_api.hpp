// libcurl, loaded with dlopen when the first http or throughput probe needs it.
// Linked at start, libcurl and its dozens of dependencies cost every gateway
// some 660 KiB of private dirty memory (relocations) even with no probe
// configured; loaded on demand they cost nothing there (docs/performance.md, "Figures").
#pragma once

#include <curl/curl.h>

#include <string>

namespace classroom::drivers::probes {

struct CurlApi {
  decltype(&::curl_global_init) global_init;
  decltype(&::curl_global_cleanup) global_cleanup;
  decltype(&::curl_multi_init) multi_init;
  decltype(&::curl_multi_setopt) multi_setopt;
  decltype(&::curl_multi_cleanup) multi_cleanup;
  decltype(&::curl_multi_add_handle) multi_add_handle;
  decltype(&::curl_multi_remove_handle) multi_remove_handle;
  decltype(&::curl_multi_socket_action) multi_socket_action;
  decltype(&::curl_multi_info_read) multi_info_read;
  decltype(&::curl_easy_init) easy_init;
  decltype(&::curl_easy_setopt) easy_setopt;
  decltype(&::curl_easy_getinfo) easy_getinfo;
  decltype(&::curl_easy_cleanup) easy_cleanup;
  decltype(&::curl_easy_strerror) easy_strerror;
};

// Loads libcurl.so.4 once (thread-safe); nullptr, with `error` set, when it
// cannot. Every later call returns the same table.
const CurlApi* load_curl(std::string* error = nullptr);
// The loaded table; only after a successful load_curl().
const CurlApi& curl_api();

}  // namespace classroom::drivers::probes
