// The Sparkplug bdSeq: counted in memory, +1 for every CONNECT, and saved in
// the state directory so that a restarted agent goes on from there and hosts
// can tell the sessions apart.
#pragma once

#include <cstdint>
#include <string>

namespace classroom {

class BdSeqStore {
 public:
  // Starts from the saved value; a missing or unreadable file starts at 0.
  explicit BdSeqStore(std::string path);
  // The bdSeq for a new CONNECT; the next take gives the one after it, even
  // when the file cannot be written. The file then holds that next one.
  // Returns false if it could not be saved (error() says why): only a
  // restart may then reuse a bdSeq.
  bool take(uint64_t& bdseq);
  // The last take's CONNECT never left (the TCP or TLS connect failed): the
  // next take gives the same bdSeq again.
  void give_back();
  // What the file holds now (0 when missing or unreadable).
  uint64_t peek() const;
  // Why the last save failed; "" when it worked.
  const std::string& error() const { return error_; }

 private:
  std::string path_;
  uint64_t next_;
  std::string error_;
};

}  // namespace classroom
