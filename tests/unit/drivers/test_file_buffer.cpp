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

TEST_CASE("file buffer: the limit is exact, and more is too big with its whole lines kept") {
  TempDir tmp;
  std::string text = pattern(4990);
  text[1000] = '\n';
  text += "\neth10\n";  // 4997 bytes
  REQUIRE(text.size() == 4997);
  write(tmp / "at", text + "et\n");  // exactly 5000
  write(tmp / "over", text + "eth1\n");
  FileBuffer b(1024, 5000);
  REQUIRE(b.read((tmp / "at").c_str()) == Status::ok);
  CHECK(b.view() == text + "et\n");
  // The cut falls inside "eth1": that line is dropped, never read as "et".
  REQUIRE(b.read((tmp / "over").c_str()) == Status::too_big);
  CHECK(b.view() == text);
  FileBuffer big_first(64 * 1024, 5000);  // a first allocation above the limit
  CHECK(big_first.read((tmp / "over").c_str()) == Status::too_big);
  CHECK(big_first.view() == text);
  write(tmp / "no lines", pattern(6000));
  CHECK(b.read((tmp / "no lines").c_str()) == Status::too_big);
  CHECK(b.view().empty());
}

TEST_CASE("file buffer: outside input over the limit is refused, and costs nothing after") {
  TempDir tmp;
  write(tmp / "big", pattern(10'000));
  FileBuffer b(64, 1000);
  // By its size, before a byte is read.
  CHECK(b.read((tmp / "big").c_str(), /*regular_only=*/true) == Status::too_big);
  CHECK(b.view().empty());
  // A regular file whose size says 0 (as /proc's do) but holds more, as a
  // file that grows while it is read: refused, and nothing of it is kept.
  CHECK(b.read("/proc/self/status", /*regular_only=*/true) == Status::too_big);
  CHECK(b.view().empty());
  write(tmp / "small", "lease\n");
  CHECK(b.read((tmp / "small").c_str(), /*regular_only=*/true) == Status::ok);
  CHECK(b.view() == "lease\n");
}

TEST_CASE("file buffer: a limit near the size of memory cannot overflow the growth") {
  TempDir tmp;
  write(tmp / "f", pattern(20));
  FileBuffer b(16, SIZE_MAX);
  REQUIRE(b.read((tmp / "f").c_str()) == Status::ok);
  CHECK(b.view() == pattern(20));
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
