#include "snmp_poller.hpp"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <poll.h>
#include <sys/select.h>
#include <unistd.h>
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

#include "netsnmp_api.hpp"
#include "probes/resolver.hpp"

namespace classroom::drivers::snmp {
namespace {

// Rows asked per column in one GETBULK (max-repetitions), per device and
// kept from poll to poll: it starts at kStartRepetitions; halves when the
// agent answers tooBig (and never grows past that size again) or a request
// goes unanswered (a device that cannot answer a large request in time);
// doubles while a table goes on past a whole answer, up to kMaxRepetitions
// and kMaxBulkValues values in one answer. Never more rows than the columns
// still need.
constexpr long kStartRepetitions = 10;
constexpr long kMaxRepetitions = 64;
constexpr size_t kMaxBulkValues = 256;
// A poll that needs more than this is refused (a runaway or looping agent).
constexpr size_t kMaxVarBinds = 200'000;
constexpr size_t kMaxRequests = 5'000;
// Values a poll makes room for before its walk (80 bytes each).
constexpr size_t kReservedVarBinds = 16'384;
// An octet string longer than this is cut: we publish at most 255 bytes.
constexpr size_t kMaxOctets = 1024;

int64_t wall_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

SnmpValue convert(const netsnmp_variable_list* v) {
  SnmpValue out;
  using T = SnmpValue::Type;
  switch (v->type) {
    case ASN_INTEGER:
      out.type = T::integer;
      out.i = v->val.integer ? static_cast<int64_t>(*v->val.integer) : 0;
      break;
    case ASN_COUNTER:
      out.type = T::counter32;
      out.u = v->val.integer ? (static_cast<uint64_t>(*v->val.integer) & 0xffffffffu) : 0;
      break;
    case ASN_GAUGE:
      out.type = T::gauge32;
      out.u = v->val.integer ? (static_cast<uint64_t>(*v->val.integer) & 0xffffffffu) : 0;
      break;
    case ASN_TIMETICKS:
      out.type = T::timeticks;
      out.u = v->val.integer ? (static_cast<uint64_t>(*v->val.integer) & 0xffffffffu) : 0;
      break;
    case ASN_COUNTER64:
      out.type = T::counter64;
      if (v->val.counter64)
        out.u = (static_cast<uint64_t>(v->val.counter64->high) << 32) |
                (v->val.counter64->low & 0xffffffffu);
      break;
    case ASN_OCTET_STR:
      out.type = T::octets;
      if (v->val.string)
        out.s.assign(reinterpret_cast<const char*>(v->val.string),
                     std::min(v->val_len, kMaxOctets));
      break;
    case ASN_OBJECT_ID: {
      out.type = T::object_id;
      Oid o;
      const size_t n = v->val.objid ? v->val_len / sizeof(::oid) : 0;
      for (size_t i = 0; i < n && i < MAX_OID_LEN; ++i)
        o.push_back(static_cast<uint32_t>(v->val.objid[i]));
      out.s = format_oid(o);
      break;
    }
    case SNMP_NOSUCHOBJECT:
    case SNMP_NOSUCHINSTANCE:
    case SNMP_ENDOFMIBVIEW:
      out.type = T::missing;
      break;
    default:
      out.type = T::other;
      break;
  }
  return out;
}

Oid to_oid(const ::oid* name, size_t len) {
  Oid o;
  o.reserve(len);
  for (size_t i = 0; i < len; ++i) o.push_back(static_cast<uint32_t>(name[i]));
  return o;
}

void add_null(netsnmp_pdu* pdu, const Oid& o) {
  ::oid name[MAX_OID_LEN];
  const size_t n = std::min<size_t>(o.size(), MAX_OID_LEN);
  for (size_t i = 0; i < n; ++i) name[i] = o[i];
  netsnmp().add_null_var(pdu, name, n);
}

}  // namespace

std::string describe(const PollResult& r, bool v3) {
  using S = PollResult::Status;
  switch (r.status) {
    case S::ok:
      return "answers";
    case S::no_answer:
      return v3 ? "no answer (host down, or a firewall?)"
                : "no answer (wrong community or host down?)";
    case S::partial:
      return "answers partly: " + std::to_string(r.lost) + " of " + std::to_string(r.sent) +
             " requests lost";
    case S::wrong_digest:
      return "authentication failed: wrong auth password or auth protocol (usmStatsWrongDigests)";
    case S::unknown_user:
      return "unknown SNMPv3 user (usmStatsUnknownUserNames)";
    case S::decryption:
      return "wrong priv password or priv protocol (usmStatsDecryptionErrors)";
    case S::error:
      return r.error;
  }
  return r.error;
}

struct Poller::Impl {
  // One device's poll in progress. Every step waits in the thread's select,
  // never inside a call: so the thread can stop at once, whatever the device.
  enum class Phase {
    resolving,    // the host name, by c-ares
    discovering,  // v3: the agent's engine ID, asked without credentials
    waiting,      // v3: another poll is using the same engine and user
    polling,      // the GET, then the walk
  };
  struct Active {
    Impl* impl = nullptr;
    size_t device = 0;
    void* session = nullptr;
    Phase phase = Phase::resolving;
    uint64_t resolving = 0;   // the resolver's id
    bool holds_user = false;  // v3: this poll's keys are in net-snmp's user list
    PollResult result;
    bool in_walk = false;
    size_t scalars = 0;       // values of the GET before the walk
    std::vector<Oid> cursor;  // per column: the last OID seen
    std::vector<bool> done;
    std::vector<size_t> rows;  // per column: rows taken
    long asked = 0;            // max-repetitions of the GETBULK in flight
    size_t requests = 0;
    bool finished = false;
    // The request in flight, kept to send it again if it is lost.
    netsnmp_pdu* last = nullptr;
    int tries = 0;  // resends of `last` so far
    bool answered = false;
    ~Active() {
      if (last) netsnmp().free_pdu(last);  // a request implies a loaded library
    }
  };

