#include "log.hpp"

#include <sys/time.h>
#include <unistd.h>
#include <algorithm>
#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace classroom::log {
namespace {

std::atomic<int> g_level{static_cast<int>(Level::info)};
std::atomic<int> g_fd{2};
// journald reads "<N>" at the start of a line as the syslog priority when the
// agent's stderr is connected to it.
std::atomic<bool> g_journal{false};

void emit(Level level, std::string_view tag, const char* fmt, va_list args) {
  if (static_cast<int>(level) < g_level.load(std::memory_order_relaxed)) return;
  char line[1024];
  int n = 0;
  if (g_journal.load(std::memory_order_relaxed)) {
    static const int priority[] = {7, 6, 4, 3};  // debug, info, warning, err
    n = std::snprintf(line, sizeof line, "<%d>%.*s: ", priority[static_cast<int>(level)],
                      static_cast<int>(tag.size()), tag.data());
  } else {
    static const char letter[] = {'D', 'I', 'W', 'E'};
    timeval tv{};
    gettimeofday(&tv, nullptr);
    tm utc{};
    gmtime_r(&tv.tv_sec, &utc);
    n = std::snprintf(line, sizeof line,
                      "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %c %.*s: ", utc.tm_year + 1900,
                      utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                      static_cast<int>(tv.tv_usec / 1000), letter[static_cast<int>(level)],
                      static_cast<int>(tag.size()), tag.data());
  }
  if (n < 0) return;
  int m = std::vsnprintf(line + n, sizeof line - static_cast<size_t>(n) - 1, fmt, args);
  if (m < 0) return;
  size_t len = std::min(sizeof line - 2, static_cast<size_t>(n) + static_cast<size_t>(m));
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
