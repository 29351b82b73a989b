#include "probes/ares_api.hpp"

#include <mutex>

#include "probes/shared_library.hpp"

namespace classroom::drivers::probes {
namespace {

constexpr const char* kSoname = "libcares.so.2";

AresApi g_api{};
const AresApi* g_loaded = nullptr;
std::string g_error;

template <typename F>
bool bind(void* lib, const char* name, F& out) {
  return bind_symbol(lib, kSoname, name, out, g_error);
}

void load() {
  void* lib = open_library(kSoname, "libc-ares2", g_error);
  if (!lib) return;
  AresApi a{};
  if (bind(lib, "ares_init_options", a.init_options) &&
      bind(lib, "ares_set_servers_ports_csv", a.set_servers_ports_csv) &&
      bind(lib, "ares_destroy", a.destroy) && bind(lib, "ares_cancel", a.cancel) &&
      bind(lib, "ares_strerror", a.strerror) && bind(lib, "ares_getsock", a.getsock) &&
      bind(lib, "ares_process_fd", a.process_fd) && bind(lib, "ares_timeout", a.timeout) &&
      bind(lib, "ares_getaddrinfo", a.getaddrinfo) &&
      bind(lib, "ares_freeaddrinfo", a.freeaddrinfo) && bind(lib, "ares_query", a.query) &&
      bind(lib, "ares_parse_a_reply", a.parse_a_reply) &&
      bind(lib, "ares_parse_aaaa_reply", a.parse_aaaa_reply)) {
    g_api = a;
    g_loaded = &g_api;
  }
}

}  // namespace

const AresApi* load_ares(std::string* error) {
  static std::once_flag once;
  std::call_once(once, load);
  if (!g_loaded && error) *error = g_error;
  return g_loaded;
}

const AresApi& ares_api() {
  return g_api;
}

}  // namespace classroom::drivers::probes
