// Unit tests: quiet logs unless CLASSROOM_TEST_LOG is set (the code under test
// logs what a technician would read; the test output is about assertions).
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#include <cstdlib>

#include "log.hpp"

int main(int argc, char* argv[]) {
  if (!std::getenv("CLASSROOM_TEST_LOG")) classroom::log::set_level(classroom::log::Level::error);
  return Catch::Session().run(argc, argv);
}
