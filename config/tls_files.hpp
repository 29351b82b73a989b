// Checks of the files TLS to the broker needs, made when the config is read,
// so that check-config names a bad file before the agent ever dials: a CA
// file that holds no certificate, a client certificate whose key is another,
// a key that others can read. Each returns "" or what is wrong, in plain words.
#pragma once

#include <sys/stat.h>

#include <string>

namespace classroom::config {

// A PEM file holding at least one certificate.
std::string check_ca_file(const std::string& path);
// The agent's certificate and its key: the key file is readable by its owner
// only (named `chmod` otherwise), unencrypted, and matches the certificate.
// `cert_problem` and `key_problem` say which file is wrong.
void check_client_pair(const std::string& cert_file, const std::string& key_file,
                       std::string& cert_problem, std::string& key_problem);
// A file that holds a secret (a password, a key): a regular file, not a link,
// that only its owner can read or write. "" when it is, else what is wrong and
// the fix.
std::string check_owner_only(const std::string& path);
// `sudo check-config` checks for the agent's user, not for root: a secret
// that this uid does not own is refused, though root could read it. check-config
// run as root sets it to the owner of [state] dir; -1 (the default): no check.
void expect_secret_owner(long uid);
// The same check, made on the open file (no window between check and read):
// returns the open descriptor (non-blocking, close-on-exec), or -1 with
// `problem` set. `st` receives the file's status.
int open_owner_only(const std::string& path, std::string& problem, struct stat& st);

}  // namespace classroom::config
