#include "netsnmp_api.hpp"

#include "probes/shared_library.hpp"

namespace classroom::drivers::snmp {
namespace {

// Only what the agent needs of the library: it speaks numeric OIDs and keeps
// its own config, and reports every outcome itself.
bool init(probes::Symbols& bind) {
  decltype(&::netsnmp_ds_set_boolean) set_boolean = nullptr;
  decltype(&::netsnmp_ds_set_int) set_int = nullptr;
  decltype(&::netsnmp_set_mib_directory) set_mib_directory = nullptr;
  decltype(&::snmp_disable_log) disable_log = nullptr;
  decltype(&::netsnmp_register_loghandler) register_loghandler = nullptr;
  decltype(&::init_snmp) init_snmp = nullptr;
  if (!(bind("netsnmp_ds_set_boolean", set_boolean) && bind("netsnmp_ds_set_int", set_int) &&
        bind("netsnmp_set_mib_directory", set_mib_directory) &&
        bind("snmp_disable_log", disable_log) &&
        bind("netsnmp_register_loghandler", register_loghandler) && bind("init_snmp", init_snmp)))
    return false;
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
  // USM's salts come from OpenSSL's generator: main() made it the lighter
  // hash generator before any thread started.
  init_snmp("classroom-agent");
  return true;
}

bool fill(probes::Symbols& bind, NetSnmpApi& a) {
  return bind("snmp_sess_init", a.sess_init) && bind("snmp_sess_open", a.sess_open) &&
         bind("snmp_sess_close", a.sess_close) && bind("snmp_sess_session", a.sess_session) &&
         bind("snmp_sess_async_send", a.sess_async_send) && bind("snmp_sess_error", a.sess_error) &&
         bind("snmp_sess_select_info", a.sess_select_info) && bind("snmp_sess_read", a.sess_read) &&
         bind("snmp_sess_timeout", a.sess_timeout) && bind("snmp_pdu_create", a.pdu_create) &&
         bind("snmp_clone_pdu", a.clone_pdu) && bind("snmp_free_pdu", a.free_pdu) &&
         bind("snmp_add_null_var", a.add_null_var) && bind("snmp_api_errstring", a.api_errstring) &&
         bind("snmp_errstring", a.errstring) && bind("snmpv3_get_report_type", a.get_report_type) &&
         bind("generate_Ku", a.generate_ku) && bind("usm_get_user", a.usm_get_user) &&
         bind("usm_remove_user", a.usm_remove_user) && bind("usm_free_user", a.usm_free_user) &&
         bind("usm_create_user_from_session", a.usm_create_user_from_session) &&
         bind("snmp_errno", a.errno_of_open) && bind("usmHMACSHA1AuthProtocol", a.hmac_sha1_auth) &&
         bind("usmHMAC192SHA256AuthProtocol", a.hmac_sha256_auth) &&
         bind("usmAESPrivProtocol", a.aes_priv) && init(bind);
}

// net-snmp 5.9 (Debian 12 and 13: libsnmp40). Made on first use: nothing
// depends on the order of static initialisation. Never destroyed: a poller
// thread abandoned at exit may still ask it.
probes::SharedLibrary<NetSnmpApi>& netsnmp_library() {
  static auto* library =
      new probes::SharedLibrary<NetSnmpApi>("libnetsnmp.so.40", "libsnmp40", fill);
  return *library;
}

}  // namespace

const NetSnmpApi* load_netsnmp(std::string* error) {
  return netsnmp_library().load(error);
}

const NetSnmpApi& netsnmp() {
  return netsnmp_library().api();
}

}  // namespace classroom::drivers::snmp
