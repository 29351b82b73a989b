#include "session/bdseq_store.hpp"

#include "session/sparkplug.hpp"
#include "spool/number_file.hpp"

namespace classroom {

uint64_t BdSeqStore::peek() const {
  const auto v = read_number_file(path_);
  return v && *v <= 255 ? *v : 0;
}

bool BdSeqStore::take(uint64_t& bdseq) {
  bdseq = peek();
  return write_number_file(path_, sparkplug::next_bdseq(bdseq), true);
}

}  // namespace classroom
