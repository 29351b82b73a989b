// Commands as Sparkplug host applications build them (NCMD, DCMD): one
// builder for the unit and the integration tests, so that no test writes a
// rebirth request by hand. Header-only; needs only the project's .proto.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>

#include "sparkplug_b.pb.h"

namespace harness {

using Payload = org::eclipse::tahu::protobuf::Payload;

// An NCMD asking for a rebirth, built as host applications build it:
// Node Control/Rebirth with a Boolean `value`, by name or, when `alias` is set,
// by the alias of the birth alone; with `datatype` (Boolean, 11) or, when it is
// nullopt, without one, as the spec recommends and Tahu's host sends it.
inline Payload rebirth_command(bool value = true, std::optional<uint32_t> datatype = 11,
                               std::optional<uint64_t> alias = std::nullopt) {
  Payload p;
  auto* m = p.add_metrics();
  if (alias)
    m->set_alias(*alias);
  else
    m->set_name("Node Control/Rebirth");
  if (datatype) m->set_datatype(*datatype);
  m->set_boolean_value(value);
  return p;
}

// A command (NCMD or DCMD) of one metric, as host applications build it: by
// `name`, or, when `alias` is set, by the birth's alias alone (as the spec
// wants once aliases are in use); without a datatype unless one is given
// (tck-id-payloads-metric-datatype-not-req); the value in the field its type
// uses: a bool in boolean_value, an int64_t in long_value, a string in
// string_value.
using CommandValue = std::variant<bool, int64_t, std::string>;
inline Payload command(const std::string& name, const CommandValue& value,
                       std::optional<uint32_t> datatype = std::nullopt,
                       std::optional<uint64_t> alias = std::nullopt) {
  Payload p;
  p.set_timestamp(static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                            std::chrono::system_clock::now().time_since_epoch())
                                            .count()));
  auto* m = p.add_metrics();
  if (alias)
    m->set_alias(*alias);
  else
    m->set_name(name);
  if (datatype) m->set_datatype(*datatype);
  if (const bool* b = std::get_if<bool>(&value)) m->set_boolean_value(*b);
  if (const int64_t* i = std::get_if<int64_t>(&value)) m->set_long_value(static_cast<uint64_t>(*i));
  if (const std::string* s = std::get_if<std::string>(&value)) m->set_string_value(*s);
  return p;
}

}  // namespace harness
