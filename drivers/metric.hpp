// The vocabulary shared by drivers and the agent core: what a metric's value is.
// Drivers produce these; they know nothing of Sparkplug, the spool or MQTT.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

namespace classroom {

// The datatypes a metric can have. The numbers follow Sparkplug B's DataType
// enumeration so the codec maps them one to one, but nothing here depends on it.
enum class DataType : uint32_t {
  Int8 = 1,
  Int16 = 2,
  Int32 = 3,
  Int64 = 4,
  UInt8 = 5,
  UInt16 = 6,
  UInt32 = 7,
  UInt64 = 8,
  Float = 9,
  Double = 10,
  Boolean = 11,
  String = 12,
  DateTime = 13,
  Text = 14,
  UUID = 15,
  Bytes = 17,
};

std::string_view to_string(DataType type);

// The datatypes every Sparkplug decoder reads alike. The reference JavaScript
// codec (npm sparkplug-payload, behind Node-RED's Sparkplug nodes) reads UInt32
// from long_value where the spec puts it in int_value, so it shows such a value
// as null; whole numbers are published as UInt64, or Int64 when signed.
constexpr bool decodes_everywhere(DataType type) {
  switch (type) {
    case DataType::Int64:
    case DataType::UInt64:
    case DataType::Float:
    case DataType::Double:
    case DataType::Boolean:
    case DataType::String:
    case DataType::DateTime:
    case DataType::Text:
      return true;
    default:
      return false;
  }
}

// The datatype of a declared metric: one that decodes_everywhere(). A metric
// declared with another type literal does not compile.
class MetricType {
 public:
  consteval MetricType(DataType type) : type_(type) {
    if (!decodes_everywhere(type))
      throw "a metric's datatype must decode everywhere: UInt64 or Int64 for whole numbers";
  }
  // The type a value of `type` from the wire is published as (a spool record
  // written by an earlier version): narrow whole numbers widen to 64 bits.
  static MetricType published_as(DataType type);
  constexpr operator DataType() const { return type_; }

 private:
  struct Checked {};
  constexpr MetricType(DataType type, Checked) : type_(type) {}
  DataType type_;
};

// A metric value. std::monostate means "no value" (Sparkplug is_null). Signed
// integer types hold int64_t, unsigned ones and DateTime uint64_t, Float float,
// Double double, Boolean bool, String/Text/UUID/Bytes std::string.
using Value = std::variant<std::monostate, bool, int64_t, uint64_t, float, double, std::string>;

// True when `value` holds the alternative that `type` uses (or is null).
bool value_fits(DataType type, const Value& value);

// "42.5", "true", "(null)": for `classroom-agent once` and logs.
std::string format_value(const Value& value);

// Index of a metric in the agent's catalog; stable for the life of the process.
using MetricId = uint32_t;

}  // namespace classroom
