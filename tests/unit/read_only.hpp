// Runs a piece of a test against a directory that is really read-only, also
// when the tests run as root (as CI does), where file permissions mean nothing:
// the body runs in a child process with a private mount namespace in which
// the directory is bind-mounted read-only (writes fail with EROFS). Other users
// get the directory's write permission taken away instead (EACCES).
#pragma once

#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>

struct ReadOnlyView {
  std::string dir;
  bool as_root = false;
  // Makes the directory writable again (the remount or the permission).
  bool make_writable() const {
    if (as_root) return ::mount(nullptr, dir.c_str(), nullptr, MS_REMOUNT | MS_BIND, nullptr) == 0;
    set_writable(dir, true);
    return true;
  }
  static void set_writable(const std::string& dir, bool writable) {
    namespace fs = std::filesystem;
    std::error_code ec;
    const auto opt = writable ? fs::perm_options::add : fs::perm_options::remove;
    fs::permissions(dir, fs::perms::owner_write, opt, ec);
    for (auto& e : fs::recursive_directory_iterator(dir, ec))
      if (e.is_directory(ec)) fs::permissions(e.path(), fs::perms::owner_write, opt, ec);
  }
};

// True when the mount at `path` (as /proc/self/mountinfo shows it) propagates
// to peers: a mount made under it would show in other namespaces too.
inline bool mount_is_shared(const std::string& path) {
  FILE* f = std::fopen("/proc/self/mountinfo", "re");
  if (!f) return true;
  char line[4096];
  bool shared = true;  // not found: assume the worst
  while (std::fgets(line, sizeof line, f)) {
    char mount_point[2048];
    if (std::sscanf(line, "%*s %*s %*s %*s %2047s", mount_point) != 1) continue;
    if (path == mount_point) shared = std::strstr(line, " shared:") != nullptr;
  }
  std::fclose(f);
  return shared;
}

// Makes `dir` a read-only bind mount in this (new, unshared) mount namespace.
// The namespace's mounts are made private first, so nothing propagates back.
// In a chroot, "/" is not a mount point and cannot be made private: then the
// bind mount is made, and kept only if it turned out private (its parent was
// not shared, so nothing propagated); a shared one is undone at once.
inline std::string bind_read_only(const std::string& dir) {
  auto failed = [](const char* what) {
    return std::string("cannot make a read-only bind mount (") + what +
           "): " + std::strerror(errno);
  };
  const bool private_root = ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0;
  if (!private_root && errno != EINVAL) return failed("private namespace");
  if (::mount(dir.c_str(), dir.c_str(), nullptr, MS_BIND, nullptr) != 0) return failed("bind");
  if (!private_root && mount_is_shared(dir)) {
    ::umount2(dir.c_str(), MNT_DETACH);
    errno = EINVAL;
    return failed("the parent mount is shared and / is not a mount point");
  }
  if (::mount(nullptr, dir.c_str(), nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY, nullptr) != 0)
    return failed("read-only");
  return "";
}

// Returns what `body` returned ("" when all is well), or why the child failed.
inline std::string with_read_only(const std::string& dir,
                                  const std::function<std::string(const ReadOnlyView&)>& body) {
  int fds[2];
  if (::pipe(fds) != 0) return std::string("pipe: ") + std::strerror(errno);
  const pid_t pid = ::fork();
  if (pid < 0) return std::string("fork: ") + std::strerror(errno);
  if (pid == 0) {
    ::close(fds[0]);
    ReadOnlyView view{dir, ::geteuid() == 0};
    std::string result;
    if (view.as_root) {
      if (::unshare(CLONE_NEWNS) != 0)
        result = std::string("cannot unshare the mount namespace: ") + std::strerror(errno);
      else
        result = bind_read_only(dir);
    } else {
      ReadOnlyView::set_writable(dir, false);
    }
    if (result.empty()) result = body(view);
    if (!view.as_root) ReadOnlyView::set_writable(dir, true);
    const char* p = result.data();
    size_t left = result.size();
    while (left > 0) {
      const ssize_t n = ::write(fds[1], p, left);
      if (n <= 0) break;
      p += n;
      left -= static_cast<size_t>(n);
    }
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string out;
  char buf[512];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
    if (n > 0) out.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (::geteuid() != 0) ReadOnlyView::set_writable(dir, true);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return "the read-only child died (status " + std::to_string(status) + "): " + out;
  return out;
}
