#include "spool.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstring>
#include <functional>

#include "crc32.hpp"
#include "log.hpp"
#include "number_file.hpp"

namespace classroom {
namespace {

constexpr log::Logger lg("spool");

void put_u32(unsigned char* p, uint32_t v) {
  std::memcpy(p, &v, 4);
}
void put_u64(unsigned char* p, uint64_t v) {
  std::memcpy(p, &v, 8);
}
uint32_t get_u32(const unsigned char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
uint64_t get_u64(const unsigned char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

bool pread_all(int fd, void* buf, size_t n, uint64_t offset) {
  auto* p = static_cast<char*>(buf);
  while (n > 0) {
    ssize_t r = ::pread(fd, p, n, static_cast<off_t>(offset));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
    offset += static_cast<uint64_t>(r);
  }
  return true;
}

void fsync_dir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

bool mkdirs(const std::string& dir, std::string& error) {
  std::string partial;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = dir.find('/', pos + 1);
    partial = dir.substr(0, pos);
    if (partial.empty()) continue;
    if (::mkdir(partial.c_str(), 0750) != 0 && errno != EEXIST) {
      error = "cannot create " + partial + ": " + std::strerror(errno);
      return false;
    }
  }
  return true;
}

}  // namespace

Spool::Spool(SpoolOptions options, const Clock& clock) : opt_(std::move(options)), clock_(clock) {
  if (opt_.segment_bytes == 0)
    opt_.segment_bytes = std::clamp<uint64_t>(opt_.max_bytes / 8, 16 << 10, 4 << 20);
}

Spool::~Spool() {
  if (open_) sync_all();
  for (Segment& s : segments_) ::close(s.fd);
}

std::string Spool::segment_path(uint64_t first_id) const {
  char name[32];
  std::snprintf(name, sizeof name, "/%020" PRIu64 ".seg", first_id);
  return opt_.dir + name;
}

uint64_t Spool::segment_end_id(size_t index) const {
  return index + 1 < segments_.size() ? segments_[index + 1].first_id : next_id_;
}

uint64_t Spool::total_bytes() const {
  uint64_t total = 0;
  for (const Segment& s : segments_) total += s.size;
  return total;
}

uint64_t Spool::read_at(const Segment& seg, uint64_t offset, Record& out) {
  unsigned char h[kHeaderSize];
  if (offset + kHeaderSize > seg.size || !pread_all(seg.fd, h, kHeaderSize, offset)) return 0;
  if (get_u32(h) != kMagic) return 0;
  const uint32_t len = get_u32(h + 4);
  if (len > kMaxRecord || offset + kHeaderSize + len > seg.size) return 0;
  out.data.resize(len);
  if (len > 0 && !pread_all(seg.fd, out.data.data(), len, offset + kHeaderSize)) return 0;
  uint32_t crc = crc32(h + 4, 20);
  crc = crc32(out.data.data(), len, crc);
  if (crc != get_u32(h + 24)) return 0;
  out.id = get_u64(h + 8);
  out.ts_ms = static_cast<int64_t>(get_u64(h + 16));
  return offset + kHeaderSize + len;
}

// Finds the next intact record after a corrupt one: the first offset past
// `from` where a header's magic starts a record that checks out.
static uint64_t find_next_record(int fd, uint64_t from, uint64_t size,
                                 const std::function<bool(uint64_t)>& valid) {
  std::string window;
  const unsigned char magic[4] = {0x53, 0x50, 0x4F, 0x4C};
  uint64_t pos = from;
  while (pos + Spool::kHeaderSize <= size) {
    const uint64_t n = std::min<uint64_t>(size - pos, 64 << 10);
    window.resize(n);
    if (!pread_all(fd, window.data(), n, pos)) return size;
    for (uint64_t i = 0; i + 4 <= n; ++i) {
      if (std::memcmp(window.data() + i, magic, 4) == 0 && valid(pos + i)) return pos + i;
    }
    if (n < 4) break;
    pos += n - 3;  // keep 3 bytes of overlap for a magic across the boundary
  }
  return size;
}

std::string Spool::recover_tail(Segment& seg) {
  Record r;
  uint64_t offset = 0, valid_end = 0;
  uint64_t last_id = 0;
  while (offset < seg.size) {
    uint64_t end = read_at(seg, offset, r);
    if (end == 0 || r.id < seg.first_id || (last_id != 0 && r.id <= last_id)) {
      // Corrupt here: look for an intact record further on. Any found means a
      // corrupt record in the middle (skipped when read); none means a torn tail.
      uint64_t next = find_next_record(seg.fd, offset + 1, seg.size, [&](uint64_t at) {
        Record probe;
        return read_at(seg, at, probe) != 0 && probe.id >= seg.first_id && probe.id > last_id;
      });
      if (next >= seg.size) break;
      offset = next;
      continue;
    }
    last_id = r.id;
    valid_end = end;
    offset = end;
  }
  if (valid_end < seg.size) {
    lg.warning("cut %" PRIu64 " bytes of a record torn by a crash or power cut at the end of %s",
               seg.size - valid_end, seg.path.c_str());
    if (::ftruncate(seg.fd, static_cast<off_t>(valid_end)) != 0)
      return "cannot truncate " + seg.path + ": " + std::strerror(errno);
    seg.size = valid_end;
  }
  next_id_ = last_id ? last_id + 1 : seg.first_id;
  return "";
}

std::string Spool::open() {
  if (open_) return "";
  std::string error;
  if (!mkdirs(opt_.dir, error)) return error;

  // The committed id, if a previous run saved one.
  committed_ = read_number_file(opt_.dir + "/committed").value_or(0);

  std::vector<uint64_t> firsts;
  if (DIR* d = opendir(opt_.dir.c_str())) {
    while (dirent* e = readdir(d)) {
      std::string_view name(e->d_name);
      if (name.size() != 24 || name.substr(20) != ".seg") continue;
      uint64_t first = 0;
      bool digits = true;
      for (char c : name.substr(0, 20)) {
        if (c < '0' || c > '9') digits = false;
        first = first * 10 + static_cast<uint64_t>(c - '0');
      }
      if (digits) firsts.push_back(first);
    }
    closedir(d);
  } else {
    return "cannot read " + opt_.dir + ": " + std::strerror(errno);
  }
  std::sort(firsts.begin(), firsts.end());

  for (Segment& s : segments_) ::close(s.fd);
  segments_.clear();
  for (uint64_t first : firsts) {
    Segment seg{first, 0, -1, segment_path(first)};
    seg.fd = ::open(seg.path.c_str(), O_RDWR | O_CLOEXEC);
    if (seg.fd < 0) {
      error = "cannot open " + seg.path + ": " + std::strerror(errno);
      for (Segment& s : segments_) ::close(s.fd);
      segments_.clear();
      return error;
    }
    struct stat st {};
    ::fstat(seg.fd, &st);
    seg.size = static_cast<uint64_t>(st.st_size);
    segments_.push_back(std::move(seg));
  }

  if (segments_.empty()) {
    next_id_ = committed_ + 1;
    if (!rotate(&error)) return error;
  } else {
    if (std::string e = recover_tail(segments_.back()); !e.empty()) return e;
    if (next_id_ <= committed_ && segments_.back().size == 0) next_id_ = committed_ + 1;
  }
  committed_ = std::min(committed_, next_id_ - 1);
  if (segments_.front().first_id > committed_ + 1) committed_ = segments_.front().first_id - 1;
  saved_committed_ = committed_;
  open_ = true;
  last_sync_ms_ = clock_.steady_ms();
  commit(committed_);  // deletes segments that were confirmed before a crash

  // The active segment must be writable: a read-only state dir fails here,
  // loudly, rather than at the first batch.
  if (::access(segments_.back().path.c_str(), W_OK) != 0 || ::access(opt_.dir.c_str(), W_OK) != 0) {
    open_ = false;
    return opt_.dir + " is not writable: " + std::strerror(errno);
  }
  const uint64_t pending = next_id_ - 1 - committed_;
  if (pending > 0)
    lg.info("%" PRIu64 " batches from before the restart waiting in %s", pending, opt_.dir.c_str());
  return "";
}

bool Spool::rotate(std::string* error) {
  if (!segments_.empty() && dirty_) sync_data();
  Segment seg{next_id_, 0, -1, segment_path(next_id_)};
  // No record with this id or later exists, so a leftover file of that name
  // holds nothing worth keeping.
  seg.fd = ::open(seg.path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (seg.fd < 0) {
    if (error) *error = "cannot create " + seg.path + ": " + std::strerror(errno);
    return false;
  }
  segments_.push_back(std::move(seg));
  fsync_dir(opt_.dir);
  return true;
}

void Spool::delete_segment(size_t index) {
  ::close(segments_[index].fd);
  ::unlink(segments_[index].path.c_str());
  segments_.erase(segments_.begin() + static_cast<std::ptrdiff_t>(index));
}

void Spool::drop_oldest(const char* why) {
  if (segments_.size() < 2) return;
  const uint64_t end = segments_[1].first_id;
  const uint64_t first_pending = std::max(segments_[0].first_id, committed_ + 1);
  if (end > first_pending) {
    const uint64_t lost = end - first_pending;
    counters_.dropped += lost;
    lg.warning("%s: dropped the %" PRIu64 " oldest unsent batches", why, lost);
  }
  committed_ = std::max(committed_, end - 1);
  delete_segment(0);
  save_committed(true);
}

uint64_t Spool::append(std::string_view data, int64_t ts_ms, std::string* error) {
  auto fail = [&](std::string why) -> uint64_t {
    ++counters_.write_errors;
    if (error) *error = std::move(why);
    return 0;
  };
  if (!open_) return fail("spool is not open");
  if (data.size() > kMaxRecord) return fail("batch too large for the spool");
  const uint64_t rec = kHeaderSize + data.size();

  while (total_bytes() + rec > opt_.max_bytes) {
    if (segments_.size() == 1) {
      if (segments_.back().size == 0) break;  // nothing left to drop
      std::string e;
      if (!rotate(&e)) return fail(e);
    }
    drop_oldest("spool full (max_bytes reached)");
  }
  if (segments_.back().size > 0 && segments_.back().size + rec > opt_.segment_bytes) {
    std::string e;
    if (!rotate(&e)) return fail(e);
  }

  unsigned char h[kHeaderSize];
  put_u32(h, kMagic);
  put_u32(h + 4, static_cast<uint32_t>(data.size()));
  put_u64(h + 8, next_id_);
  put_u64(h + 16, static_cast<uint64_t>(ts_ms));
  uint32_t crc = crc32(h + 4, 20);
  crc = crc32(data.data(), data.size(), crc);
  put_u32(h + 24, crc);

  for (int attempt = 0;; ++attempt) {
    Segment& seg = segments_.back();
    iovec iov[2] = {{h, kHeaderSize}, {const_cast<char*>(data.data()), data.size()}};
    ssize_t n = ::pwritev(seg.fd, iov, 2, static_cast<off_t>(seg.size));
    if (n == static_cast<ssize_t>(rec)) {
      seg.size += rec;
      break;
    }
    const int err = n < 0 ? errno : ENOSPC;  // a short write means the disk filled up
    // Never leave half a record behind.
    if (::ftruncate(seg.fd, static_cast<off_t>(seg.size)) != 0) { /* recovery cuts it */
    }
    if (err == ENOSPC && attempt == 0 && (segments_.size() > 1 || seg.size > 0)) {
      // The disk is full before max_bytes: make room by giving up the oldest
      // backlog (a segment of its own first, if there is only one), once.
      std::string e;
      if (segments_.size() == 1 && !rotate(&e)) return fail(e);
      drop_oldest("disk full");
      continue;
    }
    return fail(std::string("cannot write to ") + seg.path + ": " + std::strerror(err));
  }

  const uint64_t id = next_id_++;
  dirty_ = true;
  if (opt_.sync_always) sync_data();
  return id;
}

bool Spool::read(Cursor& c, uint64_t end_id, Record& out) {
  if (!open_) return false;
  end_id = std::min(end_id, next_id_);
  while (c.next_id < end_id) {
    // The segment holding next_id: the last one whose first id is <= next_id.
    if (c.next_id < segments_.front().first_id) {
      c.next_id = segments_.front().first_id;  // dropped while we were away
      continue;
    }
    size_t i = segments_.size() - 1;
    while (i > 0 && segments_[i].first_id > c.next_id) --i;
    const Segment& seg = segments_[i];
    if (c.seg_first_id != seg.first_id) {
      c.seg_first_id = seg.first_id;
      c.offset = 0;
    }
    if (c.offset >= seg.size) {
      if (i + 1 == segments_.size()) return false;
      c.next_id = std::max(c.next_id, segments_[i + 1].first_id);
      continue;
    }
    const uint64_t end = read_at(seg, c.offset, out);
    if (end == 0) {
      if (note_corrupt(seg.first_id, c.offset))
        lg.warning("skipped a corrupt record in %s at offset %" PRIu64, seg.path.c_str(), c.offset);
      c.offset = find_next_record(seg.fd, c.offset + 1, seg.size, [&](uint64_t at) {
        Record probe;
        return read_at(seg, at, probe) != 0;
      });
      continue;
    }
    if (out.id < c.next_id) {
      c.offset = end;
      continue;
    }
    if (out.id >= end_id) return false;
    c.offset = end;
    c.next_id = out.id + 1;
    return true;
  }
  return false;
}

bool Spool::note_corrupt(uint64_t seg_first_id, uint64_t offset) {
  // Several readers (backlog, live, stats) may pass the same bad record: count
  // and report it once.
  const std::pair<uint64_t, uint64_t> where{seg_first_id, offset};
  if (std::find(corrupt_seen_.begin(), corrupt_seen_.end(), where) != corrupt_seen_.end())
    return false;
  if (corrupt_seen_.size() >= 64) corrupt_seen_.erase(corrupt_seen_.begin());
  corrupt_seen_.push_back(where);
  ++counters_.corrupt;
  return true;
}

void Spool::commit(uint64_t id) {
  if (!open_) return;
  id = std::min(id, next_id_ - 1);
  if (id > committed_) committed_ = id;
  bool deleted = false;
  // Caught up and the active segment has grown: start a fresh one so that the
  // confirmed data can go, and the spool stays small in normal operation.
  if (committed_ + 1 == next_id_ && segments_.back().size >= kRecycleBytes) {
    std::string ignored;
    rotate(&ignored);
  }
  while (segments_.size() > 1 && segment_end_id(0) - 1 <= committed_) {
    delete_segment(0);
    deleted = true;
  }
  save_committed(deleted);
}

void Spool::save_committed(bool force) {
  if (committed_ == saved_committed_) return;
  const int64_t now = clock_.steady_ms();
  // Rewriting the marker on every receipt would wear flash for little: losing
  // it costs only duplicates (delivery is at least once).
  if (!force && now - last_commit_save_ms_ < 1000) return;
  if (write_number_file(opt_.dir + "/committed", committed_, opt_.sync_always)) {
    saved_committed_ = committed_;
    last_commit_save_ms_ = now;
  }
}

void Spool::sync_data() {
  if (!segments_.empty()) ::fdatasync(segments_.back().fd);
  dirty_ = false;
  last_sync_ms_ = clock_.steady_ms();
}

int64_t Spool::maintain() {
  const int64_t now = clock_.steady_ms();
  int64_t next = now + 60'000;
  if (!open_) return next;
  if (dirty_) {
    if (now - last_sync_ms_ >= opt_.sync_interval_ms)
      sync_data();
    else
      next = std::min(next, last_sync_ms_ + opt_.sync_interval_ms);
  }
  if (committed_ != saved_committed_) {
    save_committed(false);
    if (committed_ != saved_committed_) next = std::min(next, last_commit_save_ms_ + 1000);
  }
  return next;
}

void Spool::sync_all() {
  if (!open_) return;
  if (dirty_) sync_data();
  save_committed(true);
}

SpoolStats Spool::stats() {
  SpoolStats s = counters_;
  s.bytes = total_bytes();
  s.pending = open_ ? next_id_ - 1 - committed_ : 0;
  if (s.pending > 0) {
    Cursor c{committed_ + 1, 0, 0};
    if (read(c, next_id_, scratch_)) s.oldest_ts_ms = scratch_.ts_ms;
  }
  return s;
}

}  // namespace classroom
