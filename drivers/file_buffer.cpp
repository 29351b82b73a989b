#include "file_buffer.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>

namespace classroom::drivers {

FileBuffer::FileBuffer(size_t initial, size_t limit)
    : data_(new char[std::max<size_t>(initial, 1)]),  // not value-initialised: untouched
      initial_(std::max<size_t>(initial, 1)),
      capacity_(initial_),
      limit_(std::min(limit, kMaxLimit)) {}

void FileBuffer::grow() {
  const size_t bigger = std::min(capacity_ * 2, limit_ + 1);
  std::unique_ptr<char[]> next(new char[bigger]);
  std::memcpy(next.get(), data_.get(), size_);
  data_ = std::move(next);
  capacity_ = bigger;
}

void FileBuffer::shrink() {
  if (capacity_ <= initial_) return;
  data_.reset(new char[initial_]);
  capacity_ = initial_;
  size_ = 0;
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
  if (regular_only) {
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);
      return Status::not_regular;
    }
    // Refused before a byte is read: a file that is too big costs nothing.
    if (static_cast<uint64_t>(st.st_size) > limit_) {
      ::close(fd);
      return Status::too_big;
    }
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
  if (size_ > limit_) status = Status::too_big;
  if (status == Status::too_big) {
    if (regular_only) {
      // It grew past the limit while being read: nothing of it is used, and
      // the memory it took goes back rather than stay for the agent's life.
      shrink();
    } else {
      // What fits, up to its last whole line: a cut line could read as
      // another (eth1 for eth10).
      const std::string_view kept(data_.get(), std::min(size_, limit_));
      const size_t end = kept.rfind('\n');
      size_ = end == std::string_view::npos ? 0 : end + 1;
    }
  }
  return status;
}

}  // namespace classroom::drivers
