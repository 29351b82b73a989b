// Libraries loaded with dlopen when a feature that needs them is configured:
// linked at start, a library costs every gateway its relocated data (private
// dirty memory) and its mapped pages (PSS) whether it is used or not (see
// docs/performance.md). Each one has a table of the functions the agent calls
// (curl_api.hpp, ares_api.hpp), filled once by these two helpers.
#pragma once

#include <dlfcn.h>

#include <string>

namespace classroom::drivers::probes {

// Opens `soname` for the life of the process (never closed). nullptr, with
// `error` saying which Debian package provides it, when it cannot.
inline void* open_library(const char* soname, const char* package, std::string& error) {
  void* lib = ::dlopen(soname, RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char* e = ::dlerror();
    error = std::string("cannot load ") + soname + " (install " + package + "): " + (e ? e : "?");
  }
  return lib;
}

// Sets `out` to the function `name` of `lib`; false, with `error` set, when
// the library has none.
template <typename F>
bool bind_symbol(void* lib, const char* soname, const char* name, F& out, std::string& error) {
  out = reinterpret_cast<F>(::dlsym(lib, name));
  if (!out) error = std::string(soname) + " has no " + name;
  return out != nullptr;
}

}  // namespace classroom::drivers::probes
