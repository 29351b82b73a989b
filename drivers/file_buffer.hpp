// One reader for the whole files the drivers parse (/proc, /sys, DHCP lease
// files), into a buffer each driver keeps.
#pragma once

#include <cstddef>
#include <memory>
#include <string_view>

namespace classroom::drivers {

// A growable byte buffer that is never zero-filled: a driver keeps it for its
// life, and the memory that costs is only the pages its largest file touched,
// not its capacity (a std::string resized to its capacity writes every byte).
// Growing allocates; a warm cycle reading files no larger than before does not.
class FileBuffer {
 public:
  enum class Status {
    ok,
    cannot_open,  // errno() says why
    not_regular,  // with regular_only: a FIFO, device or directory
    too_big,      // more than the limit: view() holds its whole lines within the
                  // limit (with regular_only: nothing, and the memory is given back)
    read_error,   // errno() says why; view() is empty
  };

  // `initial` bytes are allocated (not touched) at once; it doubles up to
  // `limit` bytes of content (at most kMaxLimit).
  FileBuffer(size_t initial, size_t limit);
  static constexpr size_t kMaxLimit = size_t{1} << 30;

  // Reads all of `path`. /proc files report size 0, so it reads until end of
  // file rather than trusting fstat. With `regular_only` (outside input such
  // as a lease file), the file must be a regular file and is opened
  // non-blocking, so that a FIFO put in its place cannot hang the loop, and a
  // file whose size is over the limit is refused before it is read.
  Status read(const char* path, bool regular_only = false);

  std::string_view view() const { return {data_.get(), size_}; }
  int error() const { return errno_; }

 private:
  void grow();
  void shrink();  // back to the first allocation

  std::unique_ptr<char[]> data_;
  size_t initial_;
  size_t capacity_;
  size_t size_ = 0;
  size_t limit_;
  int errno_ = 0;
};

}  // namespace classroom::drivers
