#include "spool/spool.hpp"

#include <fcntl.h>
#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstring>

#include "log.hpp"
#include "printable.hpp"
#include "spool/crc32.hpp"

namespace classroom {
namespace {

constexpr log::Logger lg("spool");
constexpr int64_t kDropLogEveryMs = 60'000;
constexpr size_t kMaxLostRanges = 4096;  // 64 KiB of bookkeeping at most
constexpr uint64_t kBlockBytes = 4096;   // what a punched hole frees, at least

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

bool pread_all(FileIo& io, int fd, void* buf, size_t n, uint64_t offset) {
  auto* p = static_cast<char*>(buf);
  while (n > 0) {
    const ssize_t r = io.pread(fd, p, n, static_cast<off_t>(offset));
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
    offset += static_cast<uint64_t>(r);
  }
  return true;
}

bool mkdirs(FileIo& io, const std::string& dir, std::string& error) {
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = dir.find('/', pos + 1);
    const std::string partial = dir.substr(0, pos);
    if (partial.empty()) continue;
    if (io.mkdir(partial.c_str(), 0750) != 0 && errno != EEXIST) {
      error = "cannot create " + partial + ": " + std::strerror(errno);
      return false;
    }
  }
  return true;
}

// A segment's name: exactly 20 digits and ".seg", a first id from 1 to kMaxId.
bool parse_segment_name(std::string_view name, uint64_t& first) {
  if (name.size() != 24 || name.substr(20) != ".seg") return false;
  first = 0;
  for (char c : name.substr(0, 20)) {
    if (c < '0' || c > '9') return false;
    const auto d = static_cast<uint64_t>(c - '0');
    if (first > (UINT64_MAX - d) / 10) return false;
    first = first * 10 + d;
  }
  return first >= 1 && first <= Spool::kMaxId;
}

std::string ranges_text(const std::vector<std::pair<uint64_t, uint64_t>>& ranges) {
  std::string out;
  size_t shown = 0;
  for (const auto& [from, to] : ranges) {
    if (shown == 4) {
      out += ", ...";
      break;
    }
    char buf[64];
    if (to - from == 1)
      std::snprintf(buf, sizeof buf, "%s%" PRIu64, shown ? ", " : "", from);
    else
      std::snprintf(buf, sizeof buf, "%s%" PRIu64 "-%" PRIu64, shown ? ", " : "", from, to - 1);
    out += buf;
    ++shown;
  }
  return out;
}

}  // namespace

Spool::Spool(SpoolOptions options, const Clock& clock)
    : opt_(std::move(options)),
      clock_(clock),
      io_(opt_.io ? *opt_.io : posix_file_io()),
      marker_(io_, opt_.dir + "/committed") {
  if (opt_.segment_bytes == 0)
    opt_.segment_bytes = std::clamp<uint64_t>(opt_.max_bytes / 8, 16 << 10, 4 << 20);
}

Spool::~Spool() {
  if (open_) sync_all();
  close_segments();
}

void Spool::close_segments() {
  for (Segment& s : segments_) io_.close(s.fd);
  segments_.clear();
  ++layout_;
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
  for (const Segment& s : segments_) total += s.size - s.start;
  return total;
}

uint64_t Spool::read_at(const Segment& seg, uint64_t offset, uint64_t end_id, Record& out) {
  unsigned char h[kHeaderSize];
  if (offset + kHeaderSize > seg.size || !pread_all(io_, seg.fd, h, kHeaderSize, offset)) return 0;
  if (get_u32(h) != kMagic) return 0;
  const uint32_t len = get_u32(h + 4);
  if (len > kMaxRecord || offset + kHeaderSize + len > seg.size) return 0;
  // Ids are consecutive from the segment's name and every record takes at
  // least a header: an id outside that span is damage that the CRC missed or
  // a file that is not what its name says.
  const uint64_t id = get_u64(h + 8);
  if (id < seg.first_id || id >= end_id || id - seg.first_id > offset / kHeaderSize) return 0;
  out.data.resize(len);
  if (len > 0 && !pread_all(io_, seg.fd, out.data.data(), len, offset + kHeaderSize)) return 0;
  uint32_t crc = crc32(h + 4, 20);
  crc = crc32(out.data.data(), len, crc);
  if (crc != get_u32(h + 24)) return 0;
  out.id = id;
  out.ts_ms = static_cast<int64_t>(get_u64(h + 16));
  return offset + kHeaderSize + len;
}

