#include "common/log.hpp"

#include <sys/time.h>
#include <unistd.h>
#include <algorithm>
#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include "printable.hpp"

namespace classroom::log {
namespace {

std::atomic<int> g_level{static_cast<int>(Level::info)};
std::atomic<int> g_fd{2};
// journald reads "<N>" at the start of a line as the syslog priority when the
// agent's stderr is connected to it.
std::atomic<bool> g_journal{false};

// A formatted message longer than this is cut; escaped, a line stays under 2 KiB.
constexpr size_t kMessageMax = 1024;
constexpr size_t kLineMax = 2048;
constexpr char kCut[] = " [cut]";

void emit(Level level, std::string_view tag, const char* fmt, va_list args) {
  if (static_cast<int>(level) < g_level.load(std::memory_order_relaxed)) return;
  char line[kLineMax];
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
  // The message may hold text from outside (a broker, a file, the config):
  // it is escaped as a whole, so nothing in it can end the line, start a line
  // of its own (with a forged timestamp or a journald "<N>" priority) or move
  // a terminal's cursor. The prefix above is the agent's own.
  char message[kMessageMax];
  const int m = std::vsnprintf(message, sizeof message, fmt, args);
  if (m < 0) return;
  const size_t formatted = std::min(sizeof message - 1, static_cast<size_t>(m));
  size_t len = static_cast<size_t>(n);
  size_t consumed = 0;
  const size_t room = sizeof line - len - (sizeof kCut - 1) - 1;
  len += text::escape_into(std::string_view(message, formatted), line + len, room, consumed);
  if (consumed < formatted || formatted < static_cast<size_t>(m)) {
    std::memcpy(line + len, kCut, sizeof kCut - 1);
    len += sizeof kCut - 1;
  }
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
