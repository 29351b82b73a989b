#include "netsnmp_api.hpp"

#include <dlfcn.h>
#include <openssl/rand.h>
#include <sys/random.h>

#include <cerrno>
#include <mutex>

#include "probes/shared_library.hpp"

namespace classroom::drivers::snmp {
namespace {

// The soname of net-snmp 5.9 (Debian 12 and 13: libsnmp40).
constexpr const char* kSoname = "libnetsnmp.so.40";

NetSnmpApi g_api{};
const NetSnmpApi* g_loaded = nullptr;
std::string g_error;

template <typename F>
bool bind(void* lib, const char* name, F& out) {
  return probes::bind_symbol(lib, kSoname, name, out, g_error);
}

// Random bytes from the kernel, as RAND_bytes gives them once OpenSSL's
// generator is set up: for init_snmp only (see with_kernel_random).
int kernel_random(unsigned char* buf, int num) {
  for (size_t done = 0; done < static_cast<size_t>(num);) {
    const ssize_t n = ::getrandom(buf + done, static_cast<size_t>(num) - done, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return 0;
    }
    done += static_cast<size_t>(n);
  }
  return 1;
}
int kernel_random_status() {
  return 1;
}

// init_snmp draws USM's salts with RAND_bytes, which sets up OpenSSL's
// generator: it fetches AES-CTR, and a fetch builds every cipher of the
// provider (some 230 KiB of heap, for good). A gateway without SNMPv3
// devices, and without TLS to the broker, never needs any of it. For the
// time of init_snmp, RAND_bytes takes its bytes from the kernel (getrandom,
// what OpenSSL's generator seeds from itself); then OpenSSL's own method is
// back, and a v3 device or TLS sets its generator up when first used. The
// methods are looked up through the loaded library (libcrypto is one of its
// dependencies): without them, init_snmp runs as it is.
template <typename Init>
void with_kernel_random(void* lib, Init init) {
  using GetMethod = const RAND_METHOD* (*)();
  using SetMethod = int (*)(const RAND_METHOD*);
  auto get = reinterpret_cast<GetMethod>(::dlsym(lib, "RAND_get_rand_method"));
  auto set = reinterpret_cast<SetMethod>(::dlsym(lib, "RAND_set_rand_method"));
  const RAND_METHOD* openssl = get ? get() : nullptr;
  static const RAND_METHOD kernel = {nullptr, kernel_random, nullptr,
                                     nullptr, kernel_random, kernel_random_status};
  if (!openssl || !set || !set(&kernel)) {
    init();
    return;
  }
  init();
  set(openssl);
}

// Only what the agent needs of the library: it speaks numeric OIDs and keeps
// its own config, and reports every outcome itself.
void init(void* lib) {
  decltype(&::netsnmp_ds_set_boolean) set_boolean = nullptr;
  decltype(&::netsnmp_ds_set_int) set_int = nullptr;
  decltype(&::netsnmp_set_mib_directory) set_mib_directory = nullptr;
  decltype(&::snmp_disable_log) disable_log = nullptr;
  decltype(&::netsnmp_register_loghandler) register_loghandler = nullptr;
  decltype(&::init_snmp) init_snmp = nullptr;
  if (!(bind(lib, "netsnmp_ds_set_boolean", set_boolean) &&
        bind(lib, "netsnmp_ds_set_int", set_int) &&
        bind(lib, "netsnmp_set_mib_directory", set_mib_directory) &&
        bind(lib, "snmp_disable_log", disable_log) &&
        bind(lib, "netsnmp_register_loghandler", register_loghandler) &&
        bind(lib, "init_snmp", init_snmp)))
    return;
  // No snmp.conf, no MIB files, no persistent state in /var/lib/snmp.
  set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DONT_READ_CONFIGS, 1);
  set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DISABLE_PERSISTENT_LOAD, 1);
  set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DISABLE_PERSISTENT_SAVE, 1);
  set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DONT_PERSIST_STATE, 1);
  set_mib_directory("");
  set_int(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_MIB_WARNINGS, 0);
  // The library's own messages (MIB modules it cannot find, ...) would go
  // to stderr: a handler that drops them. Outcomes are reported by the poller.
  disable_log();
  register_loghandler(NETSNMP_LOGHANDLER_NONE, LOG_EMERG);
  with_kernel_random(lib, [&] { init_snmp("classroom-agent"); });
  g_loaded = &g_api;
}

void load() {
  void* lib = probes::open_library(kSoname, "libsnmp40", g_error);
  if (!lib) return;
  NetSnmpApi a{};
  if (bind(lib, "snmp_sess_init", a.sess_init) && bind(lib, "snmp_sess_open", a.sess_open) &&
      bind(lib, "snmp_sess_close", a.sess_close) &&
      bind(lib, "snmp_sess_session", a.sess_session) &&
      bind(lib, "snmp_sess_async_send", a.sess_async_send) &&
      bind(lib, "snmp_sess_error", a.sess_error) &&
      bind(lib, "snmp_sess_select_info", a.sess_select_info) &&
      bind(lib, "snmp_sess_read", a.sess_read) && bind(lib, "snmp_sess_timeout", a.sess_timeout) &&
      bind(lib, "snmp_pdu_create", a.pdu_create) && bind(lib, "snmp_clone_pdu", a.clone_pdu) &&
      bind(lib, "snmp_free_pdu", a.free_pdu) && bind(lib, "snmp_add_null_var", a.add_null_var) &&
      bind(lib, "snmp_api_errstring", a.api_errstring) &&
      bind(lib, "snmp_errstring", a.errstring) &&
      bind(lib, "snmpv3_get_report_type", a.get_report_type) &&
      bind(lib, "generate_Ku", a.generate_ku) && bind(lib, "usm_get_user", a.usm_get_user) &&
      bind(lib, "usm_remove_user", a.usm_remove_user) &&
      bind(lib, "usm_free_user", a.usm_free_user) &&
      bind(lib, "usm_create_user_from_session", a.usm_create_user_from_session) &&
      bind(lib, "snmp_errno", a.errno_of_open) &&
      bind(lib, "usmHMACSHA1AuthProtocol", a.hmac_sha1_auth) &&
      bind(lib, "usmHMAC192SHA256AuthProtocol", a.hmac_sha256_auth) &&
      bind(lib, "usmAESPrivProtocol", a.aes_priv)) {
    g_api = a;
    init(lib);
  }
}

}  // namespace

const NetSnmpApi* load_netsnmp(std::string* error) {
  static std::once_flag once;
  std::call_once(once, load);
  if (!g_loaded && error) *error = g_error;
  return g_loaded;
}

const NetSnmpApi& netsnmp() {
  return g_api;
}

}  // namespace classroom::drivers::snmp
