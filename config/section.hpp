// A [sources.<name>] table as its driver's reader sees it, the way a Fluent
// Bit plugin sees its config map: typed getters that check each value, mark
// its key as read, and report a mistake as `FILE:LINE:COL: key: message`
// with the key's whole path (sources.lan.dhcp[0].file). When the reader
// returns, every key of the table that it did not read is reported as
// unknown, naming the keys it expects. Only the config makes one (load_file).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace classroom::config {

namespace detail {
class TableReader;
}

class Section {
 public:
  explicit Section(detail::TableReader& table) : table_(table) {}
  Section(const Section&) = delete;
  Section& operator=(const Section&) = delete;

  // False when the file has no such table: every getter then leaves its
  // value at the default.
  bool present() const;
  // The keys the reader reads, named in the message about an unknown one
  // (after enabled and interval, which the config reads for every source).
  void expect_keys(std::initializer_list<std::string_view> keys);

  // Each getter sets `out` and returns true when the key is there and right;
  // it leaves `out` alone when the key is absent (or wrong: reported).
  bool boolean(std::string_view key, bool& out);
  // `required`: its absence is a mistake too, explained by `hint`.
  bool string(std::string_view key, std::string& out, bool required = false,
              std::string_view hint = "");
  bool integer(std::string_view key, int64_t& out, int64_t min, int64_t max);
  // "10s", "250ms", "5m": from min to max.
  bool duration(std::string_view key, std::chrono::milliseconds& out, std::chrono::milliseconds min,
                std::chrono::milliseconds max);
  // An array of strings; `check` says what is wrong with an element ("" when
  // nothing). `out` is set only when every element is right.
  bool strings(std::string_view key, std::vector<std::string>& out,
               const std::function<std::string(const std::string&)>& check);
  // [[<this table>.<key>]]: `read` is called with each table of the array in
  // order, named key[0], key[1], ...; the keys each leaves unread are
  // reported when it returns.
  void tables(std::string_view key, const std::function<void(Section&)>& read);

  // A path from the file as the agent uses it: relative to the config file's
  // directory, as every path of the config is.
  std::string absolute(const std::string& path) const;

  // A problem with `key`'s value, at its line (at the table's when the key is
  // absent).
  void wrong(std::string_view key, std::string message);

 private:
  detail::TableReader& table_;
};

// A value from the file as a message shows it: in quotes, escaped, bounded.
std::string quoted(std::string_view value);

// What is wrong with a network interface's name ("" when nothing): 1 to 15
// characters, not . or .., without / : or blanks. For Section::strings.
std::string check_interface_name(const std::string& name);

}  // namespace classroom::config
