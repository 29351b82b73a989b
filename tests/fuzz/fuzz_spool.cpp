// Any bytes as the newest spool segment: recovery keeps what is intact, reads
// never crash, and the spool goes on appending.
#include <unistd.h>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "spool/spool.hpp"

static std::string dir_to_remove;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string dir = [] {
    std::string tmpl = "/tmp/classroom-fuzz-spool-XXXXXX";
    std::string made = mkdtemp(tmpl.data());
    std::atexit([] { std::filesystem::remove_all(dir_to_remove); });
    dir_to_remove = made;
    return made;
  }();
  std::filesystem::remove_all(dir + "/spool");
  std::filesystem::create_directories(dir + "/spool");
  if (FILE* f = std::fopen((dir + "/spool/00000000000000000001.seg").c_str(), "wb")) {
    std::fwrite(data, 1, size, f);
    std::fclose(f);
  }
  classroom::FakeClock clock;
  classroom::Spool spool({dir + "/spool", 1 << 20, 0, false, 1000}, clock);
  if (!spool.open().empty()) return 0;
  classroom::Spool::Cursor c{spool.committed() + 1, 0, 0};
  classroom::Spool::Record r;
  uint64_t last = 0;
  while (spool.read(c, UINT64_MAX, r)) {
    if (r.id <= last) __builtin_trap();  // ids only go up
    last = r.id;
  }
  if (spool.append("after", 1) == 0) __builtin_trap();
  return 0;
}