  std::vector<Target> targets;
  // Per device, the poller thread's own: max-repetitions for its next
  // GETBULK, and the most it may grow to (lowered by a tooBig).
  std::vector<long> repetitions, ceilings;
  // Per device, the poller thread's own: the values its last complete walk
  // returned (0: none yet, or a new plan), the room the next one makes.
  std::vector<size_t> last_walk;
  size_t max_parallel;
  std::function<void()> wake;

  std::mutex mutex;
  std::deque<size_t> queued;
  std::vector<bool> busy;  // queued or running
  std::vector<std::optional<PollPlan>>
      plans;  // set_plan's, taken when the device's next poll starts
  std::vector<PollResult> finished;
  bool stopping = false;
  int wake_pipe[2] = {-1, -1};
  std::thread thread;

  std::vector<std::unique_ptr<Active>> active;  // the poller thread's own
  probes::Resolver resolver;                    // the poller thread's own

  void finish(Active& a, PollResult::Status status, std::string error = {}) {
    a.finished = true;
    a.result.status = status;
    a.result.error = std::move(error);
    if (status != PollResult::Status::ok)
      a.result.vars.clear();
    else if (a.in_walk)
      last_walk[a.device] = a.result.vars.size() - a.scalars;
  }

  bool send_walk(Active& a) {
    netsnmp_pdu* pdu = netsnmp().pdu_create(SNMP_MSG_GETBULK);
    pdu->non_repeaters = 0;
    size_t n = 0;
    const PollPlan& plan = targets[a.device].plan;
    for (size_t c = 0; c < plan.columns.size(); ++c)
      if (!a.done[c]) {
        add_null(pdu, a.cursor[c]);
        ++n;
      }
    if (n == 0) {
      netsnmp().free_pdu(pdu);
      finish(a, PollResult::Status::ok);
      return true;
    }
    // No more rows than a column still needs (when every one has a limit).
    size_t need = 0;
    for (size_t c = 0; c < plan.columns.size(); ++c)
      if (!a.done[c]) {
        const size_t limit = plan.rows_of(c);
        need = limit == 0 ? SIZE_MAX : std::max(need, limit - std::min(limit, a.rows[c]));
      }
    const long reps = std::max<long>(1, repetitions[a.device]);
    a.asked =
        static_cast<long>(std::min<size_t>(static_cast<size_t>(reps), std::max<size_t>(1, need)));
    pdu->max_repetitions = a.asked;
    return send(a, pdu);
  }

