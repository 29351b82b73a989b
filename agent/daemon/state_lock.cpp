#include "daemon/state_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace classroom {

StateLock::StateLock(const std::string& dir) {
  ::mkdir(dir.c_str(), 0750);  // the spool creates deeper levels; EEXIST is fine
  const std::string path = dir + "/lock";
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640);
  if (fd_ < 0) {
    error_ = "cannot create " + path + ": " + std::strerror(errno);
    return;  // read-only or missing: run unlocked rather than not at all
  }
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    char pid[32] = {};
    ssize_t n = ::pread(fd_, pid, sizeof pid - 1, 0);
    while (n > 0 && (pid[n - 1] == '\n' || pid[n - 1] == ' ')) pid[--n] = '\0';
    held_elsewhere_ = true;
    error_ =
        "another classroom-agent" + (n > 0 ? " (pid " + std::string(pid) + ")" : std::string()) +
        " is using the state dir " + dir +
        "; stop it first (systemctl stop classroom-agent) or give this one its own [state] dir";
    ::close(fd_);
    fd_ = -1;
    return;
  }
  char text[32];
  int len = std::snprintf(text, sizeof text, "%d\n", static_cast<int>(::getpid()));
  if (::ftruncate(fd_, 0) == 0 && ::pwrite(fd_, text, static_cast<size_t>(len), 0) < 0) {
    // The lock is what matters; the pid is only for the message above.
  }
}

StateLock::~StateLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the lock
}

}  // namespace classroom
