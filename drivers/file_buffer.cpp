#include "file_buffer.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <cstring>

namespace classroom::drivers {

FileBuffer::FileBuffer(size_t initial, size_t limit)
    : data_(new char[std::max<size_t>(initial, 1)]),  // not value-initialised: untouched
      capacity_(std::max<size_t>(initial, 1)),
      limit_(limit) {}

void FileBuffer::grow() {
  const size_t bigger = std::min(capacity_ * 2, limit_ + 1);
  std::unique_ptr<char[]> next(new char[bigger]);
  std::memcpy(next.get(), data_.get(), size_);
  data_ = std::move(next);
  capacity_ = bigger;
}

FileBuffer::Status FileBuffer::read(const char* path, bool regular_only) {
  size_ = 0;
  errno_ = 0;
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC | (regular_only ? O_NONBLOCK : 0));
  if (fd < 0) {
    errno_ = errno;
    return Status::cannot_open;
  }
  struct stat st {};
  if (regular_only && (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))) {
    ::close(fd);
    return Status::not_regular;
  }
  // One byte more than the limit is read, to tell "exactly the limit" from
  // "more than the limit".
  Status status = Status::ok;
  for (;;) {
    if (size_ == capacity_) {
      if (capacity_ > limit_) {
        status = Status::too_big;
        break;
      }
      grow();
    }
    const ssize_t n = ::read(fd, data_.get() + size_, capacity_ - size_);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      errno_ = errno;
      size_ = 0;
      status = Status::read_error;
      break;
    }
    if (n == 0) break;
    size_ += static_cast<size_t>(n);
  }
  ::close(fd);
  if (size_ > limit_) {
    size_ = limit_;
    status = Status::too_big;
  }
  return status;
}

}  // namespace classroom::drivers