  bool send(Active& a, netsnmp_pdu* pdu) {
    if (++a.requests > kMaxRequests) {
      netsnmp().free_pdu(pdu);
      finish(a, PollResult::Status::error, "more than 5000 requests in one poll; gave up");
      return false;
    }
    netsnmp().free_pdu(a.last);
    a.last = netsnmp().clone_pdu(pdu);  // the library frees `pdu` once it is answered
    ++a.result.sent;
    if (netsnmp().sess_async_send(a.session, pdu, &Impl::callback, &a) == 0) {
      int liberr = 0, syserr = 0;
      char* text = nullptr;
      netsnmp().sess_error(a.session, &liberr, &syserr, &text);
      // A send that timed out is no answer. (v3 sessions carry DONT_PROBE, so
      // net-snmp does not discover the engine inside the send; the error, if
      // any, is in the session's own errno, not in snmp_sess_error's.)
      const netsnmp_session* sess = netsnmp().sess_session(a.session);
      if (liberr == SNMPERR_TIMEOUT || (sess && sess->s_snmp_errno == SNMPERR_TIMEOUT))
        finish(a, PollResult::Status::no_answer);
      else
        finish(a, PollResult::Status::error,
               std::string("cannot send: ") + (text ? text : "unknown error"));
      free(text);
      netsnmp().free_pdu(pdu);
      return false;
    }
    return true;
  }

  static int callback(int op, netsnmp_session*, int, netsnmp_pdu* pdu, void* magic) {
    auto* a = static_cast<Active*>(magic);
    a->impl->on_answer(*a, op, pdu);
    return 1;
  }

  // A request went unanswered: sent again within the target's retries; then
  // the poll ends, as no answer if the device said nothing at all.
  void on_lost(Active& a) {
    ++a.result.lost;
    if (a.tries < targets[a.device].retries && a.last) {
      ++a.tries;
      if (a.in_walk && a.asked > 1) {
        // Asked again for fewer rows: a device too slow for a large answer.
        repetitions[a.device] = std::max<long>(1, a.asked / 2);
        send_walk(a);
        return;
      }
      if (netsnmp_pdu* again = netsnmp().clone_pdu(a.last)) {
        send(a, again);
        return;
      }
    }
    finish(a, a.answered ? PollResult::Status::partial : PollResult::Status::no_answer);
  }

  void on_answer(Active& a, int op, netsnmp_pdu* pdu) {
    using S = PollResult::Status;
    if (a.finished) return;  // net-snmp calls again for the same report
    if (a.phase == Phase::discovering) return on_discovery(a, op, pdu);
    if (a.phase != Phase::polling) return;  // the discovery's report, the second call
    if (op == NETSNMP_CALLBACK_OP_TIMED_OUT) return on_lost(a);
    a.answered = true;
    a.tries = 0;
    if (op == NETSNMP_CALLBACK_OP_SEC_ERROR || (pdu && pdu->command == SNMP_MSG_REPORT))
      return on_report(a, pdu);
    if (op != NETSNMP_CALLBACK_OP_RECEIVED_MESSAGE || !pdu)
      return finish(a, S::error, "cannot send the request");
    if (pdu->errstat == SNMP_ERR_TOOBIG && a.in_walk && a.asked > 1) {
      // Its answer would not fit the agent's buffer: fewer rows, from now on.
      repetitions[a.device] = std::max<long>(1, a.asked / 2);
      ceilings[a.device] = repetitions[a.device];
      send_walk(a);
      return;
    }
    if (pdu->errstat != SNMP_ERR_NOERROR)
      return finish(a, S::error,
                    std::string("the agent answered with an error: ") +
                        netsnmp().errstring(static_cast<int>(pdu->errstat)));
    if (!a.in_walk) return start_walk(a, pdu);
    on_rows(a, pdu);
  }

