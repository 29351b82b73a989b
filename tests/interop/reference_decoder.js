// Subscribes to a broker, decodes the agent's Sparkplug messages with the
// reference codec (sparkplug-payload), and checks what a dashboard relies on:
// the birth names every metric with a type, a value wherever the wire has one
// and a proper engUnit where it has a unit (birth_checks.js), and every value
// in NDATA decodes (alias known from the birth, same type, not null).
// Usage: node reference_decoder.js URL [messages]   exit 0 = all good
//        node reference_decoder.js --decode FILE
//   prints each metric of the payload in FILE as the codec reads it, one a
//   line: name, type and value (String() of it), tab-separated.
'use strict';
const fs = require('fs');
const mqtt = require('mqtt');
const { decodeBoth, checkBirthMetric } = require('./birth_checks');

if (process.argv[2] === '--decode') {
  for (const m of decodeBoth(fs.readFileSync(process.argv[3])).p.metrics)
    console.log(`${m.name}\t${m.type}\t${String(m.value)}`);
  process.exit(0);
}

const url = process.argv[2];
const wanted = Number(process.argv[3] || 3);
const client = mqtt.connect(url);
const byAlias = new Map();
let data = 0;

function fail(why) {
  console.error('reference decoder: ' + why);
  process.exit(1);
}
setTimeout(() => fail(`timed out: saw ${byAlias.size} birth metrics, ${data} NDATA`), 30000);

client.on('connect', () => client.subscribe('spBv1.0/#', { qos: 1 }, () => console.log('subscribed')));
client.on('message', (topic, buf) => {
  const type = topic.split('/')[2];
  let decoded;
  try {
    decoded = decodeBoth(buf);
  } catch (e) {
    fail(`${topic}: does not decode: ${e}`);
  }
  const p = decoded.p;
  if (type === 'NBIRTH') {
    if (Number(p.seq) !== 0) fail('NBIRTH seq is not 0');
    p.metrics.forEach((m, i) => {
      checkBirthMetric('', decoded, i, fail);
      if (m.name === 'bdSeq') return;
      // The spec forbids Node Control/Rebirth an alias (by name only).
      if (m.name === 'Node Control/Rebirth') {
        if (m.alias !== undefined) fail(`${m.name}: has an alias`);
        return;
      }
      if (m.alias === undefined) fail(`${m.name}: no alias`);
      byAlias.set(Number(m.alias), m);
    });
    console.log(`NBIRTH: ${p.metrics.length} metrics, bdSeq ${p.metrics[0].value}`);
  } else if (type === 'NDATA') {
    if (byAlias.size === 0) fail('NDATA before any NBIRTH');
    for (const m of p.metrics) {
      const def = byAlias.get(Number(m.alias));
      if (!def) fail(`NDATA alias ${m.alias} is not in the birth`);
      if (m.type !== def.type) fail(`${def.name}: type ${m.type}, birth says ${def.type}`);
      if (m.value === null || m.value === undefined) fail(`${def.name}: value did not decode`);
      if (!m.timestamp) fail(`${def.name}: no timestamp`);
    }
    const sample = p.metrics.slice(0, 3).map((m) => {
      const def = byAlias.get(Number(m.alias));
      const unit = def.properties && def.properties.engUnit ? ' ' + def.properties.engUnit.value : '';
      return `${def.name} = ${m.value}${unit}`;
    });
    console.log(`NDATA seq ${p.seq}: ${sample.join(', ')}`);
    if (++data >= wanted) {
      client.end();
      process.exit(0);
    }
  }
});
