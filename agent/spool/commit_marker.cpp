#include "spool/commit_marker.hpp"

#include <fcntl.h>
#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string_view>

#include "spool/crc32.hpp"

namespace classroom {
namespace {

constexpr size_t kFileBytes = 2 * CommitMarker::kLineBytes;

void format_line(char* out, uint64_t value) {
  char digits[21];
  std::snprintf(digits, sizeof digits, "%020llu", static_cast<unsigned long long>(value));
  char line[CommitMarker::kLineBytes + 1];
  std::snprintf(line, sizeof line, "%s %08x\n", digits, crc32(digits, 20));
  std::memcpy(out, line, CommitMarker::kLineBytes);
}

// One copy: its number if the line is whole and its CRC matches.
std::optional<uint64_t> parse_line(std::string_view line) {
  if (line.size() != CommitMarker::kLineBytes || line[20] != ' ' || line.back() != '\n')
    return std::nullopt;
  const std::optional<uint64_t> v = parse_number_text(line.substr(0, 20));
  uint32_t crc = 0;
  const char* hex_end = line.data() + 29;
  const auto [end, error] = std::from_chars(line.data() + 21, hex_end, crc, 16);
  if (!v || error != std::errc() || end != hex_end || crc != crc32(line.data(), 20))
    return std::nullopt;
  return v;
}

// Two copies, the newer intact one; or the one-number form.
std::optional<uint64_t> parse_marker_text(std::string_view text) {
  if (text.size() != kFileBytes) return parse_number_text(text);
  const std::optional<uint64_t> a = parse_line(text.substr(0, CommitMarker::kLineBytes));
  const std::optional<uint64_t> b = parse_line(text.substr(CommitMarker::kLineBytes));
  if (a && b) return std::max(*a, *b);
  return a ? a : b;
}

}  // namespace

NumberFile CommitMarker::read() {
  close();  // whatever is there now decides the next save
  return read_number_file(io_, path_, kFileBytes, parse_marker_text);
}

bool CommitMarker::write(uint64_t value, bool sync) {
  // A marker deleted or replaced meanwhile (by hand, a restore) is made again.
  struct stat st {};
  if (fd_ >= 0 && (io_.fstat(fd_, &st) != 0 || st.st_nlink == 0)) close();
  if (fd_ < 0) return make(value, sync);
  char line[kLineBytes];
  format_line(line, value);
  iovec iov{line, kLineBytes};
  const off_t at = static_cast<off_t>(older_ * kLineBytes);
  if (io_.pwritev(fd_, &iov, 1, at) != static_cast<ssize_t>(kLineBytes) ||
      (sync && io_.fdatasync(fd_) != 0)) {
    close();
    return false;
  }
  older_ = 1 - older_;
  return true;
}

// The file in the two-copy form, both copies `value`, by write and rename.
bool CommitMarker::make(uint64_t value, bool sync) {
  char text[kFileBytes];
  format_line(text, value);
  std::memcpy(text + kLineBytes, text, kLineBytes);
  if (!replace_file(io_, path_, text, kFileBytes, sync)) return false;
  fd_ = io_.open(path_.c_str(), O_RDWR, 0);
  older_ = 0;
  return true;  // saved, even if it could not be opened for the next save
}

void CommitMarker::close() {
  if (fd_ >= 0) io_.close(fd_);
  fd_ = -1;
}

}  // namespace classroom
