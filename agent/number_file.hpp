// A small state file holding one number (bdSeq, the spool's committed id),
// replaced atomically so a crash leaves the old value or the new, never half.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace classroom {

// The number in `path`; nullopt if the file is missing or does not hold one.
std::optional<uint64_t> read_number_file(const std::string& path);

// Writes `value` to `path` via `path`.tmp and rename; with `sync`, the data is
// on disk before the rename. Returns false if any step failed.
bool write_number_file(const std::string& path, uint64_t value, bool sync);

}  // namespace classroom
