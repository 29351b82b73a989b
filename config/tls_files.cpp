#include "tls_files.hpp"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

namespace classroom::config {
namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using Bio = std::unique_ptr<BIO, BioFree>;
using Cert = std::unique_ptr<X509, X509Free>;
using Key = std::unique_ptr<EVP_PKEY, KeyFree>;

// A certificate or key file is a few KiB; a CA bundle a few hundred.
constexpr long kMaxPemBytes = 4 << 20;

// Opens a file for OpenSSL to read, refusing what is not a plain file of a
// sane size (a FIFO would block, /dev/zero never ends).
Bio open_pem(const std::string& path, std::string& problem) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    problem = "cannot read " + path + " (" + std::strerror(errno) + ")";
    return nullptr;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    problem = path + " is not a regular file";
    return nullptr;
  }
  if (st.st_size > kMaxPemBytes) {
    ::close(fd);
    problem = path + " is larger than 4 MiB: not a PEM file?";
    return nullptr;
  }
  Bio bio(BIO_new_fd(fd, BIO_CLOSE));
  if (!bio) {
    ::close(fd);
    problem = "cannot read " + path + " (out of memory)";
  }
  return bio;
}

long g_expected_owner = -1;

// The name of a user (its uid when it has no name).
std::string user_name(uid_t uid) {
  struct passwd pw {};
  struct passwd* found = nullptr;
  char buf[1024];
  if (::getpwuid_r(uid, &pw, buf, sizeof buf, &found) == 0 && found) return found->pw_name;
  return std::to_string(uid);
}

// No passphrase prompt, ever: an encrypted key fails to load instead.
int no_passphrase(char*, int, int, void*) {
  return -1;
}

}  // namespace

void expect_secret_owner(long uid) {
  g_expected_owner = uid;
}

int open_owner_only(const std::string& path, std::string& problem, struct stat& st) {
  const std::string fix = "`chmod 600 " + path + "`";
  // Never through a symbolic link; non-blocking, so a FIFO cannot hang us.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) {
    const int err = errno;
    problem = "cannot read " + path + " (" + std::strerror(err) + ")";
    if (err == EACCES) {
      // Mode 600 already, most often, but another user's (root's): chmod alone
      // cannot fix that.
      const std::string user = user_name(::geteuid());
      problem += " as user " + user +
                 ": a secret must be owned by the agent's user; fix it with `chown " + user + ": " +
                 path + " && " + fix.substr(1);
    } else {
      problem += "; create it readable by the agent only (" + fix + ")";
    }
    return -1;
  }
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    problem = path + " is not a regular file";
  } else if (g_expected_owner >= 0 && st.st_uid != static_cast<uid_t>(g_expected_owner)) {
    const std::string owner = user_name(static_cast<uid_t>(g_expected_owner));
    problem = path + " is owned by " + user_name(st.st_uid) + ", and the agent's user " + owner +
              " (the owner of [state] dir) cannot read it; fix it with `chown " + owner + ": " +
              path + "`";
  } else if (st.st_mode & 077) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    problem = path + " is open to group or others (mode " + mode +
              "): a secret must be readable by the agent only; fix it with " + fix;
  } else {
    return fd;
  }
  ::close(fd);
  return -1;
}

std::string check_owner_only(const std::string& path) {
  std::string problem;
  struct stat st {};
  if (int fd = open_owner_only(path, problem, st); fd >= 0) ::close(fd);
  return problem;
}

std::string check_ca_file(const std::string& path) {
  std::string problem;
  Bio bio = open_pem(path, problem);
  if (!bio) return problem;
  int count = 0;
  while (Cert cert{PEM_read_bio_X509(bio.get(), nullptr, no_passphrase, nullptr)}) ++count;
  ERR_clear_error();
  if (count == 0) return path + " holds no PEM certificate (-----BEGIN CERTIFICATE-----)";
  return "";
}

void check_client_pair(const std::string& cert_file, const std::string& key_file,
                       std::string& cert_problem, std::string& key_problem) {
  Cert cert;
  if (Bio bio = open_pem(cert_file, cert_problem)) {
    cert.reset(PEM_read_bio_X509(bio.get(), nullptr, no_passphrase, nullptr));
    if (!cert) cert_problem = cert_file + " holds no PEM certificate";
  }
  struct stat st {};
  const int fd = open_owner_only(key_file, key_problem, st);
  if (fd < 0) return;
  Key key;
  Bio bio(BIO_new_fd(fd, BIO_CLOSE));  // the file just checked, not another one at that path
  if (!bio) {
    ::close(fd);
    key_problem = "cannot read " + key_file + " (out of memory)";
  } else if (st.st_size > kMaxPemBytes) {
    key_problem = key_file + " is larger than 4 MiB: not a PEM file?";
  } else {
    key.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr));
    if (!key)
      key_problem = key_file +
                    " holds no private key the agent can use (not PEM, or protected by a "
                    "passphrase: the agent needs it unencrypted, kept safe by its mode 600)";
  }
  ERR_clear_error();
  if (cert && key && X509_check_private_key(cert.get(), key.get()) != 1)
    key_problem = key_file + " is not the key of the certificate in " + cert_file;
  ERR_clear_error();
}

}  // namespace classroom::config
