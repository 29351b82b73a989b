#include "log.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cinttypes>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <mutex>

#include "printable.hpp"

namespace classroom::log {
namespace {

std::atomic<int> g_level{static_cast<int>(Level::info)};
std::atomic<int> g_fd{2};
// journald reads "<N>" at the start of a line as the syslog priority when the
// agent's stderr is connected to it.
std::atomic<bool> g_journal{false};
std::atomic<const Clock*> g_clock{nullptr};

// A formatted message longer than this is cut; escaped, a line stays under 2 KiB.
constexpr size_t kMessageMax = 1024;
constexpr size_t kLineMax = 2048;
constexpr size_t kPrefixMax = 32;  // "2026-11-28T19:30:00.123Z W " or "<4>"
constexpr char kCut[] = " [cut]";
constexpr char kLetter[] = {'D', 'I', 'W', 'E'};

int64_t wall_now() {
  if (const Clock* c = g_clock.load(std::memory_order_acquire)) return c->wall_ms();
  timeval tv{};
  gettimeofday(&tv, nullptr);
  return static_cast<int64_t>(tv.tv_sec) * 1000 + tv.tv_usec / 1000;
}
int64_t steady_now() {
  if (const Clock* c = g_clock.load(std::memory_order_acquire)) return c->steady_ms();
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

// "2026-11-28T19:30:00.123Z W "
int terminal_prefix(char* out, size_t cap, Level level, int64_t wall_ms) {
  const time_t secs = static_cast<time_t>(wall_ms / 1000);
  tm utc{};
  gmtime_r(&secs, &utc);
  return std::snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %c ", utc.tm_year + 1900,
                       utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                       static_cast<int>(wall_ms % 1000), kLetter[static_cast<int>(level)]);
}

// The log file and what is folded in it. Everything under `mutex`; `folded`
// lets tick() skip the lock when nothing waits.
struct FileSink {
  std::mutex mutex;
  std::atomic<bool> open{false};
  std::atomic<bool> folded{false};
  int fd = -1;
  std::string path;
  uint64_t max_bytes = 0;
  uint64_t size = 0;
  int keep = 0;
  int64_t fold_ms = 0;
  // The last line written (without its prefix), and its repeats since.
  Level last_level = Level::debug;
  char last_body[kLineMax];
  size_t last_len = 0;
  int64_t window_start_ms = 0;  // steady time of the last line written
  uint64_t repeats = 0;
  void (*fold_listener)(void*) = nullptr;
  void* fold_arg = nullptr;

  void rotate() {
    // path.<keep-1> -> path.<keep> ... path -> path.1; rename replaces the oldest.
    char from[4096], to[4096];
    for (int i = keep - 1; i >= 1; --i) {
      std::snprintf(from, sizeof from, "%s.%d", path.c_str(), i);
      std::snprintf(to, sizeof to, "%s.%d", path.c_str(), i + 1);
      ::rename(from, to);  // a missing one is fine
    }
    std::snprintf(to, sizeof to, "%s.1", path.c_str());
    if (::rename(path.c_str(), to) != 0) {
      // Cannot rename (the directory is not writable): start the file over
      // rather than pass the bound.
      if (::ftruncate(fd, 0) == 0) size = 0;
      return;
    }
    const int fresh = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fresh < 0) {
      // Keep writing to the renamed file rather than lose lines; truncate it.
      if (::ftruncate(fd, 0) == 0) size = 0;
      return;
    }
    ::close(fd);
    fd = fresh;
    size = 0;
  }

  void write_line(const char* line, size_t len) {
    if (size > 0 && size + len > max_bytes) rotate();
    if (::write(fd, line, len) > 0) size += len;
  }

  // prefix + body + suffix + "\n", one write.
  void write(Level level, const char* body, size_t len, int64_t wall_ms, const char* suffix = "") {
    char line[kPrefixMax + kLineMax + 96];
    int n = terminal_prefix(line, kPrefixMax, level, wall_ms);
    if (n < 0) return;
    size_t at = static_cast<size_t>(n);
    std::memcpy(line + at, body, len);
    at += len;
    const size_t s = std::min(std::strlen(suffix), sizeof line - at - 1);
    std::memcpy(line + at, suffix, s);
    at += s;
    line[at++] = '\n';
    write_line(line, at);
  }

  void write_folded(int64_t wall_ms, int64_t steady_ms) {
    char suffix[96];
    std::snprintf(suffix, sizeof suffix, " [repeated %" PRIu64 " more time%s in %" PRId64 " s]",
                  repeats, repeats == 1 ? "" : "s", (steady_ms - window_start_ms + 500) / 1000);
    write(last_level, last_body, last_len, wall_ms, suffix);
    repeats = 0;
    window_start_ms = steady_ms;
    folded.store(false, std::memory_order_relaxed);
  }

  // False when the file was closed meanwhile (the line then goes to stderr).
  bool emit(Level level, const char* body, size_t len) {
    const int64_t wall = wall_now(), steady = steady_now();
    std::lock_guard lock(mutex);
    if (fd < 0) return false;
    const bool same = fold_ms > 0 && level == last_level && len == last_len &&
                      std::memcmp(body, last_body, len) == 0;
    if (same && (steady - window_start_ms < fold_ms || repeats > 0)) {
      ++repeats;
      if (steady - window_start_ms >= fold_ms)
        write_folded(wall, steady);  // the window is over: one line, this one counted in it
      else if (!folded.exchange(true, std::memory_order_relaxed) && fold_listener)
        fold_listener(fold_arg);  // a count is due within the window: someone must tick
      return true;
    }
    if (repeats > 0) write_folded(wall, steady);
    write(level, body, len, wall);
    last_level = level;
    std::memcpy(last_body, body, len);
    last_len = len;
    window_start_ms = steady;
    return true;
  }

