// The one fake mqtt::Client of the unit tests: it records what the code under
// test asks of MQTT, and the test plays the broker's answers (Uplink::handle).
// With `record` false it records nothing and so allocates nothing (the hot
// path's allocation counts).
#pragma once

#include <catch2/catch.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "mqtt/mqtt_client.hpp"
#include "session/sparkplug.hpp"

namespace classroom::test_support {

struct Published {
  std::string topic;
  std::string payload;
  int qos;
  uint64_t tag;
};

struct FakeClient final : mqtt::Client {
  bool record = true;
  std::vector<mqtt::ConnectRequest> connects;
  std::vector<std::string> subscriptions;
  std::vector<int> subscription_qos;  // of each in subscriptions
  std::vector<Published> published;
  int disconnects = 0;
  int disconnects_with_will = 0;
  int abandoned = 0;
  bool refuse_publish = false;
  uint64_t publishes = 0, last_tag = 0;  // counted even when not recording
  std::string refuse_topic;              // refuses publishes to topics that contain it

  bool connect(const mqtt::ConnectRequest& r, std::string&) override {
    if (record) connects.push_back(r);
    return true;
  }
  bool subscribe(const std::string& topic, int qos, std::string&) override {
    if (record) subscriptions.push_back(topic);
    if (record) subscription_qos.push_back(qos);
    return true;
  }
  bool publish(const std::string& topic, std::string_view payload, int qos, uint64_t tag,
               std::string& error) override {
    if (refuse_publish || (!refuse_topic.empty() && topic.find(refuse_topic) != topic.npos)) {
      error = "disconnected";
      return false;
    }
    ++publishes;
    if (tag) last_tag = tag;
    if (record) published.push_back({topic, std::string(payload), qos, tag});
    return true;
  }
  bool publish_and_wait(const std::string& topic, std::string_view payload, int) override {
    if (record) published.push_back({topic, std::string(payload), 1, 0});
    return true;
  }
  void disconnect(int) override { ++disconnects; }
  void disconnect_with_will(int) override {
    ++disconnects;
    ++disconnects_with_will;
  }
  void abandon() override { ++abandoned; }
  // A session ended without waiting: counted with the DISCONNECTs that ask
  // for the Will, and as a client dropped.
  void end_with_will() override {
    ++disconnects_with_will;
    ++abandoned;
  }

  // The payloads published on topics of Sparkplug message `type` (NBIRTH...).
  std::vector<sparkplug::Payload> decoded(const std::string& type) const {
    std::vector<sparkplug::Payload> out;
    for (const Published& p : published)
      if (p.topic.find("/" + type + "/") != std::string::npos) {
        sparkplug::Payload payload;
        REQUIRE(payload.ParseFromString(p.payload));
        out.push_back(payload);
      }
    return out;
  }
  const Published* last_receipt() const {
    for (auto it = published.rbegin(); it != published.rend(); ++it)
      if (it->qos == 1) return &*it;
    return nullptr;
  }
};

}  // namespace classroom::test_support