uint64_t Spool::read_at(size_t index, uint64_t offset, Record& out) {
  const uint64_t end = index + 1 < segments_.size() ? segments_[index + 1].first_id : kMaxId + 1;
  return read_at(segments_[index], offset, end, out);
}

// The first offset past `from` where an intact record starts (the segment's
// size if there is none): how reading goes on after a damaged record.
uint64_t Spool::find_next_record(size_t index, uint64_t from) {
  const Segment& seg = segments_[index];
  static const unsigned char magic[4] = {0x53, 0x50, 0x4F, 0x4C};
  unsigned char window[4096];
  Record probe;
  uint64_t pos = from;
  while (pos + kHeaderSize <= seg.size) {
    const uint64_t n = std::min<uint64_t>(seg.size - pos, sizeof window);
    if (!pread_all(io_, seg.fd, window, n, pos)) return seg.size;
    for (uint64_t i = 0; i + 4 <= n; ++i) {
      if (std::memcmp(window + i, magic, 4) == 0 && read_at(index, pos + i, probe) != 0)
        return pos + i;
    }
    if (n < 4) break;
    pos += n - 3;  // keep 3 bytes of overlap for a magic across the boundary
  }
  return seg.size;
}

// Where the records of a segment start: 0, or after the zeros of a hole
// punched when its oldest records were dropped.
uint64_t Spool::first_record_offset(size_t index) {
  const Segment& seg = segments_[index];
  unsigned char buf[4096];
  if (seg.size < 4 || !pread_all(io_, seg.fd, buf, 4, 0) || get_u32(buf) != 0) return 0;
  uint64_t pos = 0;
  while (pos < seg.size) {  // skip the zeros, then resynchronise on a record
    const uint64_t n = std::min<uint64_t>(seg.size - pos, sizeof buf);
    if (!pread_all(io_, seg.fd, buf, n, pos)) return 0;
    uint64_t i = 0;
    while (i < n && buf[i] == 0) ++i;
    pos += i;
    if (i < n) break;
  }
  return find_next_record(index, pos);
}

