// The spool: every batch is written here before it is published, and forgotten
// only after the broker confirmed it. Storage only: it knows neither the network
// nor where batches come from.
//
// On disk (in <state dir>/spool/):
//   <first id, 20 digits>.seg  append-only segment files of framed records
//   committed                  the highest record id the broker has confirmed
// A record is a 28-byte header (magic, length, id, capture time, CRC-32 of all
// but the magic) and the batch bytes. Ids are consecutive, so a missing id is a
// lost batch: opening the spool reads what is pending once, counts every id it
// cannot deliver (damaged records, segments cut short or unreadable) and says
// so in one line; a torn tail of the newest segment (a record half-written when
// the power went) is cut. One bad entry costs its own batches, never the spool:
// entries that are not segments are ignored, a read-only directory is still
// replayed, and a committed marker that does not parse is treated as unknown
// (everything on disk is sent again). All file access goes through a FileIo.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "clock.hpp"
#include "spool/commit_marker.hpp"
#include "spool/file_io.hpp"

namespace classroom {

struct SpoolOptions {
  std::string dir;  // the spool's own directory
  uint64_t max_bytes = 64ull << 20;
  uint64_t segment_bytes = 0;       // 0: max_bytes / 8, within 16 KiB .. 4 MiB
  bool sync_always = false;         // fdatasync after every append
  int64_t sync_interval_ms = 1000;  // otherwise at most this long unsynced
  FileIo* io = nullptr;             // nullptr: the real filesystem
};

struct SpoolStats {
  uint64_t pending = 0;  // records not yet confirmed (and not known to be lost)
  uint64_t bytes = 0;    // on disk, all segments (without dropped records)
  uint64_t dropped = 0;  // unconfirmed records dropped for max_bytes or a full disk (since start)
  uint64_t corrupt = 0;  // damaged places found: records, unusable segment files (since start)
  uint64_t write_errors = 0;  // appends that failed (disk full, read-only)
  uint64_t lost = 0;         // unconfirmed ids that cannot be delivered: damaged or missing on disk
  int64_t oldest_ts_ms = 0;  // capture time of the oldest pending record, 0 if none
};

class Spool {
 public:
  static constexpr uint32_t kMagic = 0x4C4F5053;  // "SPOL" little-endian
  static constexpr size_t kHeaderSize = 28;
  static constexpr uint32_t kMaxRecord = 16u << 20;
  // A fully confirmed active segment larger than this is replaced by a new one.
  static constexpr uint64_t kRecycleBytes = 64u << 10;
  // Ids and segment names above this are absurd (a billion batches a second
  // for eleven days): such a name is ignored, such a record is damaged.
  static constexpr uint64_t kMaxId = 1'000'000'000'000'000;
  // How often a read-only spool checks whether it can write again.
  static constexpr int64_t kWritableRetryMs = 5000;
  // How long a confirmation may wait before the marker is saved.
  static constexpr int64_t kMarkerDelayMs = 1000;

  Spool(SpoolOptions options, const Clock& clock);
  ~Spool();
  Spool(const Spool&) = delete;
  Spool& operator=(const Spool&) = delete;

  // Creates the directory if needed and recovers what is there. Returns an
  // empty string, or what went wrong (the spool then stays closed; call again).
  // A directory that can be read but not written opens read-only: what it
  // holds is read and delivered; appends fail until it is writable again
  // (checked every kWritableRetryMs by append() and maintain()).
  std::string open();
  bool is_open() const { return open_; }
  bool writable() const { return open_ && writable_; }

  // What append() may give up to make room when max_bytes would be exceeded
  // or the disk is full (ENOSPC).
  enum class Overflow {
    // The oldest records, confirmed or not (unconfirmed ones are counted as
    // dropped): while offline, the newest backlog is what is worth keeping.
    drop_oldest,
    // Only records the broker has confirmed. When they do not make room, the
    // append fails: while online the caller sends the batch unstored, rather
    // than the spool dropping backlog that is about to be replayed.
    keep_unsent,
  };

  // Appends one batch; returns its id (> 0), or 0 with `error` set. Room is
  // made as `overflow` allows, only as much as the new record needs (whole
  // disk blocks: their space is freed with a hole punched at the front of the
  // oldest segment). With sync_always the batch is on disk when an id is
  // returned.
  uint64_t append(std::string_view data, int64_t ts_ms, std::string* error = nullptr,
                  Overflow overflow = Overflow::drop_oldest);

  // A reading position; readers are independent (backlog and live data).
  struct Cursor {
    uint64_t next_id = 0;
    uint64_t seg_first_id = 0;  // segment the offset belongs to (0: unknown)
    uint64_t offset = 0;
  };
  struct Record {
    uint64_t id = 0;
    int64_t ts_ms = 0;
    std::string data;  // reused between reads
  };
  // Reads the first intact record with cursor.next_id <= id < end_id. Returns
  // false when there is none. Corrupt records on the way are skipped and
  // counted, and ids found missing are counted as lost (once).
  bool read(Cursor& cursor, uint64_t end_id, Record& out);

