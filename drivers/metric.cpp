#include "metric.hpp"

#include <cstdio>

namespace classroom {

std::string_view to_string(DataType type) {
  switch (type) {
    case DataType::Int8:
      return "Int8";
    case DataType::Int16:
      return "Int16";
    case DataType::Int32:
      return "Int32";
    case DataType::Int64:
      return "Int64";
    case DataType::UInt8:
      return "UInt8";
    case DataType::UInt16:
      return "UInt16";
    case DataType::UInt32:
      return "UInt32";
    case DataType::UInt64:
      return "UInt64";
    case DataType::Float:
      return "Float";
    case DataType::Double:
      return "Double";
    case DataType::Boolean:
      return "Boolean";
    case DataType::String:
      return "String";
    case DataType::DateTime:
      return "DateTime";
    case DataType::Text:
      return "Text";
    case DataType::UUID:
      return "UUID";
    case DataType::Bytes:
      return "Bytes";
  }
  return "Unknown";
}

MetricType MetricType::published_as(DataType type) {
  switch (type) {
    case DataType::Int8:
    case DataType::Int16:
    case DataType::Int32:
      return MetricType(DataType::Int64, Checked{});
    case DataType::UInt8:
    case DataType::UInt16:
    case DataType::UInt32:
      return MetricType(DataType::UInt64, Checked{});
    case DataType::UUID:
      return MetricType(DataType::String, Checked{});
    default:
      break;
  }
  return decodes_everywhere(type) ? MetricType(type, Checked{})
                                  : MetricType(DataType::String, Checked{});
}

bool value_fits(DataType type, const Value& value) {
  if (std::holds_alternative<std::monostate>(value)) return true;
  switch (type) {
    case DataType::Int8:
    case DataType::Int16:
    case DataType::Int32:
    case DataType::Int64:
      return std::holds_alternative<int64_t>(value);
    case DataType::UInt8:
    case DataType::UInt16:
    case DataType::UInt32:
    case DataType::UInt64:
    case DataType::DateTime:
      return std::holds_alternative<uint64_t>(value);
    case DataType::Float:
      return std::holds_alternative<float>(value);
    case DataType::Double:
      return std::holds_alternative<double>(value);
    case DataType::Boolean:
      return std::holds_alternative<bool>(value);
    case DataType::String:
    case DataType::Text:
    case DataType::UUID:
    case DataType::Bytes:
      return std::holds_alternative<std::string>(value);
  }
  return false;
}

std::string format_value(const Value& value) {
  char buf[64];
  struct Visitor {
    char* buf;
    std::string operator()(std::monostate) const { return "(null)"; }
    std::string operator()(bool b) const { return b ? "true" : "false"; }
    std::string operator()(int64_t v) const {
      std::snprintf(buf, 64, "%lld", static_cast<long long>(v));
      return buf;
    }
    std::string operator()(uint64_t v) const {
      std::snprintf(buf, 64, "%llu", static_cast<unsigned long long>(v));
      return buf;
    }
    std::string operator()(float v) const {
      std::snprintf(buf, 64, "%.2f", static_cast<double>(v));
      return buf;
    }
    std::string operator()(double v) const {
      std::snprintf(buf, 64, "%.2f", v);
      return buf;
    }
    std::string operator()(const std::string& s) const { return s; }
  };
  return std::visit(Visitor{buf}, value);
}

}  // namespace classroom