  // An SNMPv3 report instead of an answer: why the device refused the request.
  void on_report(Active& a, netsnmp_pdu* pdu) {
    using S = PollResult::Status;
    const int report = pdu ? netsnmp().get_report_type(pdu) : SNMPERR_GENERR;
    switch (report) {
      case SNMPERR_AUTHENTICATION_FAILURE:
        return finish(a, S::wrong_digest);
      case SNMPERR_UNKNOWN_USER_NAME:
        return finish(a, S::unknown_user);
      case SNMPERR_DECRYPTION_ERR:
        return finish(a, S::decryption);
      default:
        return finish(a, S::error,
                      std::string("SNMPv3 report: ") + netsnmp().api_errstring(report));
    }
  }

  // The scalars' answer: kept, and the walk of the plan's columns begins.
  void start_walk(Active& a, netsnmp_pdu* pdu) {
    const PollPlan& plan = targets[a.device].plan;
    for (netsnmp_variable_list* v = pdu->variables; v; v = v->next_variable)
      a.result.vars.push_back(VarBind{to_oid(v->name, v->name_length), convert(v)});
    a.in_walk = true;
    a.scalars = a.result.vars.size();
    // Room for the whole walk at once (up to a bound): grown step by step,
    // the vector would hold its old and new copies at each step. Once the
    // device has answered a whole walk of this plan, room for as many values
    // as then and 16 more (a table that grew further grows the vector as
    // before). Room for every row the plan allows, at every poll, was some
    // 130 KiB for a device with four interfaces (the system and interfaces
    // profiles; more with host and ups): past malloc's mmap threshold, so
    // mapped and faulted in page by page here, and unmapped on the loop (a
    // TLB flush on the cores running the agent), at every poll.
    size_t room =
        plan.max_rows > 0 ? std::min(kReservedVarBinds, plan.columns.size() * plan.max_rows) : 0;
    if (const size_t last = last_walk[a.device]; last > 0) room = std::min(room, last + 16);
    a.result.vars.reserve(a.result.vars.size() + room);
    a.cursor = plan.columns;
    a.done.assign(plan.columns.size(), false);
    a.rows.assign(plan.columns.size(), 0);
    send_walk(a);
  }

  // A GETBULK answer: row after row of the columns still being walked.
  void on_rows(Active& a, netsnmp_pdu* pdu) {
    const PollPlan& plan = targets[a.device].plan;
    std::vector<size_t> cols;
    for (size_t c = 0; c < plan.columns.size(); ++c)
      if (!a.done[c]) cols.push_back(c);
    size_t k = 0;
    for (netsnmp_variable_list* v = pdu->variables; v && !cols.empty(); v = v->next_variable, ++k) {
      const size_t c = cols[k % cols.size()];
      if (a.done[c]) continue;
      Oid oid = to_oid(v->name, v->name_length);
      if (v->type == SNMP_ENDOFMIBVIEW || !oid_below(oid, plan.columns[c]) ||
          !(a.cursor[c] < oid)) {
        a.done[c] = true;  // past the column's end (or an agent going backwards)
        continue;
      }
      a.cursor[c] = oid;
      a.result.vars.push_back(VarBind{std::move(oid), convert(v)});
      if (const size_t limit = plan.rows_of(c); limit && ++a.rows[c] >= limit)
        a.done[c] = true;  // enough rows
    }
    if (k == 0) std::fill(a.done.begin(), a.done.end(), true);  // an empty answer
    grow_repetitions(a, cols, k);
    if (a.result.vars.size() > kMaxVarBinds)
      return finish(a, PollResult::Status::error, "more than 200000 values in one poll; gave up");
    send_walk(a);
  }

