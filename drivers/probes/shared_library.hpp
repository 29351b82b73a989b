// Libraries loaded with dlopen when a feature that needs them is configured:
// linked at start, a library costs every gateway its relocated data (private
// dirty memory) and its mapped pages (PSS) whether it is used or not (see
// docs/performance.md). Each one has a table of the functions the agent calls
// (curl_api.hpp, ares_api.hpp, snmp/netsnmp_api.hpp), filled once by a
// SharedLibrary.
#pragma once

#include <dlfcn.h>

#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace classroom::drivers::probes {

// Binds the functions and data of one opened library, remembering which one
// was missing.
class Symbols {
 public:
  Symbols(void* lib, const char* soname, std::string& error)
      : lib_(lib), soname_(soname), error_(error) {}
  void* library() const { return lib_; }
  // Sets `out` to the symbol `name`; false, with the error set, when the
  // library has none.
  template <typename F>
  bool operator()(const char* name, F& out) {
    out = reinterpret_cast<F>(::dlsym(lib_, name));
    if (!out) error_ = std::string(soname_) + " has no " + name;
    return out != nullptr;
  }

 private:
  void* lib_;
  const char* soname_;
  std::string& error_;
};

// Sonames that SharedLibrary must fail to open, as on a gateway without the
// package: set by `run --diagnostic-missing-library` before anything loads,
// for the tests of that failure. Empty otherwise.
inline std::vector<std::string>& libraries_made_missing() {
  static std::vector<std::string> names;
  return names;
}

// One library and its table `Api`: opened, bound and initialised once
// (thread-safe), on the first load(), for the life of the process (never
// dlclose'd). `fill` binds every member of the table and runs whatever
// initialisation the library needs; false, with the error set, when it
// cannot. `before_open`, when set, runs just before the one dlopen.
template <typename Api>
class SharedLibrary {
 public:
  using Fill = bool (*)(Symbols& bind, Api& api);
  SharedLibrary(const char* soname, const char* package, Fill fill, void (*before_open)() = nullptr)
      : soname_(soname), package_(package), fill_(fill), before_open_(before_open) {}

  // The table; nullptr, with `error` set (when given), when the library
  // cannot be loaded. Every later call gives the same answer.
  const Api* load(std::string* error = nullptr) {
    std::call_once(once_, [this] { open(); });
    if (!loaded_ && error) *error = error_;
    return loaded_;
  }
  // The table; only after a successful load().
  const Api& api() const { return api_; }

 private:
  void open() {
    if (before_open_) before_open_();
    std::string name = soname_;
    for (const std::string& missing : libraries_made_missing())
      if (missing == soname_) name += ".missing-for-diagnostic";
    void* lib = ::dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
      const char* e = ::dlerror();
      error_ =
          std::string("cannot load ") + soname_ + " (install " + package_ + "): " + (e ? e : "?");
      return;
    }
    Symbols bind(lib, soname_, error_);
    Api a{};
    if (!fill_(bind, a)) return;
    api_ = a;
    loaded_ = &api_;
  }

  const char* soname_;
  const char* package_;
  Fill fill_;
  void (*before_open_)();
  std::once_flag once_;
  Api api_{};
  const Api* loaded_ = nullptr;
  std::string error_;
};

}  // namespace classroom::drivers::probes
