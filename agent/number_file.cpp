#include "number_file.hpp"

#include <unistd.h>
#include <cstdio>

namespace classroom {

std::optional<uint64_t> read_number_file(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "re");
  if (!f) return std::nullopt;
  unsigned long long v = 0;
  const bool ok = std::fscanf(f, "%llu", &v) == 1;
  std::fclose(f);
  if (!ok) return std::nullopt;
  return static_cast<uint64_t>(v);
}

bool write_number_file(const std::string& path, uint64_t value, bool sync) {
  const std::string tmp = path + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "we");
  if (!f) return false;
  std::fprintf(f, "%llu\n", static_cast<unsigned long long>(value));
  bool ok = std::fflush(f) == 0;
  if (sync) ok = ok && ::fdatasync(fileno(f)) == 0;
  ok = std::fclose(f) == 0 && ok;
  return ok && std::rename(tmp.c_str(), path.c_str()) == 0;
}

}  // namespace classroom