  // Every column asked got all its rows and goes on: a long table, asked
  // for more rows at once next time (within the bounds).
  void grow_repetitions(const Active& a, const std::vector<size_t>& cols, size_t answered) {
    if (!cols.empty() && answered >= cols.size() * static_cast<size_t>(a.asked) &&
        a.asked == repetitions[a.device] &&
        std::any_of(cols.begin(), cols.end(), [&](size_t c) { return !a.done[c]; })) {
      const long most =
          std::min<long>({ceilings[a.device], kMaxRepetitions,
                          static_cast<long>(std::max<size_t>(1, kMaxBulkValues / cols.size()))});
      repetitions[a.device] = std::max(repetitions[a.device], std::min(most, a.asked * 2));
    }
  }

  // Opens the session to `address`. v3: without net-snmp's own discovery of
  // the agent's engine, which would wait for the answer inside this call.
  bool open(Active& a, const probes::Address& address) {
    std::string missing;
    if (!load_netsnmp(&missing)) {
      finish(a, PollResult::Status::error, missing);
      return false;
    }
    const Target& t = targets[a.device];
    netsnmp_session s;
    netsnmp().sess_init(&s);
    const std::string ip = probes::to_string(address);
    std::string peer = (address.family() == AF_INET6 ? "udp6:[" + ip + "]" : "udp:" + ip) + ":" +
                       std::to_string(t.port);
    s.peername = peer.data();
    s.timeout = t.timeout_ms * 1000;
    s.retries = 0;  // a poll is one try; `retries` counts polls (presence)
    std::string community = t.community;
    if (!t.v3) {
      s.version = SNMP_VERSION_2c;
      s.community = reinterpret_cast<u_char*>(community.data());
      s.community_len = community.size();
    } else {
      s.version = SNMP_VERSION_3;
      s.flags |= SNMP_FLAGS_DONT_PROBE;  // discover() asks; the loop waits for the answer
      s.securityName = const_cast<char*>(t.user.c_str());
      s.securityNameLen = t.user.size();
      s.securityLevel = t.priv ? SNMP_SEC_LEVEL_AUTHPRIV : SNMP_SEC_LEVEL_AUTHNOPRIV;
      s.securityAuthProto = t.sha256 ? netsnmp().hmac_sha256_auth : netsnmp().hmac_sha1_auth;
      s.securityAuthProtoLen = 10;
      s.securityAuthKeyLen = USM_AUTH_KU_LEN;
      if (netsnmp().generate_ku(s.securityAuthProto, static_cast<u_int>(s.securityAuthProtoLen),
                                reinterpret_cast<const u_char*>(t.auth_password.data()),
                                t.auth_password.size(), s.securityAuthKey,
                                &s.securityAuthKeyLen) != SNMPERR_SUCCESS) {
        finish(a, PollResult::Status::error, "cannot derive the SNMPv3 auth key");
        return false;
      }
      if (t.priv) {
        s.securityPrivProto = netsnmp().aes_priv;
        s.securityPrivProtoLen = 10;
        s.securityPrivKeyLen = USM_PRIV_KU_LEN;
        if (netsnmp().generate_ku(s.securityAuthProto, static_cast<u_int>(s.securityAuthProtoLen),
                                  reinterpret_cast<const u_char*>(t.priv_password.data()),
                                  t.priv_password.size(), s.securityPrivKey,
                                  &s.securityPrivKeyLen) != SNMPERR_SUCCESS) {
          finish(a, PollResult::Status::error, "cannot derive the SNMPv3 priv key");
          return false;
        }
      }
    }
    a.session = netsnmp().sess_open(&s);
    // The keys were copied into the session; do not leave them on the stack.
    OPENSSL_cleanse(s.securityAuthKey, sizeof s.securityAuthKey);
    OPENSSL_cleanse(s.securityPrivKey, sizeof s.securityPrivKey);
    if (!a.session) {
      const int err = s.s_snmp_errno ? s.s_snmp_errno : *netsnmp().errno_of_open;
      finish(a, PollResult::Status::error,
             std::string("cannot open an SNMP session: ") + netsnmp().api_errstring(err));
      return false;
    }
    // The open clears the flag, and the first send would then probe.
    if (t.v3) netsnmp().sess_session(a.session)->flags |= SNMP_FLAGS_DONT_PROBE;
    return true;
  }

