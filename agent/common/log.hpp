// Logs a technician can read: one line per event, a tag per component.
//   terminal:  2026-11-28T19:30:00.123Z W uplink: broker tcp://10.0.0.5:1883 unreachable ...
//   journald:  <4>uplink: broker tcp://10.0.0.5:1883 unreachable ...   (JOURNAL_STREAM set)
//   file:      as on a terminal, in a size-bounded file that rotates ([log] file),
//              identical lines repeated within a window folded into one with a count
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "clock.hpp"

namespace classroom::log {

enum class Level { debug = 0, info = 1, warning = 2, error = 3 };

void set_level(Level level);
Level level();

// Where lines go: stderr by default. Tests may redirect to a file descriptor.
void set_fd(int fd);

// journald format ("<4>tag: message", no timestamp) instead of the terminal's.
void set_journal(bool journal);
// Chooses the format from the environment: journald when systemd connected
// stderr to the journal (JOURNAL_STREAM is set).
void init_from_environment();
// "<N>", the journald priority of `level`, under journald; "" elsewhere. For
// lines written to stdout or stderr without a Logger (check-config's report).
const char* priority_prefix(Level level);

// The clock of timestamps and folding windows; null (the default): the
// system's. Tests pass a FakeClock, which must outlive its use here.
void set_clock(const Clock* clock);

// A log file for a gateway without journald ([log] file, max_bytes, keep, fold).
struct FileOptions {
  std::string path;
  uint64_t max_bytes = 1u << 20;  // one file; a line that would pass it rotates first
  int keep = 3;                   // rotated files kept: path.1 (newest) .. path.<keep>
  int64_t fold_ms = 60'000;       // window of folding identical lines; 0: no folding
};
// Lines go to `options.path` (terminal format) instead of stderr from now on:
// when the file would pass max_bytes, it becomes path.1, path.1 becomes
// path.2 ... and path.<keep> is deleted, so the files never take more than
// (keep + 1) x max_bytes. A line identical to the last one (same level, tag
// and text) within `fold_ms` of the last one written is only counted; once the
// window has passed (at the next line or tick()), one line says how often:
//   ... W uplink: ignored a malformed command on ... [repeated 57 more times in 60 s]
// Returns "" or why the file cannot be opened (lines then stay on stderr).
std::string open_file(const FileOptions& options);
// Back to stderr (writes what is still folded first).
void close_file();
// Writes the count of folded repeats whose window has passed. Cheap when
// there is none; the loop calls it every turn. Returns the milliseconds until
// the count now folded is due, or -1 when nothing is folded.
int64_t tick();
// `listener(arg)` is called (on the logging thread, under the log's lock: it
// must only signal) when a line starts being folded, so that a thread asleep
// can tick when its count is due. One at a time; clearing with another `arg`
// changes nothing.
void set_fold_listener(void (*listener)(void*), void* arg);
void clear_fold_listener(void* arg);

class Logger {
 public:
  explicit constexpr Logger(std::string_view tag) : tag_(tag) {}

  void debug(const char* fmt, ...) const __attribute__((format(printf, 2, 3)));
  void info(const char* fmt, ...) const __attribute__((format(printf, 2, 3)));
  void warning(const char* fmt, ...) const __attribute__((format(printf, 2, 3)));
  void error(const char* fmt, ...) const __attribute__((format(printf, 2, 3)));

 private:
  std::string_view tag_;
};

}  // namespace classroom::log
