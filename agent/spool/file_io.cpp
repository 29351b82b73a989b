#include "spool/file_io.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>
#include <cerrno>
#include <cstring>

namespace classroom {
namespace {

class PosixFileIo final : public FileIo {
 public:
  int open(const char* path, int flags, mode_t mode) override {
    int fd;
    do fd = ::open(path, flags | O_CLOEXEC, mode);
    while (fd < 0 && errno == EINTR);
    return fd;
  }
  int close(int fd) override { return ::close(fd); }
  ssize_t pread(int fd, void* buf, size_t n, off_t offset) override {
    ssize_t r;
    do r = ::pread(fd, buf, n, offset);
    while (r < 0 && errno == EINTR);
    return r;
  }
  ssize_t pwritev(int fd, const iovec* iov, int count, off_t offset) override {
    ssize_t r;
    do r = ::pwritev(fd, iov, count, offset);
    while (r < 0 && errno == EINTR);
    return r;
  }
  int ftruncate(int fd, off_t size) override { return ::ftruncate(fd, size); }
  int fdatasync(int fd) override { return ::fdatasync(fd); }
  int fstat(int fd, struct stat* st) override { return ::fstat(fd, st); }
  int punch_hole(int fd, off_t offset, off_t length) override {
    return ::fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length);
  }
  int rename(const char* from, const char* to) override { return ::rename(from, to); }
  int unlink(const char* path) override { return ::unlink(path); }
  int mkdir(const char* path, mode_t mode) override { return ::mkdir(path, mode); }
  int fsync_dir(const char* path) override {
    const int fd = ::open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -1;
    const int r = ::fsync(fd);
    const int saved = errno;
    ::close(fd);
    errno = saved;
    return r;
  }
  bool list_dir(const char* path, std::vector<std::string>& names) override {
    DIR* d = ::opendir(path);
    if (!d) return false;
    errno = 0;
    while (const dirent* e = ::readdir(d)) {
      if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
      names.emplace_back(e->d_name);
    }
    const int saved = errno;
    ::closedir(d);
    errno = saved;
    return saved == 0;
  }
};

}  // namespace

FileIo& posix_file_io() {
  static PosixFileIo io;
  return io;
}

}  // namespace classroom
