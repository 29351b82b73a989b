// A MetricSink for tests: remembers declarations and the latest values by name.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "driver.hpp"

struct MapSink final : classroom::drivers::MetricSink {
  struct Entry {
    std::string name;
    classroom::DataType type;
    std::string unit;
    classroom::Value value;
  };
  std::vector<Entry> entries;
  std::map<std::string, classroom::MetricId> ids;
  int declarations = 0;

  classroom::MetricId declare(std::string_view name, classroom::MetricType type,
                              std::string_view unit) override {
    ++declarations;
    auto it = ids.find(std::string(name));
    if (it != ids.end()) return it->second;
    auto id = static_cast<classroom::MetricId>(entries.size());
    entries.push_back({std::string(name), type, std::string(unit), {}});
    ids[std::string(name)] = id;
    return id;
  }
  void put(classroom::MetricId id, classroom::Value value) override {
    entries.at(id).value = std::move(value);
  }
  bool has(const std::string& name) const { return ids.count(name) > 0; }
  const Entry& at(const std::string& name) const { return entries.at(ids.at(name)); }
  template <typename T>
  T get(const std::string& name) const {
    return std::get<T>(at(name).value);
  }
  bool measured(const std::string& name) const {
    return has(name) && !std::holds_alternative<std::monostate>(at(name).value);
  }
};
