// Persists the next Sparkplug bdSeq in the state directory, so a restarted
// agent births with the previous bdSeq + 1 and hosts can tell the sessions apart.
#pragma once

#include <cstdint>
#include <string>

namespace classroom {

class BdSeqStore {
 public:
  explicit BdSeqStore(std::string path) : path_(std::move(path)) {}
  // The bdSeq for a new CONNECT; the file then holds the one after it.
  // A missing or unreadable file starts at 0. Returns false if the next value
  // could not be saved (the agent carries on; a restart may reuse a bdSeq).
  bool take(uint64_t& bdseq);
  uint64_t peek() const;

 private:
  std::string path_;
};

}  // namespace classroom
