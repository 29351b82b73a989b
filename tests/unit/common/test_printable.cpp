// The one escaper's policies (agent/common/printable.hpp): what each keeps, what it
// escapes or replaces, and how it bounds its output.
#include <catch2/catch.hpp>
#include <string>

#include "printable.hpp"

using namespace classroom;
using text::Policy;

namespace {
std::string bytes(const char* s, size_t n) {
  return std::string(s, n);
}
}  // namespace

TEST_CASE("text policy log: escapes controls and bad UTF-8 but leaves a backslash") {
  CHECK(text::printable("ok name", 200, Policy::log) == "ok name");
  CHECK(text::printable(bytes("a\nb\0c\x1b[31m\x7f", 11), 200, Policy::log) ==
        "a\\nb\\x00c\\x1b[31m\\x7f");
  CHECK(text::printable("back\\slash", 200, Policy::log) == "back\\slash");
  // Bytes over 0x7f: kept when they are well-formed UTF-8, escaped when not.
  CHECK(text::printable("Phòng 6A", 200, Policy::log) == "Phòng 6A");
  CHECK(text::printable("bad\xff\xfe", 200, Policy::log) == "bad\\xff\\xfe");
  CHECK(text::printable("over\xc0\xaf cut\xe2\x82", 200, Policy::log) ==
        "over\\xc0\\xaf cut\\xe2\\x82");
  CHECK(text::printable("c1\xc2\x9b bidi\xe2\x80\xae", 200, Policy::log) ==
        "c1\\u009b bidi\\u202e");
  // At most max_bytes of the input, never cutting a character, then its size.
  CHECK(text::printable(std::string(300, 'x'), 200, Policy::log) ==
        std::string(200, 'x') + "... (300 bytes)");
  CHECK(text::printable("ééé", 5, Policy::log) == "éé... (6 bytes)");
}

TEST_CASE("text policy terminal: as the log and a backslash doubled") {
  CHECK(text::printable("ok name", 200, Policy::terminal) == "ok name");
  CHECK(text::printable("a\nb\x1b[31m", 200, Policy::terminal) == "a\\nb\\x1b[31m");
  CHECK(text::printable("back\\slash", 200, Policy::terminal) == "back\\\\slash");
  CHECK(text::printable("Phòng\xff", 200, Policy::terminal) == "Phòng\\xff");
  CHECK(text::printable("a\\n", 200, Policy::terminal) == text::printable("a\\n", 200));
  CHECK(text::printable(std::string(300, 'x'), 200, Policy::terminal).size() ==
        200 + std::string("... (300 bytes)").size());
  CHECK(text::printable("\n\n\n", 2, Policy::terminal) == "\\n\\n... (3 bytes)");
}

TEST_CASE("text policy metric_text: UTF-8 kept and each unprintable character one ?") {
  CHECK(text::printable("plain", 255, Policy::metric_text) == "plain");
  CHECK(text::printable("Phòng 6A", 255, Policy::metric_text) == "Phòng 6A");
  CHECK(text::printable(bytes("a\nb\x1b[31m\xff", 9), 255, Policy::metric_text) == "a?b?[31m?");
  CHECK(text::printable(bytes("n\0ul\x7f", 5), 255, Policy::metric_text) == "n?ul?");
  CHECK(text::printable("back\\slash", 255, Policy::metric_text) == "back\\slash");
  CHECK(text::printable("over\xc0\xaf sur\xed\xa0\x80", 255, Policy::metric_text) ==
        "over?? sur???");
  CHECK(text::printable("c1\xc2\x9b bidi\xe2\x80\xae ls\xe2\x80\xa8", 255, Policy::metric_text) ==
        "c1? bidi? ls?");
  // At most max_bytes of output, never cutting a character, nothing appended.
  CHECK(text::printable(std::string(1000, 'x'), 255, Policy::metric_text).size() == 255);
  CHECK(text::printable("ééé", 5, Policy::metric_text) == "éé");
  CHECK(text::printable("anything", 0, Policy::metric_text).empty());
}

TEST_CASE("text policy metric_name: printable ASCII but blank and slash") {
  CHECK(text::printable("wlan0", 64, Policy::metric_name) == "wlan0");
  CHECK(text::printable("a/b c\x01\xff", 64, Policy::metric_name) == "a?b?c??");
  CHECK(text::printable("back\\slash", 64, Policy::metric_name) == "back\\slash");
  // Bytes over 0x7f are replaced one for one, valid UTF-8 or not.
  CHECK(text::printable("wlän0", 64, Policy::metric_name) == "wl??n0");
  CHECK(text::printable(bytes("\0\x7f\x80", 3), 64, Policy::metric_name) == "???");
  CHECK(text::printable(std::string(100, 'x'), 64, Policy::metric_name) == std::string(64, 'x'));
}

TEST_CASE("text policies: nothing they return can start a line or a terminal escape") {
  std::string every_byte;
  for (int b = 0; b < 256; ++b) every_byte += static_cast<char>(b);
  for (Policy p : {Policy::log, Policy::terminal, Policy::metric_text, Policy::metric_name}) {
    const std::string out = text::printable(every_byte, 4096, p);
    CHECK(text::valid_utf8(out));
    CHECK_FALSE(text::has_unprintable(out));
  }
}
