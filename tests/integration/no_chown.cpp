// no_chown COMMAND [ARG...]: runs COMMAND with every chown call refused with
// EPERM, as the shipped unit's SystemCallFilter= (~@privileged) refuses them,
// so that the integration tests meet what the agent meets under systemd.
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>

namespace {

// Refuses the syscall `nr` with EPERM: two instructions after the number is loaded.
#define REFUSE(nr)                                 \
  BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), \
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM)

sock_filter kFilter[] = {
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
#ifdef SYS_chown
    REFUSE(SYS_chown),
#endif
#ifdef SYS_lchown
    REFUSE(SYS_lchown),
#endif
    REFUSE(SYS_fchown),
    REFUSE(SYS_fchownat),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: no_chown COMMAND [ARG...]\n");
    return 64;
  }
  sock_fprog prog{static_cast<unsigned short>(sizeof kFilter / sizeof kFilter[0]), kFilter};
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
      ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
    std::fprintf(stderr, "no_chown: cannot install the filter: %s\n", std::strerror(errno));
    return 1;
  }
  ::execvp(argv[1], argv + 1);
  std::fprintf(stderr, "no_chown: cannot run %s: %s\n", argv[1], std::strerror(errno));
  return 127;
}
