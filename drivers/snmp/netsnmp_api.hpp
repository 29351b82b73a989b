// net-snmp, loaded with dlopen when the first SNMP device's poller starts (a
// gateway with no [[devices.snmp]] never maps it: see docs/performance.md).
// The functions and data the poller uses, filled once by load_netsnmp().
#pragma once

// clang-format off
#include <net-snmp/net-snmp-config.h>
#include <net-snmp/net-snmp-includes.h>
// clang-format on

#include <string>

namespace classroom::drivers::snmp {

struct NetSnmpApi {
  decltype(&::snmp_sess_init) sess_init;
  decltype(&::snmp_sess_open) sess_open;
  decltype(&::snmp_sess_close) sess_close;
  decltype(&::snmp_sess_session) sess_session;
  decltype(&::snmp_sess_async_send) sess_async_send;
  decltype(&::snmp_sess_error) sess_error;
  decltype(&::snmp_sess_select_info) sess_select_info;
  decltype(&::snmp_sess_read) sess_read;
  decltype(&::snmp_sess_timeout) sess_timeout;
  decltype(&::snmp_pdu_create) pdu_create;
  decltype(&::snmp_clone_pdu) clone_pdu;
  decltype(&::snmp_free_pdu) free_pdu;
  decltype(&::snmp_add_null_var) add_null_var;
  decltype(&::snmp_api_errstring) api_errstring;
  decltype(&::snmp_errstring) errstring;
  decltype(&::snmpv3_get_report_type) get_report_type;
  decltype(&::generate_Ku) generate_ku;
  decltype(&::usm_get_user) usm_get_user;
  decltype(&::usm_remove_user) usm_remove_user;
  decltype(&::usm_free_user) usm_free_user;
  decltype(&::usm_create_user_from_session) usm_create_user_from_session;
  // The library's data: the last error of snmp_sess_open, the protocol OIDs
  // (10 numbers each).
  int* errno_of_open;
  oid* hmac_sha1_auth;
  oid* hmac_sha256_auth;
  oid* aes_priv;
};

// Loads libnetsnmp.so.40 once (thread-safe) and initialises it for the agent
// (no snmp.conf, no MIBs, no persistent state, no logging); nullptr, with
// `error` set, when it cannot. Every later call returns the same table.
const NetSnmpApi* load_netsnmp(std::string* error = nullptr);
// The loaded table; only after a successful load_netsnmp() (an open session
// implies one).
const NetSnmpApi& netsnmp();

}  // namespace classroom::drivers::snmp
