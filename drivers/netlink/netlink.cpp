#include "netlink/netlink.hpp"

#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <cerrno>

namespace classroom::drivers::netlink {
namespace {

constexpr size_t align4(size_t n) {
  return (n + 3) & ~size_t{3};
}
constexpr size_t kAttrHeader = 4;                 // struct nlattr
constexpr size_t kMessageHeader = 16;             // struct nlmsghdr
constexpr uint16_t kTypeMask = 0x3fff;            // NLA_TYPE_MASK: drop nested/byte-order flags
constexpr int kMaxDatagramsPerRequest = 1 << 16;  // a reply that never ends is an error
static_assert(sizeof(nlmsghdr) == kMessageHeader);
static_assert(sizeof(nlattr) == kAttrHeader);

uint16_t load_u16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

}  // namespace

bool AttrReader::next(Attr& out) {
  if (truncated_ || pos_ >= data_.size()) return false;
  const size_t left = data_.size() - pos_;
  if (left < kAttrHeader) {
    truncated_ = true;
    return false;
  }
  const uint8_t* p = data_.data() + pos_;
  const uint16_t length = load_u16(p);
  if (length < kAttrHeader || length > left) {
    truncated_ = true;
    return false;
  }
  out.type = static_cast<uint16_t>(load_u16(p + 2) & kTypeMask);
  out.payload = Bytes(p + kAttrHeader, length - kAttrHeader);
  // The padding after the last attribute may be missing: never step past the end.
  pos_ += std::min(align4(length), left);
  return true;
}

std::string_view get_string(Bytes payload) {
  if (payload.data() == nullptr) return {};
  const char* s = reinterpret_cast<const char*>(payload.data());
  size_t n = 0;
  while (n < payload.size() && s[n] != '\0') ++n;
  return std::string_view(s, n);
}

bool MessageReader::next(Message& out) {
  if (truncated_ || pos_ >= data_.size()) return false;
  const size_t left = data_.size() - pos_;
  if (left < kMessageHeader) {
    truncated_ = true;
    return false;
  }
  nlmsghdr h;
  std::memcpy(&h, data_.data() + pos_, sizeof h);
  if (h.nlmsg_len < kMessageHeader || h.nlmsg_len > left) {
    truncated_ = true;
    return false;
  }
  out.type = h.nlmsg_type;
  out.flags = h.nlmsg_flags;
  out.seq = h.nlmsg_seq;
  out.port = h.nlmsg_pid;
  out.payload = Bytes(data_.data() + pos_ + kMessageHeader, h.nlmsg_len - kMessageHeader);
  pos_ += std::min(align4(h.nlmsg_len), left);
  return true;
}

Bytes attributes_after(const Message& message, size_t header_size) {
  const size_t skip = align4(header_size);
  if (message.payload.size() < skip) return {};
  return message.payload.subspan(skip);
}

Request::Request(uint16_t type, uint16_t flags) {
  nlmsghdr h{};
  h.nlmsg_type = type;
  h.nlmsg_flags = static_cast<uint16_t>(flags | NLM_F_REQUEST);
  append(&h, sizeof h);
}

void Request::append(const void* data, size_t size) {
  const size_t padded = align4(size);
  if (length_ + padded > buffer_.size()) {
    overflow_ = true;
    return;
  }
  std::memcpy(buffer_.data() + length_, data, size);
  std::memset(buffer_.data() + length_ + size, 0, padded - size);
  length_ += padded;
  const uint32_t total = static_cast<uint32_t>(length_);
  std::memcpy(buffer_.data(), &total, sizeof total);  // nlmsg_len
}

void Request::put(uint16_t type, const void* data, size_t size) {
  if (size > 0xffff - kAttrHeader || length_ + align4(kAttrHeader + size) > buffer_.size()) {
    overflow_ = true;
    return;
  }
  nlattr a{static_cast<uint16_t>(kAttrHeader + size), type};
  std::memcpy(buffer_.data() + length_, &a, sizeof a);
  length_ += kAttrHeader;
  append(data, size);
}

void Request::put_string(uint16_t type, std::string_view value) {
  std::array<char, 64> text{};
  if (value.size() >= text.size()) {
    overflow_ = true;
    return;
  }
  std::memcpy(text.data(), value.data(), value.size());
  put(type, text.data(), value.size() + 1);
}

void Request::set_seq(uint32_t seq) {
  std::memcpy(buffer_.data() + offsetof(nlmsghdr, nlmsg_seq), &seq, sizeof seq);
}

SocketTransport::~SocketTransport() {
  if (fd_ >= 0) ::close(fd_);
}

int SocketTransport::open(int protocol, int timeout_ms) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
  if (fd_ < 0) return errno;
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;  // nl_pid 0: the kernel picks our port id
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
    const int e = errno;
    ::close(fd_);
    fd_ = -1;
    return e;
  }
  return 0;
}

