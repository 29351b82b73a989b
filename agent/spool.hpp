// The spool: every batch is written here before it is published, and forgotten
// only after the broker confirmed it. Storage only: it knows neither the network
// nor where batches come from.
//
// On disk (in <state dir>/spool/):
//   <first id, 20 digits>.seg  append-only segment files of framed records
//   committed                  the highest record id the broker has confirmed
// A record is a 28-byte header (magic, length, id, capture time, CRC-32 of all
// but the magic) and the batch bytes. Recovery re-reads only the newest segment:
// it cuts a torn tail (a record half-written when the power went) and keeps
// everything before it. A corrupt record elsewhere is skipped and counted when
// it is read; the records after it survive.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "clock.hpp"

namespace classroom {

struct SpoolOptions {
  std::string dir;  // the spool's own directory
  uint64_t max_bytes = 64ull << 20;
  uint64_t segment_bytes = 0;       // 0: max_bytes / 8, within 16 KiB .. 4 MiB
  bool sync_always = false;         // fdatasync after every append
  int64_t sync_interval_ms = 1000;  // otherwise at most this long unsynced
};

struct SpoolStats {
  uint64_t pending = 0;       // records not yet confirmed
  uint64_t bytes = 0;         // on disk, all segments
  uint64_t dropped = 0;       // unconfirmed records deleted to respect max_bytes (since start)
  uint64_t corrupt = 0;       // records skipped as corrupt (since start)
  uint64_t write_errors = 0;  // appends that failed (disk full, read-only)
  int64_t oldest_ts_ms = 0;   // capture time of the oldest pending record, 0 if none
};

class Spool {
 public:
  static constexpr uint32_t kMagic = 0x4C4F5053;  // "SPOL" little-endian
  static constexpr size_t kHeaderSize = 28;
  static constexpr uint32_t kMaxRecord = 16u << 20;
  // A fully confirmed active segment larger than this is replaced by a new one.
  static constexpr uint64_t kRecycleBytes = 64u << 10;

  Spool(SpoolOptions options, const Clock& clock);
  ~Spool();
  Spool(const Spool&) = delete;
  Spool& operator=(const Spool&) = delete;

  // Creates the directory if needed and recovers what is there. Returns an
  // empty string, or what went wrong (the spool then stays closed; call again).
  std::string open();
  bool is_open() const { return open_; }

  // Appends one batch; returns its id (> 0), or 0 with `error` set. When the
  // spool is full the oldest segment is deleted first (its unconfirmed records
  // counted as dropped); on ENOSPC the same is tried once more.
  uint64_t append(std::string_view data, int64_t ts_ms, std::string* error = nullptr);

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
  // false when there is none. Corrupt records on the way are skipped and counted.
  bool read(Cursor& cursor, uint64_t end_id, Record& out);

  // Everything with id <= `id` is confirmed: segments holding only confirmed
  // records are deleted.
  void commit(uint64_t id);

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
    uint64_t size;
    int fd;
    std::string path;
  };

  std::string segment_path(uint64_t first_id) const;
  std::string recover_tail(Segment& seg);
  // Reads and validates a record at `offset` of `seg`; on success fills out and
  // returns the offset after it, else 0.
  uint64_t read_at(const Segment& seg, uint64_t offset, Record& out);
  uint64_t segment_end_id(size_t index) const;
  bool rotate(std::string* error);
  void drop_oldest(const char* why);
  bool note_corrupt(uint64_t seg_first_id, uint64_t offset);
  void delete_segment(size_t index);
  void save_committed(bool force);
  void sync_data();
  uint64_t total_bytes() const;

  SpoolOptions opt_;
  const Clock& clock_;
  bool open_ = false;
  std::vector<Segment> segments_;  // oldest first; the last one is written
  uint64_t next_id_ = 1;
  uint64_t committed_ = 0;
  uint64_t saved_committed_ = 0;
  int64_t last_commit_save_ms_ = 0;
  bool dirty_ = false;  // appended since the last fdatasync
  int64_t last_sync_ms_ = 0;
  SpoolStats counters_;
  std::vector<std::pair<uint64_t, uint64_t>> corrupt_seen_;  // (segment, offset)
  Record scratch_;  // stats() reads the oldest pending record into it
};

}  // namespace classroom
