// SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104), self-contained: the
// inventory hashes a few hundred MAC addresses a cycle, which does not justify
// linking libcrypto directly (it is in the process only as Paho's dependency,
// and its HMAC API changed between OpenSSL 1.1 and 3). Checked against the
// FIPS 180-2 examples and the RFC 4231 test vectors.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace classroom::drivers::lan {

using Digest = std::array<uint8_t, 32>;

class Sha256 {
 public:
  Sha256();
  void update(std::span<const uint8_t> data);
  Digest finish();

 private:
  void block(const uint8_t* p);
  std::array<uint32_t, 8> h_;
  std::array<uint8_t, 64> buffer_{};
  size_t buffered_ = 0;
  uint64_t length_ = 0;  // bytes
};

Digest sha256(std::span<const uint8_t> data);

// HMAC-SHA256 with the key prepared once (the states after the padded key),
// so each message costs two compressions less.
class HmacSha256 {
 public:
  explicit HmacSha256(std::span<const uint8_t> key);
  Digest operator()(std::span<const uint8_t> message) const;

 private:
  Sha256 inner_, outer_;  // after the padded key
};

}  // namespace classroom::drivers::lan
