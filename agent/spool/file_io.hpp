// The spool's one seam to the filesystem: every file operation the spool and
// its committed marker make goes through a FileIo. The agent uses the POSIX
// one; tests substitute a model of a disk that loses power (it keeps only what
// was synced), so the durability promise is proven, not assumed.
//
// Each call behaves like its POSIX namesake: it returns -1 (or false) and sets
// errno when it fails.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <string>
#include <vector>

namespace classroom {

class FileIo {
 public:
  virtual ~FileIo() = default;
  virtual int open(const char* path, int flags, mode_t mode) = 0;
  virtual int close(int fd) = 0;
  virtual ssize_t pread(int fd, void* buf, size_t n, off_t offset) = 0;
  virtual ssize_t pwritev(int fd, const iovec* iov, int count, off_t offset) = 0;
  virtual int ftruncate(int fd, off_t size) = 0;
  virtual int fdatasync(int fd) = 0;
  virtual int fstat(int fd, struct stat* st) = 0;
  // Frees the blocks of [offset, offset + length) (reads then return zeros);
  // the file keeps its size. Fails with EOPNOTSUPP where the filesystem cannot.
  virtual int punch_hole(int fd, off_t offset, off_t length) = 0;
  virtual int rename(const char* from, const char* to) = 0;
  virtual int unlink(const char* path) = 0;
  virtual int mkdir(const char* path, mode_t mode) = 0;
  // Makes the directory's entries (files created, renamed, deleted) durable.
  virtual int fsync_dir(const char* path) = 0;
  // The names in a directory, without "." and "..".
  virtual bool list_dir(const char* path, std::vector<std::string>& names) = 0;
};

// The real filesystem.
FileIo& posix_file_io();

}  // namespace classroom
