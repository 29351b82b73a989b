// The drivers' whole-file reader: bounded, FIFO-safe, and never zero-filled.
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <catch2/catch.hpp>
#include <cerrno>
#include <fstream>
#include <string>
#include <vector>

#include "../temp_dir.hpp"
#include "file_buffer.hpp"

using classroom::drivers::FileBuffer;
using Status = FileBuffer::Status;

namespace {
std::string pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7 + i / 13) % 26);
  return s;
}
void write(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}
}  // namespace

TEST_CASE("file buffer: a file larger than the first allocation is read whole") {
  TempDir tmp;
  const std::string text = pattern(100'000);
  write(tmp / "f", text);
  FileBuffer b(16, 1 << 20);
  REQUIRE(b.read((tmp / "f").c_str()) == Status::ok);
  CHECK(b.view() == text);
  // Read again, and a shorter file after it: the content is the new file's.
  write(tmp / "g", "short\n");
  REQUIRE(b.read((tmp / "g").c_str()) == Status::ok);
  CHECK(b.view() == "short\n");
  write(tmp / "empty", "");
  REQUIRE(b.read((tmp / "empty").c_str()) == Status::ok);
  CHECK(b.view().empty());
}

TEST_CASE("file buffer: the limit is exact, and more is too big with the first bytes kept") {
  TempDir tmp;
  const std::string text = pattern(5000);
  write(tmp / "at", text);
  write(tmp / "over", text + "x");
  FileBuffer b(1024, 5000);
  REQUIRE(b.read((tmp / "at").c_str()) == Status::ok);
  CHECK(b.view() == text);
  REQUIRE(b.read((tmp / "over").c_str()) == Status::too_big);
  CHECK(b.view() == text);
  FileBuffer big_first(64 * 1024, 5000);  // a first allocation above the limit
  CHECK(big_first.read((tmp / "over").c_str()) == Status::too_big);
  CHECK(big_first.view().size() == 5000);
}

TEST_CASE("file buffer: what cannot be read says why, and a FIFO never blocks") {
  TempDir tmp;
  FileBuffer b(1024, 1 << 20);
  CHECK(b.read((tmp / "missing").c_str()) == Status::cannot_open);
  CHECK(b.error() == ENOENT);
  CHECK(b.view().empty());
  // A FIFO with no writer: opened blocking, this would wait for ever.
  REQUIRE(::mkfifo((tmp / "fifo").c_str(), 0600) == 0);
  CHECK(b.read((tmp / "fifo").c_str(), /*regular_only=*/true) == Status::not_regular);
  CHECK(b.read(tmp.path.c_str(), /*regular_only=*/true) == Status::not_regular);
  CHECK(b.read(tmp.path.c_str()) == Status::read_error);
  CHECK(b.error() == EISDIR);
}

TEST_CASE("file buffer: /proc files, whose size stat reports as 0, are read to the end") {
  FileBuffer b(16, 1 << 20);
  REQUIRE(b.read("/proc/self/status") == Status::ok);
  CHECK(b.view().substr(0, 5) == "Name:");
  CHECK(b.view().find("\nVmRSS:") != std::string_view::npos);
}

TEST_CASE("file buffer: the capacity a file did not use is never touched (no resident pages)") {
  // 64 MiB is above the largest mmap threshold glibc's malloc ever uses
  // (32 MiB), so the buffer is fresh zero pages that become resident only
  // when written, whatever this process allocated before. After reading a
  // 10-byte file, only the page holding those bytes may be resident.
  constexpr size_t kSize = 64 << 20;
  TempDir tmp;
  write(tmp / "small", "0123456789");
  FileBuffer b(kSize, kSize);
  REQUIRE(b.read((tmp / "small").c_str()) == Status::ok);
  REQUIRE(b.view() == "0123456789");
  const long page = ::sysconf(_SC_PAGESIZE);
  auto start = reinterpret_cast<uintptr_t>(b.view().data());
  // Skip the first two pages (the data, and whatever an allocator fills).
  const uintptr_t first = (start / page + 2) * page;
  const uintptr_t end = (start + kSize) / page * page;
  REQUIRE(end > first);
  std::vector<unsigned char> resident((end - first) / page);
  REQUIRE(::mincore(reinterpret_cast<void*>(first), end - first, resident.data()) == 0);
  size_t count = 0;
  for (unsigned char r : resident) count += r & 1;
  CHECK(count == 0);
}
