// The layering the build promises (docs/architecture.md): drivers report
// what went wrong through their CollectResult and never log. The logger's
// header is within their include path (the bottom library's root holds it
// beside the text and the clock they may use), so this test is the guard.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

namespace fs = std::filesystem;

TEST_CASE("layering: no file under drivers includes the logger", "[layering]") {
  const fs::path drivers = fs::path(SOURCE_DIR) / "drivers";
  REQUIRE(fs::is_directory(drivers));
  const std::regex include_log(R"(^\s*#\s*include\s*[<"](\S*/)?log\.hpp[>"])");
  std::vector<std::string> offenders;
  size_t files = 0;
  for (const auto& entry : fs::recursive_directory_iterator(drivers)) {
    const std::string ext = entry.path().extension().string();
    if (!entry.is_regular_file() || (ext != ".cpp" && ext != ".hpp" && ext != ".h")) continue;
    ++files;
    std::ifstream in(entry.path());
    std::string line;
    for (int n = 1; std::getline(in, line); ++n)
      if (std::regex_search(line, include_log))
        offenders.push_back(entry.path().string() + ":" + std::to_string(n) + ": " + line);
  }
  CHECK(files > 20);  // the tree was read, not an empty folder
  INFO("drivers report through CollectResult (error, warning, note) instead");
  for (const std::string& o : offenders) UNSCOPED_INFO(o);
  CHECK(offenders.empty());
}
