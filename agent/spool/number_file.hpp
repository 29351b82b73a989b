// A small state file holding one number (bdSeq, the spool's committed id),
// replaced atomically so a crash leaves the old value or the new, never half.
// Read strictly: one to twenty decimal digits that fit in 64 bits, optionally
// followed by one newline. Anything else ("-5", "1e3", " 7", an overflowing
// number, garbage) is damaged, never a number.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "spool/file_io.hpp"

namespace classroom {

struct NumberFile {
  enum class State { missing, damaged, ok };
  State state = State::missing;
  uint64_t value = 0;  // when ok
  std::string reason;  // when damaged: what is wrong, safe to log
};

// The number `text` holds, under the strict rule above.
std::optional<uint64_t> parse_number_text(std::string_view text);

// Reads a file of at most `max_bytes` (up to kMaxNumberFileBytes) with `parse`.
constexpr size_t kMaxNumberFileBytes = 64;
NumberFile read_number_file(FileIo& io, const std::string& path, size_t max_bytes = 21,
                            std::optional<uint64_t> (*parse)(std::string_view) = parse_number_text);
// The number in `path`; nullopt if the file is missing or damaged.
std::optional<uint64_t> read_number_file(const std::string& path);

// Writes `n` bytes to `path` via `path`.tmp and rename, so that a crash
// leaves the old content or the new; with `sync`, the data is on disk before
// the rename and the rename is on disk before it returns. Names are made on
// the stack (the spool's loop allocates nothing once warm).
bool replace_file(FileIo& io, const std::string& path, const void* data, size_t n, bool sync);

// Writes `value` to `path` via `path`.tmp and rename; with `sync`, the data is
// on disk before the rename and the rename is on disk before it returns.
// Returns false if any step failed.
bool write_number_file(FileIo& io, const std::string& path, uint64_t value, bool sync);
bool write_number_file(const std::string& path, uint64_t value, bool sync);

}  // namespace classroom