  // v3: asks the agent for its engine ID as net-snmp's own probe does (a GET
  // without user or credentials, answered by a report), but asynchronously.
  void discover(Active& a) {
    a.phase = Phase::discovering;
    netsnmp_pdu* pdu = netsnmp().pdu_create(SNMP_MSG_GET);
    pdu->version = SNMP_VERSION_3;
    pdu->securityName = strdup("");
    pdu->securityNameLen = 0;
    pdu->securityLevel = SNMP_SEC_LEVEL_NOAUTH;
    pdu->securityModel = SNMP_SEC_MODEL_USM;
    send(a, pdu);
  }

  static void set_id(u_char*& id, size_t& len, const u_char* from, size_t n) {
    free(id);
    id = static_cast<u_char*>(malloc(n));  // net-snmp frees it with the session
    len = id ? n : 0;
    if (id) std::memcpy(id, from, n);
  }

  // The report comes as a security error (usmStatsUnknownEngineIDs), then
  // once more as a received message.
  void on_discovery(Active& a, int op, netsnmp_pdu* pdu) {
    using S = PollResult::Status;
    if (op == NETSNMP_CALLBACK_OP_TIMED_OUT) return on_lost(a);  // sent again, as any request
    netsnmp_session* s = netsnmp().sess_session(a.session);
    if (!pdu || !s || pdu->securityEngineIDLen == 0)
      return finish(a, S::error, "the agent's answer carries no SNMPv3 engine ID");
    if (s->securityEngineIDLen == 0)
      set_id(s->securityEngineID, s->securityEngineIDLen, pdu->securityEngineID,
             pdu->securityEngineIDLen);
    if (s->contextEngineIDLen == 0)
      set_id(s->contextEngineID, s->contextEngineIDLen, pdu->securityEngineID,
             pdu->securityEngineIDLen);
    a.answered = true;         // the device answers: a later loss is "partly", not "no answer"
    a.tries = 0;               // the requests of the poll get their own resends
    a.phase = Phase::waiting;  // start_waiting() goes on when its user is free
  }

  // net-snmp keeps v3 keys in one user list for the whole process, per engine
  // and user name, not per session, and never replaces keys it has. So a poll
  // puts its own keys there when it starts and takes them out when it ends,
  // and only one poll per engine and user runs at a time: each device
  // authenticates with its own password, the one its config has now.
  static bool same_user(const netsnmp_session& x, const netsnmp_session& y) {
    return x.securityEngineIDLen == y.securityEngineIDLen &&
           std::memcmp(x.securityEngineID, y.securityEngineID, x.securityEngineIDLen) == 0 &&
           std::strcmp(x.securityName, y.securityName) == 0;
  }

  bool user_busy(const Active& a) const {
    const netsnmp_session* s = netsnmp().sess_session(a.session);
    for (const auto& b : active)
      if (b.get() != &a && b->holds_user && same_user(*s, *netsnmp().sess_session(b->session)))
        return true;
    return false;
  }

  static void forget_user(const netsnmp_session& s) {
    usmUser* u = netsnmp().usm_get_user(s.securityEngineID, s.securityEngineIDLen, s.securityName);
    if (u && u->name && std::strcmp(u->name, s.securityName) == 0 && netsnmp().usm_remove_user(u))
      netsnmp().usm_free_user(u);
  }

