#include "probes/ares_api.hpp"

#include "probes/shared_library.hpp"

namespace classroom::drivers::probes {
namespace {

bool fill(Symbols& bind, AresApi& a) {
  return bind("ares_init_options", a.init_options) &&
         bind("ares_set_servers_ports_csv", a.set_servers_ports_csv) &&
         bind("ares_destroy", a.destroy) && bind("ares_cancel", a.cancel) &&
         bind("ares_strerror", a.strerror) && bind("ares_getsock", a.getsock) &&
         bind("ares_process_fd", a.process_fd) && bind("ares_timeout", a.timeout) &&
         bind("ares_getaddrinfo", a.getaddrinfo) && bind("ares_freeaddrinfo", a.freeaddrinfo) &&
         bind("ares_query", a.query) && bind("ares_parse_a_reply", a.parse_a_reply) &&
         bind("ares_parse_aaaa_reply", a.parse_aaaa_reply);
}

// Made on first use: nothing depends on the order of static initialisation.
// Never destroyed: a probe thread abandoned at exit may still ask it.
SharedLibrary<AresApi>& ares_library() {
  static auto* library = new SharedLibrary<AresApi>("libcares.so.2", "libc-ares2", fill);
  return *library;
}

}  // namespace

const AresApi* load_ares(std::string* error) {
  return ares_library().load(error);
}

const AresApi& ares_api() {
  return ares_library().api();
}

}  // namespace classroom::drivers::probes
