// Logs a technician can read: one line per event, a tag per component.
//   terminal:  2026-11-28T19:30:00.123Z W uplink: broker tcp://10.0.0.5:1883 unreachable ...
//   journald:  <4>uplink: broker tcp://10.0.0.5:1883 unreachable ...   (JOURNAL_STREAM set)
#pragma once

#include <string_view>

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
