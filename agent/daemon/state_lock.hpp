// One agent per state directory. Two agents sharing one would interleave their
// bdSeqs and append to the same spool segments; the second one is refused.
#pragma once

#include <string>

namespace classroom {

class StateLock {
 public:
  // Takes an exclusive lock on <dir>/lock (creating dir and file if needed).
  explicit StateLock(const std::string& dir);
  ~StateLock();
  StateLock(const StateLock&) = delete;
  StateLock& operator=(const StateLock&) = delete;

  // False only when another process holds the lock; `error` says which.
  // A directory that cannot be written (read-only) is not a reason to refuse:
  // the agent then runs without a lock, as it runs without a spool.
  bool acquired() const { return !held_elsewhere_; }
  const std::string& error() const { return error_; }

 private:
  int fd_ = -1;
  bool held_elsewhere_ = false;
  std::string error_;
};

}  // namespace classroom
