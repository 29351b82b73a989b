#pragma once

#include <cstddef>
#include <cstdint>

namespace classroom {

// CRC-32 (IEEE 802.3, as zlib), continuing from `crc` (0 to start).
uint32_t crc32(const void* data, size_t size, uint32_t crc = 0);

}  // namespace classroom
