#include "session/bdseq_store.hpp"

#include <cerrno>
#include <cstring>

#include "printable.hpp"
#include "session/sparkplug.hpp"
#include "spool/number_file.hpp"

namespace classroom {

BdSeqStore::BdSeqStore(std::string path) : path_(std::move(path)), next_(peek()) {}

uint64_t BdSeqStore::peek() const {
  const auto v = read_number_file(path_);
  return v && *v <= 255 ? *v : 0;
}

bool BdSeqStore::take(uint64_t& bdseq) {
  bdseq = next_;
  next_ = sparkplug::next_bdseq(next_);
  errno = 0;
  if (write_number_file(path_, next_, true)) {
    error_.clear();
    return true;
  }
  error_ = "cannot save it in " + text::printable(path_, 256) + ": " +
           (errno ? std::strerror(errno) : "write failed");
  return false;
}

void BdSeqStore::give_back() {
  next_ = (next_ + 255) % 256;
}

}  // namespace classroom