  void authenticate(Active& a) {
    netsnmp_session* s = netsnmp().sess_session(a.session);
    forget_user(*s);
    s->flags &= ~SNMP_FLAGS_USER_CREATED;
    if (netsnmp().usm_create_user_from_session(s) != SNMPERR_SUCCESS)
      return finish(a, PollResult::Status::error, "cannot set up the SNMPv3 user's keys");
    a.holds_user = true;
    send_get(a);
  }

  void start_waiting() {
    for (auto& a : active)
      if (a->phase == Phase::waiting && !a->finished && !user_busy(*a)) authenticate(*a);
  }

  void send_get(Active& a) {
    a.phase = Phase::polling;
    netsnmp_pdu* pdu = netsnmp().pdu_create(SNMP_MSG_GET);
    for (const Oid& o : targets[a.device].plan.gets) add_null(pdu, o);
    send(a, pdu);
  }

  void resolved(Active& a, const std::vector<probes::Address>& found, const std::string& error) {
    const Target& t = targets[a.device];
    if (found.empty())
      return finish(a, PollResult::Status::error, "cannot resolve " + t.host + ": " + error);
    if (!open(a, found.front())) return;
    if (t.v3)
      discover(a);
    else
      send_get(a);
  }

  void start(size_t device) {
    auto owned = std::make_unique<Active>();
    Active& a = *owned;
    a.impl = this;
    a.device = device;
    a.result.device = device;
    a.result.started_ms = wall_ms();
    active.push_back(std::move(owned));
    // A numeric address is resolved at once; a host name by c-ares, in the loop.
    a.resolving = resolver.resolve(
        targets[device].host,
        [this, &a](std::vector<probes::Address> found, std::string e) { resolved(a, found, e); });
  }

  // Ends what a poll holds: its resolution, its keys, its session.
  void release(Active& a) {
    if (a.phase == Phase::resolving) resolver.cancel(a.resolving);
    if (!a.session) return;
    if (a.holds_user) forget_user(*netsnmp().sess_session(a.session));
    netsnmp().sess_close(a.session);
    a.session = nullptr;
  }

  void run() {
    for (;;) {
      {
        std::lock_guard lock(mutex);
        if (stopping) break;
        while (!queued.empty() && active.size() < max_parallel) {
          const size_t d = queued.front();
          queued.pop_front();
          if (plans[d]) {
            targets[d].plan = std::move(*plans[d]);
            plans[d].reset();
            last_walk[d] = 0;  // its first walk makes room for the plan's rows
          }
          mutex.unlock();
          start(d);
          mutex.lock();
        }
      }
      start_waiting();
      reap();
      wait_and_read();
      reap();
    }
    for (auto& a : active) release(*a);
    active.clear();
  }

  // Waits for an answer, a request's timeout, the resolver, or new work; then
  // lets net-snmp and c-ares handle what came.
  void wait_and_read() {
    fd_set readable, writable;
    FD_ZERO(&readable);
    FD_ZERO(&writable);
    int nfds = wake_pipe[0] + 1;
    FD_SET(wake_pipe[0], &readable);
    struct timeval timeout {
      1, 0
    };
    for (auto& a : active) {
      if (a->finished || !a->session) continue;
      int block = 0;
      struct timeval t {
        1, 0
      };
      netsnmp().sess_select_info(a->session, &nfds, &readable, &t, &block);
      if (!block && timercmp(&t, &timeout, <)) timeout = t;
    }
    std::vector<probes::Wait> waits;
    resolver.wants(waits);
    for (const probes::Wait& w : waits) {
      if (w.events & POLLIN) FD_SET(w.fd, &readable);
      if (w.events & POLLOUT) FD_SET(w.fd, &writable);
      nfds = std::max(nfds, w.fd + 1);
    }
    if (const int64_t ms = resolver.next_wake(0);
        ms < timeout.tv_sec * 1000 + timeout.tv_usec / 1000)
      timeout = {static_cast<time_t>(ms / 1000), static_cast<suseconds_t>(ms % 1000 * 1000)};
    const int n = select(nfds, &readable, &writable, nullptr, &timeout);
    if (n > 0 && FD_ISSET(wake_pipe[0], &readable)) {
      char buf[64];
      while (::read(wake_pipe[0], buf, sizeof buf) > 0) {
      }
    }
    for (size_t i = 0; i < active.size(); ++i) {
      Active& a = *active[i];
      if (a.finished || !a.session) continue;
      if (n > 0) netsnmp().sess_read(a.session, &readable);
      if (!a.finished) netsnmp().sess_timeout(a.session);
    }
    for (const probes::Wait& w : waits) {
      const short revents = static_cast<short>((FD_ISSET(w.fd, &readable) ? POLLIN : 0) |
                                               (FD_ISSET(w.fd, &writable) ? POLLOUT : 0));
      if (n > 0 && revents) resolver.on_ready(w.fd, revents);
    }
    resolver.on_time();
  }

