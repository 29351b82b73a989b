// A command as a JavaScript host application (Node-RED's Sparkplug nodes and
// others) builds it: encoded by the reference codec (sparkplug-payload), with
// the datatype the codec always writes, published at QoS 1 (NCMD and DCMD are
// QoS 0 in the spec; 1 here only so the test knows it reached the broker).
// Usage: node host_command.js URL TOPIC METRICS_JSON
//   METRICS_JSON: [{"name": "Node Control/Scan Rate", "type": "Int64", "value": 2000}]
//   exits 0 once the broker acknowledged it.
'use strict';
const mqtt = require('mqtt');
const sparkplug = require('sparkplug-payload').get('spBv1.0');

const [url, topic, json] = process.argv.slice(2);
const payload = sparkplug.encodePayload({ timestamp: Date.now(), metrics: JSON.parse(json) });
const client = mqtt.connect(url);
setTimeout(() => {
  console.error('host command: timed out');
  process.exit(1);
}, 10000);
client.on('connect', () =>
  client.publish(topic, Buffer.from(payload), { qos: 1 }, (err) => {
    if (err) {
      console.error('host command: ' + err);
      process.exit(1);
    }
    client.end();
    process.exit(0);
  }),
);
