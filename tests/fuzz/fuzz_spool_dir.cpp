// Any spool directory: a committed marker of any bytes, entries of any names
// (segment names that overflow, are absurd or almost right, and stray ones),
// segments of any bytes, directories where segments should be. On the model
// disk of tests/unit/power_cut_fs.hpp, so it runs at memory speed. The spool
// must open, never read an id twice or out of order, never read past its next
// id, account for every pending id (read or lost), and go on appending.
//
// Input: [n entries] [marker kind] [marker bytes, or two ids of 8 bytes and
// changes of [byte] [offset]] then per entry
// [kind] [name: 8 bytes of id, or len + bytes] [content len, 2 bytes] [bytes].
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include "../unit/power_cut_fs.hpp"
#include "clock.hpp"
#include "spool/commit_marker.hpp"
#include "spool/spool.hpp"

namespace {

struct Input {
  const uint8_t* p;
  size_t left;
  uint8_t byte() {
    if (!left) return 0;
    --left;
    return *p++;
  }
  std::string bytes(size_t n) {
    n = std::min(n, left);
    std::string s(reinterpret_cast<const char*>(p), n);
    p += n;
    left -= n;
    return s;
  }
};

std::string id_name(uint64_t id) {
  char name[32];
  std::snprintf(name, sizeof name, "%020llu.seg", static_cast<unsigned long long>(id));
  return name;
}

void write_file(PowerCutFs& fs, const std::string& path, const std::string& data) {
  const int fd = fs.open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0640);
  if (fd < 0) return;
  iovec iov{const_cast<char*>(data.data()), data.size()};
  if (!data.empty()) fs.pwritev(fd, &iov, 1, 0);
  fs.close(fd);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Input in{data, size};
  PowerCutFs fs;
  fs.mkdir("/s", 0750);
  const std::string dir = "/s/spool";
  fs.mkdir(dir.c_str(), 0750);
  const int entries = in.byte() % 8;
  const uint8_t marker = in.byte();
  if (marker % 2 == 0) {
    write_file(fs, dir + "/committed", in.bytes(marker / 2 % 64));
  } else {  // the two-copy form, with up to three bytes changed
    classroom::CommitMarker m(fs, dir + "/committed");
    for (int copy = 0; copy < 2; ++copy) {
      uint64_t v = 0;
      for (int b = 0; b < 8; ++b) v = v << 8 | in.byte();
      m.write(v, false);
    }
    m.close();
    for (int n = marker / 2 % 4; n > 0; --n) {
      std::string byte = in.bytes(1);
      const int fd = fs.open((dir + "/committed").c_str(), O_RDWR, 0);
      iovec iov{byte.data(), byte.size()};
      if (fd >= 0 && !byte.empty()) fs.pwritev(fd, &iov, 1, in.byte() % 64);
      if (fd >= 0) fs.close(fd);
    }
  }
  for (int e = 0; e < entries; ++e) {
    const uint8_t kind = in.byte();
    std::string name;
    if (kind % 4 == 3) {  // any name, as far as a directory entry can be one
      name = in.bytes(in.byte() % 40);
      if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos ||
          name.find('\0') != std::string::npos)
        continue;
    } else {
      uint64_t id = 0;
      for (int k = 0; k < 8; ++k) id = id << 8 | in.byte();
      if (kind % 4 != 2) id %= 1000;  // mostly near each other, sometimes anywhere
      name = id_name(id);
    }
    const size_t len = static_cast<size_t>(in.byte()) << 8 | in.byte();
    const std::string content = in.bytes(len);
    if (kind & 0x80) {
      fs.mkdir((dir + "/" + name).c_str(), 0750);  // a directory where a segment should be
    } else {
      write_file(fs, dir + "/" + name, content);
    }
  }

  classroom::FakeClock clock;
  classroom::SpoolOptions o{dir, 1 << 20, 300, false, 1000, &fs};
  classroom::Spool spool(o, clock);
  if (!spool.open().empty()) __builtin_trap();  // a readable directory always opens
  const uint64_t next = spool.next_id();
  if (next == 0 || next > classroom::Spool::kMaxId + 1) __builtin_trap();

  // Two readers across the segments, interleaved, as the backlog and the live
  // data are read; every pending id is read once or counted lost.
  const uint64_t committed = spool.committed();
  const uint64_t lost_before = spool.stats().lost;
  const uint64_t pending = spool.stats().pending;
  classroom::Spool::Cursor a{committed + 1, 0, 0}, b{committed + 1 + (next - committed) / 2, 0, 0};
  classroom::Spool::Record r;
  uint64_t last = committed, count = 0;
  while (spool.read(a, UINT64_MAX, r)) {
    if (r.id <= last || r.id >= next) __builtin_trap();
    last = r.id;
    ++count;
    spool.read(b, UINT64_MAX, r);
  }
  if (count != pending) __builtin_trap();
  if (spool.stats().lost != lost_before) __builtin_trap();  // all counted at open

  spool.commit(committed + count / 2);
  std::string error;
  const uint64_t id = spool.append("after", 1, &error);
  // A directory whose records reach the last id has no id left: refused, and
  // said so. Anything else that opened takes the next batch.
  if (next > classroom::Spool::kMaxId) {
    if (id != 0 || error != "the spool has run out of ids") __builtin_trap();
    return 0;
  }
  if (id != next) __builtin_trap();
  classroom::Spool::Cursor c{id, 0, 0};
  if (!spool.read(c, UINT64_MAX, r) || r.id != id || r.data != "after") __builtin_trap();
  return 0;
}