void Spool::recover_tail(Segment& seg) {
  const size_t index = segments_.size() - 1;
  Record r;
  uint64_t offset = seg.start, valid_end = seg.start, last_id = 0;
  while (offset < seg.size) {
    const uint64_t end = read_at(index, offset, r);
    if (end == 0 || (last_id != 0 && r.id <= last_id)) {
      // Damaged here: an intact record further on means a damaged record in
      // the middle (counted when read); none means a torn tail.
      const uint64_t next = find_next_record(index, offset + 1);
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
    if (writable_ && io_.ftruncate(seg.fd, static_cast<off_t>(valid_end)) != 0)
      lg.warning("cannot cut %s: %s; reading stops before the torn record", seg.path.c_str(),
                 std::strerror(errno));
    seg.size = valid_end;
  }
  next_id_ = last_id ? last_id + 1 : seg.first_id;
}

std::string Spool::open() {
  if (open_) return "";
  std::string error;
  const bool created = mkdirs(io_, opt_.dir, error);
  names_.clear();
  if (!io_.list_dir(opt_.dir.c_str(), names_))
    return created ? "cannot read " + opt_.dir + ": " + std::strerror(errno) : error;

  close_segments();
  lost_.clear();
  corrupt_seen_.clear();
  writable_ = true;
  read_only_reason_.clear();

  const std::vector<uint64_t> firsts = segment_names();
  const std::vector<uint64_t> bad = open_segments(firsts);

  // The next id: after the newest intact record, and past every name seen.
  next_id_ = 1;
  if (!segments_.empty()) recover_tail(segments_.back());
  const uint64_t recovered_next = next_id_;
  if (!bad.empty()) next_id_ = std::max(next_id_, bad.back() + 1);

  const std::string marker_problem = read_marker(!firsts.empty());
  // Segments older than the first one left were confirmed and deleted.
  if (!firsts.empty() && firsts.front() > committed_ + 1) committed_ = firsts.front() - 1;

  // Ids within a segment are consecutive from its name: when they go on past
  // a bad newest entry, they go on in a segment of their own.
  if (segments_.empty() || (next_id_ != recovered_next && writable_)) {
    if (!writable_ || !rotate(&error))
      return error.empty() ? opt_.dir + " is not writable: " + read_only_reason_ : error;
  }
  const uint64_t lost_before = counters_.lost;
  // A bad segment's ids: up to the next name.
  for (size_t b = 0; b < bad.size(); ++b) {
    auto next = std::upper_bound(firsts.begin(), firsts.end(), bad[b]);
    const uint64_t end = next != firsts.end() ? *next : bad[b] + 1;
    note_lost(bad[b], std::min(end, next_id_), nullptr);
  }
  // A damaged marker is rewritten at the first commit.
  saved_committed_ = marker_problem.empty() ? committed_ : UINT64_MAX;
  unsaved_since_ms_.reset();
  sync_marker_pending_ = false;
  // What the last process wrote may be in the page cache only (it crashed,
  // the machine did not): on disk before a marker may name it.
  if (!writable_ || io_.fdatasync(segments_.back().fd) == 0) {
    synced_next_id_ = next_id_;
  } else {
    synced_next_id_ = committed_ + 1;
    unsynced_since_ms_ = clock_.steady_ms();
  }
  open_ = true;
  writable_retry_at_ = clock_.steady_ms() + kWritableRetryMs;
  scan_pending(lost_before, marker_problem);
  return "";
}

// The names read into names_: the segments' first ids, sorted; the marker;
// anything else is ignored, and said once.
std::vector<uint64_t> Spool::segment_names() const {
  std::vector<uint64_t> firsts;
  std::string strays;
  size_t stray_count = 0;
  for (const std::string& name : names_) {
    uint64_t first = 0;
    if (parse_segment_name(name, first)) {
      firsts.push_back(first);
    } else if (name != "committed" && name != "committed.tmp") {
      if (stray_count++ < 8) strays += (strays.empty() ? "" : ", ") + text::printable(name, 64);
    }
  }
  if (stray_count > 0)
    lg.warning("ignored %zu entries of %s that are not spool segments: %s%s", stray_count,
               opt_.dir.c_str(), strays.c_str(), stray_count > 8 ? ", ..." : "");
  std::sort(firsts.begin(), firsts.end());
  return firsts;
}

// Opens each segment (read-only when the directory is); one that cannot be
// used costs its own batches. Returns the first ids of those.
std::vector<uint64_t> Spool::open_segments(const std::vector<uint64_t>& firsts) {
  std::vector<uint64_t> bad;
  for (uint64_t first : firsts) {
    Segment seg{first, 0, 0, -1, segment_path(first)};
    seg.fd = io_.open(seg.path.c_str(), O_RDWR | O_NONBLOCK, 0);
    if (seg.fd < 0 && (errno == EROFS || errno == EACCES || errno == EPERM)) {
      if (writable_) read_only_reason_ = std::string(std::strerror(errno));
      writable_ = false;
      seg.fd = io_.open(seg.path.c_str(), O_RDONLY | O_NONBLOCK, 0);
    }
    std::string why;
    struct stat st {};
    if (seg.fd < 0)
      why = std::strerror(errno);
    else if (io_.fstat(seg.fd, &st) != 0)
      why = std::strerror(errno);
    else if (!S_ISREG(st.st_mode))
      why = "not a regular file";
    if (!why.empty()) {
      if (seg.fd >= 0) io_.close(seg.fd);
      lg.warning("cannot use %s (%s): its batches are counted lost, the rest of the spool goes on",
                 seg.path.c_str(), why.c_str());
      ++counters_.corrupt;
      bad.push_back(first);
      continue;
    }
    seg.size = static_cast<uint64_t>(st.st_size);
    segments_.push_back(std::move(seg));
    ++layout_;
    segments_.back().start = first_record_offset(segments_.size() - 1);
  }
  return bad;
}

// The committed marker into committed_, read strictly. One that does not
// parse, or points past the newest record, is unknown: everything on disk is
// sent again. Returns what is wrong with it ("" when nothing).
std::string Spool::read_marker(bool any_segment) {
  const NumberFile marker = marker_.read();
  std::string marker_problem;
  committed_ = 0;
  // A marker at kMaxId would leave no id to store with: as absurd as above.
  if (marker.state == NumberFile::State::ok && marker.value >= kMaxId) {
    marker_problem = "holds an absurd id";
  } else if (marker.state == NumberFile::State::ok) {
    if (!any_segment) next_id_ = std::max(next_id_, marker.value + 1);  // all confirmed and deleted
    if (marker.value <= next_id_ - 1)
      committed_ = marker.value;
    else
      marker_problem = "points past the newest record (" + std::to_string(next_id_ - 1) + ")";
  } else if (marker.state == NumberFile::State::damaged) {
    marker_problem = "is damaged (" + marker.reason + ")";
  }
  return marker_problem;
}

// Reads what is pending once: every id that cannot be delivered is counted
// now, and said in one line, with what the spool holds.
void Spool::scan_pending(uint64_t lost_before, const std::string& marker_problem) {
  quiet_ = true;
  Cursor c{committed_ + 1, 0, 0};
  while (read(c, next_id_, scratch_)) {
  }
  quiet_ = false;
  const uint64_t lost_now = counters_.lost - lost_before;
  const std::string lost_ids = ranges_text(lost_);
  commit(committed_);  // skips lost ids at the front, deletes confirmed segments

  const uint64_t pending = next_id_ - 1 - committed_ - lost_in(committed_ + 1, next_id_);
  if (!marker_problem.empty())
    lg.warning("the committed marker %s/committed %s: sending all %" PRIu64
               " batches still on disk again (receivers may see duplicates)",
               opt_.dir.c_str(), marker_problem.c_str(), pending);
  if (lost_now > 0)
    lg.warning("%" PRIu64
               " stored batches are damaged or missing on disk and cannot be sent (ids %s)",
               lost_now, lost_ids.empty() ? "already passed" : lost_ids.c_str());
  if (!writable_)
    lg.warning("%s is read-only (%s): delivering the %" PRIu64
               " batches it holds; new batches are not stored until it is writable"
               " (checked every %" PRId64 " s)",
               opt_.dir.c_str(), read_only_reason_.c_str(), pending, kWritableRetryMs / 1000);
  else if (pending > 0)
    lg.info("%" PRIu64 " batches from before the restart waiting in %s", pending, opt_.dir.c_str());
}

bool Spool::rotate(std::string* error) {
  if (!segments_.empty() && unsynced_since_ms_ && !sync_data()) {
    if (error) *error = "cannot sync " + segments_.back().path + ": " + std::strerror(errno);
    return false;
  }
  Segment seg{next_id_, 0, 0, -1, segment_path(next_id_)};
  // No record with this id or later exists, so a leftover file of that name
  // holds nothing worth keeping.
  seg.fd = io_.open(seg.path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0640);
  if (seg.fd < 0) {
    if (error) *error = "cannot create " + seg.path + ": " + std::strerror(errno);
    return false;
  }
  // The new name must be on disk before a record in it is called stored.
  if (io_.fsync_dir(opt_.dir.c_str()) != 0) {
    if (error) *error = "cannot sync " + opt_.dir + ": " + std::strerror(errno);
    io_.close(seg.fd);
    return false;
  }
  segments_.push_back(std::move(seg));
  ++layout_;
  return true;
}

// A read-only spool writes again once it can create a new segment.
bool Spool::try_writable() {
  if (writable_) return true;
  const int64_t now = clock_.steady_ms();
  if (now < writable_retry_at_) return false;
  writable_retry_at_ = now + kWritableRetryMs;
  std::string error;
  if (!rotate(&error)) {
    read_only_reason_ = error;
    return false;
  }
  writable_ = true;
  // Cut a torn tail left uncut while read-only, and take write access to the
  // older segments (dropping records punches holes in them).
  for (size_t i = 0; i + 1 < segments_.size(); ++i) {
    Segment& s = segments_[i];
    const int fd = io_.open(s.path.c_str(), O_RDWR | O_NONBLOCK, 0);
    if (fd < 0) continue;
    struct stat st {};
    if (i + 2 == segments_.size() && io_.fstat(fd, &st) == 0 &&
        static_cast<uint64_t>(st.st_size) > s.size)
      io_.ftruncate(fd, static_cast<off_t>(s.size));
    io_.close(s.fd);
    s.fd = fd;
  }
  lg.info("%s is writable again", opt_.dir.c_str());
  commit(committed_);  // saves the marker, deletes what was confirmed meanwhile
  return true;
}

void Spool::delete_segment(size_t index) {
  io_.close(segments_[index].fd);
  io_.unlink(segments_[index].path.c_str());
  segments_.erase(segments_.begin() + static_cast<std::ptrdiff_t>(index));
  ++layout_;
}

void Spool::count_dropped(uint64_t from, uint64_t to, const char* why) {
  from = std::max(from, committed_ + 1);
  if (to <= from) return;
  const uint64_t n = to - from - lost_in(from, to);
  counters_.dropped += n;
  dropped_unlogged_ += n;
  const int64_t now = clock_.steady_ms();
  if (dropped_unlogged_ > 0 &&
      (last_drop_log_ms_ == INT64_MIN || now - last_drop_log_ms_ >= kDropLogEveryMs)) {
    lg.warning("%s: dropped the %" PRIu64 " oldest unsent batches%s", why, dropped_unlogged_,
               last_drop_log_ms_ == INT64_MIN ? "" : " (in the last minute or more)");
    last_drop_log_ms_ = now;
    dropped_unlogged_ = 0;
  }
}

// Frees at least `need` bytes of the oldest records (disk space in whole
// blocks), none with an id above `max_id`: the oldest segment goes when all of
// it is needed, else a hole is punched over its first records. Returns false,
// changing nothing, when that much cannot be freed within `max_id`, or when
// nothing is left to drop.
bool Spool::drop_oldest(uint64_t need, bool free_block, const char* why, uint64_t max_id) {
  if (segments_.empty()) return false;
  Segment& seg = segments_[0];
  const bool active = segments_.size() == 1;
  if (seg.size <= seg.start) {
    if (active) return false;
    delete_segment(0);
    return true;
  }
  auto drop_whole = [&] {
    const uint64_t end = segment_end_id(0);
    count_dropped(seg.first_id, end, why);
    committed_ = std::max(committed_, end - 1);
    delete_segment(0);
    commit(committed_);
  };
  const bool whole_allowed = segment_end_id(0) - 1 <= max_id;
  if (!active && whole_allowed &&
      (seg.size - seg.start <= need ||
       (free_block && seg.size <= (seg.start / kBlockBytes + 1) * kBlockBytes))) {
    drop_whole();
    return true;
  }
  // Walk the oldest records until enough bytes are covered (for a full disk:
  // and at least one whole block is freed).
  uint64_t off = seg.start, last_id = 0;
  const uint64_t block_end = free_block ? (seg.start / kBlockBytes + 1) * kBlockBytes : 0;
  Record& r = scratch_;
  while (off < seg.size && (off - seg.start < need || off < block_end)) {
    const uint64_t end = read_at(size_t{0}, off, r);
    if (end == 0) {
      off = find_next_record(0, off + 1);
      continue;
    }
    if (r.id > max_id) break;
    last_id = r.id;
    off = end;
  }
  if (off - seg.start < need || off < block_end) {
    if (max_id != UINT64_MAX) return false;  // not enough may go
    if (off == seg.start) return false;
  }
  if (!active && off >= seg.size) {
    drop_whole();
    return true;
  }
  if (io_.punch_hole(seg.fd, 0, static_cast<off_t>(off)) != 0) {
    // The filesystem cannot punch holes: give up the whole oldest segment
    // (a segment of its own first, if it is the one being written).
    std::string ignored;
    if (active && !rotate(&ignored)) return false;
    drop_whole();
    return true;
  }
  const uint64_t dropped_to = off >= seg.size ? segment_end_id(0) : last_id + 1;
  count_dropped(seg.first_id, dropped_to, why);
  seg.start = off;
  committed_ = std::max(committed_, dropped_to - 1);
  commit(committed_);
  save_committed(true);
  return true;
}

uint64_t Spool::append(std::string_view data, int64_t ts_ms, std::string* error,
                       Overflow overflow) {
  auto fail = [&](std::string why) -> uint64_t {
    ++counters_.write_errors;
    if (error) *error = std::move(why);
    return 0;
  };
  if (!open_) return fail("spool is not open");
  if (!try_writable()) return fail("the spool is read-only: " + read_only_reason_);
  if (data.size() > kMaxRecord) return fail("batch too large for the spool");
  if (next_id_ > kMaxId) return fail("the spool has run out of ids");
  const uint64_t rec = kHeaderSize + data.size();

  const bool keep_unsent = overflow == Overflow::keep_unsent;
  const uint64_t may_drop_to = keep_unsent ? committed_ : UINT64_MAX;
  while (total_bytes() + rec > opt_.max_bytes) {
    if (drop_oldest(total_bytes() + rec - opt_.max_bytes, false, "spool full (max_bytes reached)",
                    may_drop_to))
      continue;
    if (keep_unsent) return fail("the spool is full (max_bytes) of batches still to be sent");
    break;
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
    const ssize_t n = io_.pwritev(seg.fd, iov, 2, static_cast<off_t>(seg.size));
    if (n == static_cast<ssize_t>(rec)) break;
    const int err = n < 0 ? errno : ENOSPC;  // a short write means the disk filled up
    // Never leave half a record behind (recovery would cut it anyway).
    io_.ftruncate(seg.fd, static_cast<off_t>(seg.size));
    // The disk is full before max_bytes: give up the oldest records, as few
    // as the new one needs, and try again.
    if (err == ENOSPC && attempt < 1000 && drop_oldest(rec, true, "disk full", may_drop_to))
      continue;
    if (err == ENOSPC && keep_unsent)
      return fail("the disk is full of batches still to be sent (" + seg.path + ")");
    return fail(std::string("cannot write to ") + seg.path + ": " + std::strerror(err));
  }
  Segment& seg = segments_.back();
  seg.size += rec;
  if (!unsynced_since_ms_) unsynced_since_ms_ = clock_.steady_ms();
  if (opt_.sync_always && !sync_data()) {
    // Not on disk: not stored. Take it back, so nothing unsynced is ever
    // confirmed as stored (a failed fsync may already have lost the data).
    const int err = errno;
    seg.size -= rec;
    io_.ftruncate(seg.fd, static_cast<off_t>(seg.size));
    return fail(std::string("cannot sync ") + seg.path + ": " + std::strerror(err));
  }
  if (opt_.sync_always) synced_next_id_ = next_id_ + 1;
  return next_id_++;
}

bool Spool::read(Cursor& c, uint64_t end_id, Record& out) {
  if (!open_ || segments_.empty()) return false;
  end_id = std::min(end_id, next_id_);
  while (c.next_id < end_id) {
    // The segment holding next_id: the last one whose first id is <= next_id.
    if (c.next_id < segments_.front().first_id) {
      note_lost(c.next_id, segments_.front().first_id, segments_.front().path.c_str());
      c.next_id = segments_.front().first_id;  // (dropped or confirmed ones are not lost)
      continue;
    }
    size_t i = segments_.size() - 1;
    while (i > 0 && segments_[i].first_id > c.next_id) --i;
    const Segment& seg = segments_[i];
    if (c.seg_first_id != seg.first_id) {
      c.seg_first_id = seg.first_id;
      c.offset = seg.start;
    }
    c.offset = std::max(c.offset, seg.start);
    const uint64_t seg_end = segment_end_id(i);
    if (c.offset >= seg.size) {
      // Read to its end: ids up to the next segment's first (or the next id to
      // be written) that were not found are lost.
      note_lost(c.next_id, seg_end, seg.path.c_str());
      c.next_id = std::max(c.next_id, seg_end);
      continue;
    }
    const uint64_t end = read_at(i, c.offset, out);
    if (end == 0) {
      if (note_corrupt(seg.first_id, c.offset) && !quiet_)
        lg.warning("skipped a damaged record in %s at offset %" PRIu64, seg.path.c_str(), c.offset);
      c.offset = find_next_record(i, c.offset + 1);
      continue;
    }
    if (out.id < c.next_id) {
      c.offset = end;
      continue;
    }
    if (out.id > c.next_id) {
      note_lost(c.next_id, out.id, seg.path.c_str());
      c.next_id = out.id;
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

uint64_t Spool::lost_in(uint64_t from, uint64_t to) const {
  uint64_t n = 0;
  for (const auto& [a, b] : lost_) {
    const uint64_t lo = std::max(a, from), hi = std::min(b, to);
    if (hi > lo) n += hi - lo;
  }
  return n;
}

// Ids [from, to) are not on disk: count those not confirmed and not counted yet.
void Spool::note_lost(uint64_t from, uint64_t to, const char* where) {
  from = std::max(from, committed_ + 1);
  to = std::min(to, next_id_);
  if (to <= from) return;
  const uint64_t fresh = (to - from) - lost_in(from, to);
  if (fresh == 0) return;
  counters_.lost += fresh;
  if (!quiet_ && where)
    lg.warning("%" PRIu64 " stored batches (ids %" PRIu64 "-%" PRIu64
               ") are damaged or missing in %s and cannot be sent",
               fresh, from, to - 1, where);
  // Merge [from, to) into the sorted, disjoint ranges.
  auto it = std::lower_bound(lost_.begin(), lost_.end(), std::make_pair(from, uint64_t{0}));
  if (it != lost_.begin() && std::prev(it)->second >= from) --it;
  uint64_t lo = from, hi = to;
  auto last = it;
  while (last != lost_.end() && last->first <= hi) {
    lo = std::min(lo, last->first);
    hi = std::max(hi, last->second);
    ++last;
  }
  it = lost_.erase(it, last);
  if (lost_.size() < kMaxLostRanges) lost_.insert(it, {lo, hi});
  // (Past the bound, a range found again after a reconnect is counted again.)
}

uint64_t Spool::pending_before(uint64_t end_id) const {
  end_id = std::min(end_id, next_id_);
  if (!open_ || end_id <= committed_ + 1) return 0;
  return end_id - 1 - committed_ - lost_in(committed_ + 1, end_id);
}

void Spool::commit(uint64_t id) {
  if (!open_) return;
  id = std::min(id, next_id_ - 1);
  if (id > committed_) committed_ = id;
  // Lost ids right after the confirmed ones: nothing of them is left to send.
  while (!lost_.empty() && lost_.front().first <= committed_ + 1) {
    committed_ = std::max(committed_, lost_.front().second - 1);
    lost_.erase(lost_.begin());
  }
  if (!writable_) return;  // read-only: confirmed in memory, saved when writable again
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
  if (committed_ == saved_committed_ || !writable_) return;
  const int64_t now = clock_.steady_ms();
  // Rewriting the marker on every receipt would wear flash for little: losing
  // it costs only duplicates (delivery is at least once). So a confirmation
  // waits up to a second, and those of a whole sampling round (the node's
  // batch, then each device's) go in one save.
  if (!unsaved_since_ms_) unsaved_since_ms_ = now;
  if (!force && now - *unsaved_since_ms_ < kMarkerDelayMs) return;
  // A forced save says what was deleted or dropped: the records it names are
  // synced first, so that it is not capped below them.
  if (force && unsynced_since_ms_ && committed_ >= synced_next_id_) sync_data();
  // Never ahead of the records on disk: after a power cut such a marker would
  // point past the newest one and everything would be sent again. The rest
  // is saved after the next sync.
  const uint64_t value = savable_committed();
  if (value == saved_committed_) return;
  // A forced save (segments deleted, records dropped) is synced, and so is
  // its retry: a marker older than the records on disk would count the
  // missing ones as lost.
  const bool sync = opt_.sync_always || force || sync_marker_pending_;
  if (marker_.write(value, sync)) {
    saved_committed_ = value;
    if (value == committed_) unsaved_since_ms_.reset();
    sync_marker_pending_ = false;
  } else {
    unsaved_since_ms_ = now;  // tried again a second later
    sync_marker_pending_ = sync;
  }
}

bool Spool::sync_data() {
  if (!segments_.empty() && writable_ && io_.fdatasync(segments_.back().fd) != 0) return false;
  unsynced_since_ms_.reset();
  synced_next_id_ = next_id_;
  return true;
}

int64_t Spool::maintain() {
  const int64_t now = clock_.steady_ms();
  int64_t next = now + 60'000;
  if (!open_) return next;
  if (!writable_) {
    try_writable();
    if (!writable_) next = std::min(next, writable_retry_at_);
  }
  // Synced once the oldest unsynced batch is an interval old: no batch waits
  // longer, and a round of appends (the node's, then each device's as its
  // poll ends) costs one fdatasync. One that fails is tried an interval later.
  if (unsynced_since_ms_ && now - *unsynced_since_ms_ >= opt_.sync_interval_ms && !sync_data())
    unsynced_since_ms_ = now;
  if (unsynced_since_ms_) next = std::min(next, *unsynced_since_ms_ + opt_.sync_interval_ms);
  if (committed_ != saved_committed_ && writable_) {
    save_committed(false);
    // What is still unsaved and on disk; the rest waits for the sync above.
    if (savable_committed() != saved_committed_)
      next = std::min(next, *unsaved_since_ms_ + kMarkerDelayMs);
  }
  return next;
}

void Spool::sync_all() {
  if (!open_) return;
  if (unsynced_since_ms_) sync_data();
  save_committed(true);
}

SpoolStats Spool::stats() {
  SpoolStats s = counters_;
  s.bytes = total_bytes();
  s.pending = 0;
  if (open_ && next_id_ - 1 > committed_) {
    s.oldest_ts_ms = oldest_pending_ts();
    s.lost = counters_.lost;  // the read may have found more
    s.pending = pending_before(next_id_);
  }
  return s;
}

// The capture time of the oldest pending record, 0 if none can be read.
// Records are appended and confirmed in id order, so the oldest stays the
// same until a confirmation passes it, and the next one is after it.
int64_t Spool::oldest_pending_ts() {
  const uint64_t first = committed_ + 1;
  const bool same_layout = oldest_.id != 0 && oldest_.layout == layout_;
  if (same_layout && oldest_.id >= first) return oldest_.ts_ms;
  Cursor c = same_layout ? oldest_.at : Cursor{};
  c.next_id = first;
  if (!read(c, next_id_, scratch_)) {
    oldest_.id = 0;
    return 0;
  }
  c.next_id = scratch_.id;
  c.offset -= kHeaderSize + scratch_.data.size();
  oldest_ = {layout_, scratch_.id, scratch_.ts_ms, c};
  return oldest_.ts_ms;
}

}  // namespace classroom
