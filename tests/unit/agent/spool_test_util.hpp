// Shared by the spool's unit tests: options, deterministic batches, reading
// everything back, and poking at the files of a spool directory.
#pragma once

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "spool/spool.hpp"

namespace spool_test {

namespace fs = std::filesystem;

inline classroom::SpoolOptions opts(const std::string& dir, uint64_t max_bytes = 1 << 20,
                                    uint64_t segment = 0) {
  classroom::SpoolOptions o;
  o.dir = dir;
  o.max_bytes = max_bytes;
  o.segment_bytes = segment;
  return o;
}

inline std::string batch(uint64_t n, size_t size = 40) {
  std::string s = "batch-" + std::to_string(n) + "-";
  s.resize(size, static_cast<char>('a' + n % 26));
  return s;
}

// Everything readable from the first unconfirmed id, in order.
inline std::vector<classroom::Spool::Record> read_all(classroom::Spool& spool) {
  std::vector<classroom::Spool::Record> out;
  classroom::Spool::Cursor c{spool.committed() + 1, 0, 0};
  classroom::Spool::Record r;
  while (spool.read(c, UINT64_MAX, r)) out.push_back(r);
  return out;
}

inline std::vector<fs::path> segments(const std::string& dir) {
  std::vector<fs::path> out;
  for (auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".seg") out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

inline std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
inline void spit(const fs::path& p, const std::string& data) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << data;
}

inline std::string seg_name(uint64_t first_id) {
  char name[32];
  std::snprintf(name, sizeof name, "%020llu.seg", static_cast<unsigned long long>(first_id));
  return name;
}

}  // namespace spool_test
