// SharedLibrary: one load per process, the first error kept and given again,
// a missing function named, and a library made missing for the tests.
#include <catch2/catch.hpp>
#include <cstring>
#include <string>

#include "probes/shared_library.hpp"

using namespace classroom::drivers::probes;

namespace {

struct StringApi {
  decltype(&::strlen) length;
};

int fills = 0;

bool fill_strlen(Symbols& bind, StringApi& api) {
  ++fills;
  return bind("strlen", api.length);
}

bool fill_missing(Symbols& bind, StringApi& api) {
  return bind("classroom_no_such_function", api.length);
}

}  // namespace

TEST_CASE("shared library: loaded and filled once and every call gets the same table") {
  SharedLibrary<StringApi> libc("libc.so.6", "libc6", fill_strlen);
  fills = 0;
  std::string error = "untouched";
  const StringApi* a = libc.load(&error);
  REQUIRE(a);
  CHECK(a->length("four") == 4);
  CHECK(error == "untouched");  // set only on failure
  CHECK(libc.load() == a);
  CHECK(&libc.api() == a);
  CHECK(fills == 1);
}

TEST_CASE("shared library: a missing library and a missing function are named every time") {
  SharedLibrary<StringApi> none("libclassroom-none.so.1", "classroom-none", fill_strlen);
  std::string error;
  CHECK_FALSE(none.load(&error));
  CHECK_THAT(error, Catch::StartsWith("cannot load libclassroom-none.so.1 (install "
                                      "classroom-none): libclassroom-none.so.1: cannot open"));
  std::string again;
  CHECK_FALSE(none.load(&again));
  CHECK(again == error);

  SharedLibrary<StringApi> libc("libc.so.6", "libc6", fill_missing);
  CHECK_FALSE(libc.load(&error));
  CHECK(error == "libc.so.6 has no classroom_no_such_function");
}

TEST_CASE("shared library: a library made missing fails as a missing package does") {
  libraries_made_missing() = {"libc.so.6"};
  SharedLibrary<StringApi> libc("libc.so.6", "libc6", fill_strlen);
  std::string error;
  const bool loaded = libc.load(&error) != nullptr;
  libraries_made_missing().clear();
  CHECK_FALSE(loaded);
  CHECK_THAT(error, Catch::StartsWith("cannot load libc.so.6 (install libc6): "
                                      "libc.so.6.missing-for-diagnostic: cannot open"));
}