  int64_t tick() {
    if (!folded.load(std::memory_order_relaxed)) return -1;
    const int64_t wall = wall_now(), steady = steady_now();
    std::lock_guard lock(mutex);
    if (fd < 0 || repeats == 0) return -1;
    if (steady - window_start_ms >= fold_ms) {
      write_folded(wall, steady);
      return -1;
    }
    return window_start_ms + fold_ms - steady;
  }
};

FileSink& file_sink() {
  static FileSink sink;
  return sink;
}

void emit(Level level, std::string_view tag, const char* fmt, va_list args) {
  if (static_cast<int>(level) < g_level.load(std::memory_order_relaxed)) return;
  // The body: "tag: message". The message may hold text from outside (a
  // broker, a file, the config): it is escaped as a whole, so nothing in it
  // can end the line, start a line of its own (with a forged timestamp or a
  // journald "<N>" priority) or move a terminal's cursor. The prefix and the
  // tag are the agent's own.
  char body[kLineMax - kPrefixMax];
  int n = std::snprintf(body, sizeof body, "%.*s: ", static_cast<int>(tag.size()), tag.data());
  if (n < 0) return;
  char message[kMessageMax];
  const int m = std::vsnprintf(message, sizeof message, fmt, args);
  if (m < 0) return;
  const size_t formatted = std::min(sizeof message - 1, static_cast<size_t>(m));
  size_t len = static_cast<size_t>(n);
  size_t consumed = 0;
  const size_t room = sizeof body - len - (sizeof kCut - 1) - 1;
  len += text::escape_into(std::string_view(message, formatted), body + len, room, consumed);
  if (consumed < formatted || formatted < static_cast<size_t>(m)) {
    std::memcpy(body + len, kCut, sizeof kCut - 1);
    len += sizeof kCut - 1;
  }

  FileSink& file = file_sink();
  if (file.open.load(std::memory_order_acquire) && file.emit(level, body, len)) return;
  char line[kLineMax];
  int p = 0;
  if (g_journal.load(std::memory_order_relaxed)) {
    p = std::snprintf(line, kPrefixMax, "%s", priority_prefix(level));
  } else {
    p = terminal_prefix(line, kPrefixMax, level, wall_now());
  }
  if (p < 0) return;
  std::memcpy(line + p, body, len);
  len += static_cast<size_t>(p);
  line[len++] = '\n';
  // One write per line, so lines from different threads never interleave.
  ssize_t ignored = ::write(g_fd.load(std::memory_order_relaxed), line, len);
  (void)ignored;
}

}  // namespace

void set_level(Level level) {
  g_level.store(static_cast<int>(level));
}
Level level() {
  return static_cast<Level>(g_level.load());
}
void set_fd(int fd) {
  g_fd.store(fd);
}
void set_journal(bool journal) {
  g_journal.store(journal);
}
void init_from_environment() {
  set_journal(std::getenv("JOURNAL_STREAM") != nullptr);
}
const char* priority_prefix(Level level) {
  static const char* const prefix[] = {"<7>", "<6>", "<4>", "<3>"};
  return g_journal.load(std::memory_order_relaxed) ? prefix[static_cast<int>(level)] : "";
}
void set_clock(const Clock* clock) {
  g_clock.store(clock, std::memory_order_release);
}

std::string open_file(const FileOptions& options) {
  const int fd = ::open(options.path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0)
    return "cannot open " + text::printable(options.path, 256) + ": " + std::strerror(errno);
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return text::printable(options.path, 256) + " is not a regular file";
  }
  close_file();
  FileSink& f = file_sink();
  std::lock_guard lock(f.mutex);
  f.fd = fd;
  f.path = options.path;
  f.max_bytes = std::max<uint64_t>(options.max_bytes, kLineMax + kPrefixMax + 96);
  f.keep = std::clamp(options.keep, 1, 1000);
  f.fold_ms = std::max<int64_t>(0, options.fold_ms);
  f.size = static_cast<uint64_t>(st.st_size);
  f.last_len = 0;
  f.repeats = 0;
  f.folded.store(false);
  f.open.store(true, std::memory_order_release);
  return "";
}

void close_file() {
  FileSink& f = file_sink();
  std::lock_guard lock(f.mutex);
  if (f.fd < 0) return;
  if (f.repeats > 0) f.write_folded(wall_now(), steady_now());
  f.open.store(false, std::memory_order_release);
  ::close(f.fd);
  f.fd = -1;
}

int64_t tick() {
  return file_sink().tick();
}

void set_fold_listener(void (*listener)(void*), void* arg) {
  FileSink& f = file_sink();
  std::lock_guard lock(f.mutex);
  f.fold_listener = listener;
  f.fold_arg = arg;
}

void clear_fold_listener(void* arg) {
  FileSink& f = file_sink();
  std::lock_guard lock(f.mutex);
  if (f.fold_arg != arg) return;
  f.fold_listener = nullptr;
  f.fold_arg = nullptr;
}

#define CLASSROOM_LOG_METHOD(name, lvl)           \
  void Logger::name(const char* fmt, ...) const { \
    va_list args;                                 \
    va_start(args, fmt);                          \
    emit(lvl, tag_, fmt, args);                   \
    va_end(args);                                 \
  }
CLASSROOM_LOG_METHOD(debug, Level::debug)
CLASSROOM_LOG_METHOD(info, Level::info)
CLASSROOM_LOG_METHOD(warning, Level::warning)
CLASSROOM_LOG_METHOD(error, Level::error)
#undef CLASSROOM_LOG_METHOD

}  // namespace classroom::log
