#include "spool/number_file.hpp"

#include <fcntl.h>
#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>

namespace classroom {

std::optional<uint64_t> parse_number_text(std::string_view text) {
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  if (text.empty() || text.size() > 20) return std::nullopt;
  uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    const auto d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return std::nullopt;  // overflows 64 bits
    v = v * 10 + d;
  }
  return v;
}

NumberFile read_number_file(FileIo& io, const std::string& path, size_t max_bytes,
                            std::optional<uint64_t> (*parse)(std::string_view)) {
  NumberFile out;
  const int fd = io.open(path.c_str(), O_RDONLY, 0);
  if (fd < 0) {
    if (errno == ENOENT) return out;
    out.state = NumberFile::State::damaged;
    out.reason = std::string("cannot read it: ") + std::strerror(errno);
    return out;
  }
  out.state = NumberFile::State::damaged;
  struct stat st {};
  char buf[kMaxNumberFileBytes];
  max_bytes = std::min(max_bytes, sizeof buf);
  ssize_t n = -1;
  if (io.fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
    out.reason = "not a regular file";
  else if (st.st_size > static_cast<off_t>(max_bytes))
    out.reason = "too long to hold a number";
  else if ((n = io.pread(fd, buf, max_bytes, 0)) < 0)
    out.reason = std::string("cannot read it: ") + std::strerror(errno);
  else if (auto v = parse(std::string_view(buf, static_cast<size_t>(n)))) {
    out.state = NumberFile::State::ok;
    out.value = *v;
  } else {
    out.reason = n == 0 ? "empty" : "not a number";
  }
  io.close(fd);
  return out;
}

std::optional<uint64_t> read_number_file(const std::string& path) {
  const NumberFile f = read_number_file(posix_file_io(), path);
  if (f.state != NumberFile::State::ok) return std::nullopt;
  return f.value;
}

bool replace_file(FileIo& io, const std::string& path, const void* data, size_t n, bool sync) {
  char tmp[PATH_MAX];
  if (std::snprintf(tmp, sizeof tmp, "%s.tmp", path.c_str()) >= static_cast<int>(sizeof tmp))
    return false;
  const int fd = io.open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0640);
  if (fd < 0) return false;
  iovec iov{const_cast<void*>(data), n};
  bool ok = io.pwritev(fd, &iov, 1, 0) == static_cast<ssize_t>(n);
  if (sync) ok = ok && io.fdatasync(fd) == 0;
  ok = io.close(fd) == 0 && ok;
  if (!ok || io.rename(tmp, path.c_str()) != 0) return false;
  if (!sync) return true;
  const size_t slash = path.rfind('/');
  // The directory, written over the temporary's name (it held the whole path).
  if (slash == std::string::npos) {
    std::strcpy(tmp, ".");
  } else {
    const size_t len = slash == 0 ? 1 : slash;  // "/x": the root
    std::memcpy(tmp, path.data(), len);
    tmp[len] = '\0';
  }
  return io.fsync_dir(tmp) == 0;
}

bool write_number_file(FileIo& io, const std::string& path, uint64_t value, bool sync) {
  char text[24];
  const int len =
      std::snprintf(text, sizeof text, "%llu\n", static_cast<unsigned long long>(value));
  return replace_file(io, path, text, static_cast<size_t>(len), sync);
}

bool write_number_file(const std::string& path, uint64_t value, bool sync) {
  return write_number_file(posix_file_io(), path, value, sync);
}

}  // namespace classroom
