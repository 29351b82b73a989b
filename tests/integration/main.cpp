// Integration tests. The agent under test logs to its own file (shown when a
// test fails); the spool reader the tests use is kept quiet here.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "log.hpp"

int main(int argc, char* argv[]) {
  classroom::log::set_level(classroom::log::Level::error);
  return Catch::Session().run(argc, argv);
}
