// c-ares, loaded with dlopen when the first host name is resolved or the first
// DNS probe runs (a gateway with no probe and no device named by host name
// never loads it).
#pragma once

#include <ares.h>

#include <string>

namespace classroom::drivers::probes {

struct AresApi {
  decltype(&::ares_init_options) init_options;
  decltype(&::ares_set_servers_ports_csv) set_servers_ports_csv;
  decltype(&::ares_destroy) destroy;
  decltype(&::ares_cancel) cancel;
  decltype(&::ares_strerror) strerror;
  decltype(&::ares_getsock) getsock;
  decltype(&::ares_process_fd) process_fd;
  decltype(&::ares_timeout) timeout;
  decltype(&::ares_getaddrinfo) getaddrinfo;
  decltype(&::ares_freeaddrinfo) freeaddrinfo;
  decltype(&::ares_query) query;
  decltype(&::ares_parse_a_reply) parse_a_reply;
  decltype(&::ares_parse_aaaa_reply) parse_aaaa_reply;
};

// Loads libcares.so.2 once (thread-safe); nullptr, with `error` set, when it
// cannot. Every later call returns the same table.
const AresApi* load_ares(std::string* error = nullptr);
// The loaded table; only after a successful load_ares() (an open channel
// implies one).
const AresApi& ares_api();

}  // namespace classroom::drivers::probes
