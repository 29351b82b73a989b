// Captures what the code under test logs, for tests that check what a
// technician would read.
#pragma once

#include <unistd.h>
#include <cstdio>
#include <string>

#include "log.hpp"

struct LogCapture {
  LogCapture() : file(std::tmpfile()) {
    previous = classroom::log::level();
    classroom::log::set_level(classroom::log::Level::info);
    classroom::log::set_fd(fileno(file));
  }
  ~LogCapture() {
    classroom::log::set_fd(2);
    classroom::log::set_level(previous);
    classroom::log::set_journal(false);
    std::fclose(file);
  }
  std::string text() const {
    std::string out;
    std::rewind(file);
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, file)) > 0) out.append(buf, n);
    return out;
  }
  int count(const std::string& needle) const {
    std::string t = text();
    int n = 0;
    for (size_t at = t.find(needle); at != std::string::npos; at = t.find(needle, at + 1)) ++n;
    return n;
  }
  std::FILE* file;
  classroom::log::Level previous;
};