  // Everything with id <= `id` is confirmed: segments holding only confirmed
  // records are deleted. Lost ids right after it count as confirmed too (there
  // is nothing left to deliver of them).
  void commit(uint64_t id);

  // How many records with ids in (committed(), end_id) a reader will still
  // find: unconfirmed ones, less those known to be lost.
  uint64_t pending_before(uint64_t end_id) const;

  // Syncs data written since the last sync if the interval policy says so;
  // call it from the main loop. Returns the steady time it wants to run next.
  int64_t maintain();

  uint64_t next_id() const { return next_id_; }      // id the next append gets
  uint64_t committed() const { return committed_; }  // highest confirmed id
  SpoolStats stats();

  // Writes all data and the committed id to disk (shutdown).
  void sync_all();

 private:
  struct Segment {
    uint64_t first_id;
    uint64_t start;  // offset of the first record kept (records before it were dropped)
    uint64_t size;
    int fd;
    std::string path;
  };

  std::string segment_path(uint64_t first_id) const;
  void close_segments();
  void recover_tail(Segment& seg);
  // The steps of open().
  std::vector<uint64_t> segment_names() const;
  std::vector<uint64_t> open_segments(const std::vector<uint64_t>& firsts);
  std::string read_marker(bool any_segment);
  void scan_pending(uint64_t lost_before, const std::string& marker_problem);
  uint64_t first_record_offset(size_t index);
  // Reads and validates a record at `offset` of `seg` (`index` in segments_);
  // on success fills out and returns the offset after it, else 0.
  uint64_t read_at(size_t index, uint64_t offset, Record& out);
  uint64_t read_at(const Segment& seg, uint64_t offset, uint64_t end_id, Record& out);
  uint64_t find_next_record(size_t index, uint64_t from);
  uint64_t segment_end_id(size_t index) const;
  bool rotate(std::string* error);
  bool try_writable();
  bool drop_oldest(uint64_t need, bool free_block, const char* why, uint64_t max_id);
  void count_dropped(uint64_t from, uint64_t to, const char* why);
  bool note_corrupt(uint64_t seg_first_id, uint64_t offset);
  void note_lost(uint64_t from, uint64_t to, const char* where);
  uint64_t lost_in(uint64_t from, uint64_t to) const;
  void delete_segment(size_t index);
  void save_committed(bool force);
  // The confirmed id a marker may name: never past the records on disk.
  uint64_t savable_committed() const { return std::min(committed_, synced_next_id_ - 1); }
  bool sync_data();
  uint64_t total_bytes() const;
  int64_t oldest_pending_ts();

  SpoolOptions opt_;
  const Clock& clock_;
  FileIo& io_;
  CommitMarker marker_;  // opt_.dir + "/committed"
  bool open_ = false;
  bool writable_ = false;
  std::string read_only_reason_;
  int64_t writable_retry_at_ = 0;
  bool quiet_ = false;  // the scan at open collects what it finds and says it once
  int64_t last_drop_log_ms_ = INT64_MIN;
  uint64_t dropped_unlogged_ = 0;
  std::vector<Segment> segments_;  // oldest first; the last one is written
  uint64_t next_id_ = 1;
  uint64_t committed_ = 0;
  uint64_t saved_committed_ = 0;
  std::optional<int64_t> unsaved_since_ms_;   // since when confirmations wait for a save
  bool sync_marker_pending_ = false;          // a synced save failed: its retry is synced too
  std::optional<int64_t> unsynced_since_ms_;  // since when appends wait for an fdatasync
  uint64_t synced_next_id_ = 1;               // records below this id are on disk
  SpoolStats counters_;
  std::vector<std::pair<uint64_t, uint64_t>> corrupt_seen_;  // (segment, offset)
  // Ids known to be lost and not yet confirmed: sorted, disjoint [from, to).
  std::vector<std::pair<uint64_t, uint64_t>> lost_;
  std::vector<std::string> names_;  // reused by open()
  Record scratch_;                  // stats() reads the oldest pending record into it
  // Bumped whenever a segment is added, deleted or closed: a position
  // remembered in one layout is not used in another.
  uint64_t layout_ = 0;
  // Where stats() last found the oldest pending record, so that the status
  // asked every second reads nothing while it stays the oldest, and after a
  // confirmation reads on from there, not from the segment's start.
  struct Oldest {
    uint64_t layout = 0;
    uint64_t id = 0;  // 0: not known
    int64_t ts_ms = 0;
    Cursor at;  // positioned on the record itself
  } oldest_;
};

}  // namespace classroom
