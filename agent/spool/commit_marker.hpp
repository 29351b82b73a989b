// The spool's committed marker: the highest id the broker has confirmed, kept
// in <spool>/committed and saved a second after a confirmation not yet in it.
//
// It holds two copies, one a line ("<20 digits> <CRC-32 of them, 8 hex>\n"),
// and a save overwrites the older copy in place: no new file, no rename, no
// directory entry changed, so a save costs one small write (a rename per
// second made the journal commit and was the loop's largest use of CPU). A
// write torn by a power cut fails its CRC and the other copy, one save older,
// is used: at worst a second's duplicates, never a number made of two halves.
// The file is made (both copies the same) by write-and-rename the first time,
// or when it was missing, damaged or in the one-number form older versions
// wrote, which is still read.
#pragma once

#include <cstdint>
#include <string>

#include "spool/file_io.hpp"
#include "spool/number_file.hpp"

namespace classroom {

class CommitMarker {
 public:
  static constexpr size_t kLineBytes = 30;  // 20 digits, a space, 8 hex digits, a newline

  CommitMarker(FileIo& io, std::string path) : io_(io), path_(std::move(path)) {}
  ~CommitMarker() { close(); }
  CommitMarker(const CommitMarker&) = delete;
  CommitMarker& operator=(const CommitMarker&) = delete;

  // The newest intact copy (or the number of the older form).
  NumberFile read();
  // Saves `value`; with `sync` it is on disk when this returns. False if a
  // step failed (the next save makes the file again).
  bool write(uint64_t value, bool sync);
  void close();

 private:
  bool make(uint64_t value, bool sync);

  FileIo& io_;
  std::string path_;
  int fd_ = -1;    // open once the file is known to be in the two-copy form
  int older_ = 0;  // the copy the next save overwrites
};

}  // namespace classroom
