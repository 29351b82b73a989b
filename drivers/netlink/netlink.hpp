// A minimal netlink client: one socket, dump requests, multipart replies read
// into one reusable buffer, and a bounds-checked attribute walker. No libnl:
// the agent needs four requests (neighbours, routes, nl80211 interface/station/
// survey dumps and the generic-netlink family lookup), and this is less code
// than the glue libnl would need, with no extra shared library in the process.
//
// Everything a reply contains is outside input: every length is checked before
// a byte is read, a truncated attribute or message ends the walk (and says so),
// and nothing is allocated per message once the client is built.
#pragma once

#include <sys/types.h>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace classroom::drivers::netlink {

using Bytes = std::span<const uint8_t>;

// One attribute (struct nlattr): its type with the nested/byte-order flags
// masked off, and its payload.
struct Attr {
  uint16_t type = 0;
  Bytes payload;
};

// Walks the attributes in `data` (nlattr headers, 4-byte aligned). next()
// stops at the end, or at the first attribute whose header or declared length
// does not fit in what is left: truncated() then says so, and nothing past the
// buffer is ever read.
class AttrReader {
 public:
  explicit AttrReader(Bytes data) : data_(data) {}
  bool next(Attr& out);
  bool truncated() const { return truncated_; }

 private:
  Bytes data_;
  size_t pos_ = 0;
  bool truncated_ = false;
};

// The attributes of one level indexed by type, for types below N (higher
// types are ignored, a repeated type keeps the last one). A nested attribute
// is parsed again with its payload.
template <size_t N>
class AttrTable {
 public:
  explicit AttrTable(Bytes data) {
    AttrReader reader(data);
    Attr a;
    while (reader.next(a)) {
      if (a.type >= N) continue;
      // A zero-length attribute (a flag) still needs a non-null pointer.
      at_[a.type] = a.payload;
      present_[a.type] = true;
    }
    truncated_ = reader.truncated();
  }
  bool has(size_t type) const { return type < N && present_[type]; }
  Bytes operator[](size_t type) const { return has(type) ? at_[type] : Bytes{}; }
  bool truncated() const { return truncated_; }

 private:
  std::array<Bytes, N> at_{};
  std::array<bool, N> present_{};
  bool truncated_ = false;
};

// Fixed-size payloads in host byte order (as the kernel sends them); nullopt
// when the payload has another size (absent or malformed).
template <typename T>
std::optional<T> get(Bytes payload) {
  static_assert(std::is_trivially_copyable_v<T>);
  if (payload.size() != sizeof(T) || payload.data() == nullptr) return std::nullopt;
  T value;
  std::memcpy(&value, payload.data(), sizeof(T));
  return value;
}
// A NUL-terminated string attribute, without the NUL (and never past the payload).
std::string_view get_string(Bytes payload);

// One netlink message (struct nlmsghdr) and the bytes after its header.
struct Message {
  uint16_t type = 0;
  uint16_t flags = 0;
  uint32_t seq = 0;
  uint32_t port = 0;
  Bytes payload;
};

// Walks the messages in one datagram; truncated() as for attributes.
class MessageReader {
 public:
  explicit MessageReader(Bytes data) : data_(data) {}
  bool next(Message& out);
  bool truncated() const { return truncated_; }

 private:
  Bytes data_;
  size_t pos_ = 0;
  bool truncated_ = false;
};

// The payload of `message` after its family header (ndmsg, rtmsg,
// genlmsghdr): nullopt when the message is too short to hold it.
template <typename Header>
std::optional<Header> family_header(const Message& message) {
  if (message.payload.size() < sizeof(Header)) return std::nullopt;
  Header h;
  std::memcpy(&h, message.payload.data(), sizeof(Header));
  return h;
}
// The attributes that follow a family header of `header_size` bytes (aligned).
Bytes attributes_after(const Message& message, size_t header_size);

// A request built in a fixed buffer: nlmsghdr, a family header, attributes.
class Request {
 public:
  Request(uint16_t type, uint16_t flags);
  template <typename Header>
  void header(const Header& h) {
    append(&h, sizeof h);
  }
  void put_u16(uint16_t type, uint16_t value) { put(type, &value, sizeof value); }
  void put_u32(uint16_t type, uint32_t value) { put(type, &value, sizeof value); }
  void put_string(uint16_t type, std::string_view value);  // with its NUL
  void set_seq(uint32_t seq);
  std::span<const uint8_t> bytes() const { return {buffer_.data(), length_}; }
  bool overflowed() const { return overflow_; }

 private:
  void put(uint16_t type, const void* data, size_t size);
  void append(const void* data, size_t size);
  std::array<uint8_t, 256> buffer_{};
  size_t length_ = 0;
  bool overflow_ = false;
};

// Where requests go and replies come from: the kernel (SocketTransport) or,
// in tests, recorded replies.
class Transport {
 public:
  virtual ~Transport() = default;
  // Returns 0 or an errno.
  virtual int send(Bytes request) = 0;
  // One datagram into `buffer`: its length, or -errno (-EMSGSIZE when it did
  // not fit, -EAGAIN after the receive timeout).
  virtual ssize_t receive(std::span<uint8_t> buffer) = 0;
};

class SocketTransport final : public Transport {
 public:
  ~SocketTransport() override;
  // Opens a netlink socket of `protocol` (NETLINK_ROUTE, NETLINK_GENERIC);
  // returns 0 or an errno. Replies are waited for at most `timeout_ms`.
  int open(int protocol, int timeout_ms = 2000);
  int send(Bytes request) override;
  ssize_t receive(std::span<uint8_t> buffer) override;

 private:
  int fd_ = -1;
};

// A callable reference that never allocates (std::function may).
class OnMessage {
 public:
  template <typename F>
  OnMessage(F&& f)  // NOLINT: implicit on purpose; `f` outlives the call it is passed to
      : object_(const_cast<void*>(static_cast<const void*>(&f))),
        call_(
            [](void* o, const Message& m) { (*static_cast<std::remove_reference_t<F>*>(o))(m); }) {}
  void operator()(const Message& m) const { call_(object_, m); }

 private:
  void* object_;
  void (*call_)(void*, const Message&);
};

struct Result {
  int error = 0;           // an errno: the kernel's answer, or a transport failure
  bool truncated = false;  // a reply message was cut short (what came before it counted)
  bool ok() const { return error == 0 && !truncated; }
};

// Sends requests and reads their replies into one buffer it keeps.
class Client {
 public:
  explicit Client(std::unique_ptr<Transport> transport, size_t buffer_size = 32 * 1024);
  // Sends `request` (give it NLM_F_DUMP for a dump) and hands every reply
  // message of this request to `on_message`, until NLMSG_DONE, an error, or
  // (for a plain request) the end of the reply. Messages of earlier requests
  // that arrive late are skipped.
  Result request(Request& request, OnMessage on_message);

 private:
  std::unique_ptr<Transport> transport_;
  // Not zero-filled: the pages it costs are those the largest reply touched.
  std::unique_ptr<uint8_t[]> buffer_;
  size_t buffer_size_;
  uint32_t seq_ = 0;
};

// Generic netlink: the numeric id of family `name` ("nl80211"), 0 when the
// kernel has no such family (the module is not loaded), or -errno.
int resolve_family(Client& client, std::string_view name);

}  // namespace classroom::drivers::netlink
