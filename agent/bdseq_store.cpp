#include "bdseq_store.hpp"

#include <unistd.h>
#include <cstdio>

#include "sparkplug.hpp"

namespace classroom {

uint64_t BdSeqStore::peek() const {
  unsigned long long v = 0;
  if (FILE* f = std::fopen(path_.c_str(), "re")) {
    if (std::fscanf(f, "%llu", &v) != 1 || v > 255) v = 0;
    std::fclose(f);
  }
  return v;
}

bool BdSeqStore::take(uint64_t& bdseq) {
  bdseq = peek();
  const std::string tmp = path_ + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "we");
  if (!f) return false;
  std::fprintf(f, "%llu\n", static_cast<unsigned long long>(sparkplug::next_bdseq(bdseq)));
  bool ok = std::fflush(f) == 0 && ::fsync(fileno(f)) == 0;
  ok = std::fclose(f) == 0 && ok;
  return ok && std::rename(tmp.c_str(), path_.c_str()) == 0;
}

}  // namespace classroom