int SocketTransport::send(Bytes request) {
  if (fd_ < 0) return EBADF;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  for (;;) {
    ssize_t n = ::sendto(fd_, request.data(), request.size(), 0,
                         reinterpret_cast<sockaddr*>(&kernel), sizeof kernel);
    if (n >= 0) return 0;
    if (errno != EINTR) return errno;
  }
}

ssize_t SocketTransport::receive(std::span<uint8_t> buffer) {
  if (fd_ < 0) return -EBADF;
  for (;;) {
    // MSG_TRUNC: the datagram's real length, so a reply too big for the
    // buffer is an error instead of a silently cut message.
    ssize_t n = ::recv(fd_, buffer.data(), buffer.size(), MSG_TRUNC);
    if (n >= 0) return static_cast<size_t>(n) > buffer.size() ? -EMSGSIZE : n;
    if (errno == EINTR) continue;
    return errno == EWOULDBLOCK ? -EAGAIN : -errno;
  }
}

Client::Client(std::unique_ptr<Transport> transport, size_t buffer_size)
    : transport_(std::move(transport)),
      buffer_(new uint8_t[buffer_size]),
      buffer_size_(buffer_size) {}

Result Client::request(Request& request, OnMessage on_message) {
  Result result;
  if (request.overflowed()) {
    result.error = EMSGSIZE;
    return result;
  }
  const uint32_t seq = ++seq_;
  request.set_seq(seq);
  if (int e = transport_->send(request.bytes())) {
    result.error = e;
    return result;
  }
  for (int datagrams = 0; datagrams < kMaxDatagramsPerRequest; ++datagrams) {
    const ssize_t n = transport_->receive(std::span<uint8_t>(buffer_.get(), buffer_size_));
    if (n < 0) {
      result.error = static_cast<int>(-n);
      return result;
    }
    if (static_cast<size_t>(n) > buffer_size_) {  // a transport that broke its word
      result.error = EMSGSIZE;
      return result;
    }
    MessageReader reader(Bytes(buffer_.get(), static_cast<size_t>(n)));
    Message m;
    bool finished = false;
    bool ours = false;
    while (reader.next(m)) {
      if (m.seq != seq) continue;  // a late reply to an earlier request
      ours = true;
      if (m.type == NLMSG_DONE) {
        // A dump that failed half-way says why in the DONE's payload.
        if (auto e = get<int32_t>(m.payload.first(std::min<size_t>(4, m.payload.size())));
            e && *e < 0)
          result.error = -*e;
        return result;
      }
      if (m.type == NLMSG_ERROR) {
        auto e = get<int32_t>(m.payload.first(std::min<size_t>(4, m.payload.size())));
        if (!e)
          result.truncated = true;
        else if (*e < 0)
          result.error = -*e;
        return result;  // 0: an acknowledgement
      }
      on_message(m);
      if (!(m.flags & NLM_F_MULTI)) finished = true;
    }
    if (reader.truncated()) {
      result.truncated = true;
      return result;
    }
    if (finished && ours) return result;
  }
  result.error = EPROTO;
  return result;
}

int resolve_family(Client& client, std::string_view name) {
  Request request(GENL_ID_CTRL, 0);
  genlmsghdr g{};
  g.cmd = CTRL_CMD_GETFAMILY;
  g.version = 1;
  request.header(g);
  request.put_string(CTRL_ATTR_FAMILY_NAME, name);
  int id = 0;
  auto on_message = [&](const Message& m) {
    AttrTable<CTRL_ATTR_FAMILY_NAME + 1> attrs(attributes_after(m, sizeof(genlmsghdr)));
    if (auto v = get<uint16_t>(attrs[CTRL_ATTR_FAMILY_ID])) id = *v;
  };
  Result r = client.request(request, on_message);
  if (r.error == ENOENT) return 0;
  if (r.error) return -r.error;
  return id;
}

}  // namespace classroom::drivers::netlink
