#include "daemon/systemd_notify.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace classroom {

void notify_systemd(std::string_view state) {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (!path || !*path) return;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const size_t len = std::strlen(path);
  if (len >= sizeof addr.sun_path) return;
  std::memcpy(addr.sun_path, path, len);
  if (addr.sun_path[0] == '@') addr.sun_path[0] = '\0';  // abstract socket
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&addr),
           static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + len));
  ::close(fd);
}

int64_t systemd_watchdog_interval_ms() {
  auto number = [](const char* text) -> int64_t {
    if (!text || !*text) return 0;
    int64_t v = 0;
    for (const char* p = text; *p; ++p) {
      if (*p < '0' || *p > '9' || v > INT64_MAX / 10 - 10) return 0;
      v = v * 10 + (*p - '0');
    }
    return v;
  };
  if (const char* pid = std::getenv("WATCHDOG_PID"); pid && number(pid) != ::getpid()) return 0;
  const int64_t usec = number(std::getenv("WATCHDOG_USEC"));
  return usec >= 2000 ? usec / 2000 : 0;
}

bool notify_socket_set() {
  const char* path = std::getenv("NOTIFY_SOCKET");
  return path && *path;
}

}  // namespace classroom