  // Hands finished polls to the loop.
  void reap() {
    bool any = false;
    for (size_t i = 0; i < active.size();) {
      if (!active[i]->finished) {
        ++i;
        continue;
      }
      release(*active[i]);
      {
        std::lock_guard lock(mutex);
        busy[active[i]->device] = false;
        finished.push_back(std::move(active[i]->result));
      }
      active.erase(active.begin() + static_cast<std::ptrdiff_t>(i));
      any = true;
    }
    if (any && wake) wake();
  }

  void poke() {
    const char c = 1;
    [[maybe_unused]] ssize_t r = ::write(wake_pipe[1], &c, 1);
  }
};

Poller::Poller(std::vector<Target> targets, size_t max_parallel, std::function<void()> wake)
    : impl_(std::make_unique<Impl>()) {
  load_netsnmp();  // here, on the caller's thread; a poll reports it if it failed
  impl_->targets = std::move(targets);
  impl_->max_parallel = std::max<size_t>(1, max_parallel);
  impl_->wake = std::move(wake);
  impl_->busy.assign(impl_->targets.size(), false);
  impl_->repetitions.assign(impl_->targets.size(), kStartRepetitions);
  impl_->ceilings.assign(impl_->targets.size(), kMaxRepetitions);
  impl_->last_walk.assign(impl_->targets.size(), 0);
  impl_->plans.resize(impl_->targets.size());
  if (::pipe2(impl_->wake_pipe, O_NONBLOCK | O_CLOEXEC) != 0) impl_->wake_pipe[0] = -1;
  impl_->thread = std::thread([this] { impl_->run(); });
}

Poller::~Poller() {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopping = true;
  }
  impl_->poke();
  impl_->thread.join();
  ::close(impl_->wake_pipe[0]);
  ::close(impl_->wake_pipe[1]);
  for (Target& t : impl_->targets) {
    OPENSSL_cleanse(t.community.data(), t.community.size());
    OPENSSL_cleanse(t.auth_password.data(), t.auth_password.size());
    OPENSSL_cleanse(t.priv_password.data(), t.priv_password.size());
  }
}

void Poller::request(size_t device) {
  {
    std::lock_guard lock(impl_->mutex);
    if (device >= impl_->busy.size() || impl_->busy[device]) return;
    impl_->busy[device] = true;
    impl_->queued.push_back(device);
  }
  impl_->poke();
}

void Poller::set_plan(size_t device, PollPlan plan) {
  std::lock_guard lock(impl_->mutex);
  if (device < impl_->plans.size()) impl_->plans[device] = std::move(plan);
}

void Poller::take(std::vector<PollResult>& out) {
  std::lock_guard lock(impl_->mutex);
  for (PollResult& r : impl_->finished) out.push_back(std::move(r));
  impl_->finished.clear();
}

}  // namespace classroom::drivers::snmp
