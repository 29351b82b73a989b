// The reference codec (sparkplug-payload) on an edge node with devices: every
// NBIRTH, DBIRTH, NDATA, DDATA and DDEATH decodes; DBIRTHs come after the
// node's NBIRTH and describe every metric (name, type, alias, a value wherever
// the wire has one, a proper engUnit where it has a unit: birth_checks.js);
// aliases are unique across the node and its devices; DDATA uses only aliases
// of its device's birth, never after a DDEATH; seq is one counter, +1 per
// message, 255 -> 0.
// Usage: node device_decoder.js URL DEVICES BIRTHS DEATHS
//   DEVICES: comma-separated device ids; exits 0 once each had BIRTHS DBIRTHs,
//   DEATHS DDEATHs and a DDATA after its last birth.
'use strict';
const mqtt = require('mqtt');
const { decodeBoth, checkBirthMetric } = require('./birth_checks');

const url = process.argv[2];
const devices = (process.argv[3] || '').split(',').filter((d) => d);
const wantBirths = Number(process.argv[4] || 1);
const wantDeaths = Number(process.argv[5] || 0);
const client = mqtt.connect(url);

let nodeBorn = false;
let seq = null;
const aliasOwner = new Map(); // alias -> owner ('' for the node)
const defs = new Map(); // owner -> Map(alias -> metric)
const state = new Map(); // device -> {births, deaths, born, dataSinceBirth}
for (const d of devices) state.set(d, { births: 0, deaths: 0, born: false, dataSinceBirth: 0 });

function fail(why) {
  console.error('device decoder: ' + why);
  process.exit(1);
}
setTimeout(() => fail('timed out: ' + JSON.stringify([...state])), 90000);

function checkSeq(type, p) {
  const s = Number(p.seq);
  if (type === 'NBIRTH') {
    if (s !== 0) fail('NBIRTH seq is not 0');
  } else if (seq !== null && s !== (seq + 1) % 256) {
    fail(`${type} seq ${s} after ${seq}`);
  }
  seq = s;
}

function describe(owner, decoded, type) {
  const map = new Map();
  for (let i = 0; i < decoded.p.metrics.length; i++) {
    const m = decoded.p.metrics[i];
    checkBirthMetric(owner, decoded, i, (why) => fail(`${type}: ${why}`));
    if (m.name === 'bdSeq') continue;
    // The spec forbids Node Control/Rebirth an alias (by name only).
    if (m.name === 'Node Control/Rebirth') {
      if (m.alias !== undefined) fail(`${owner} ${m.name}: has an alias`);
      continue;
    }
    if (m.alias === undefined) fail(`${owner} ${m.name}: no alias`);
    const a = Number(m.alias);
    if (aliasOwner.has(a) && aliasOwner.get(a) !== owner)
      fail(`alias ${a} of ${owner} ${m.name} is also ${aliasOwner.get(a)}'s`);
    aliasOwner.set(a, owner);
    map.set(a, m);
  }
  defs.set(owner, map);
}

function checkData(owner, p, type) {
  const map = defs.get(owner);
  if (!map) fail(`${type} of ${owner} before its birth`);
  for (const m of p.metrics) {
    const def = map.get(Number(m.alias));
    if (!def) fail(`${type} ${owner}: alias ${m.alias} is not in its birth`);
    if (m.type !== def.type) fail(`${owner} ${def.name}: type ${m.type}, birth says ${def.type}`);
    if (m.value === null || m.value === undefined) fail(`${owner} ${def.name}: value did not decode`);
    if (!m.timestamp) fail(`${owner} ${def.name}: no timestamp`);
  }
}

function done() {
  for (const [, s] of state)
    if (s.births < wantBirths || s.deaths < wantDeaths || !s.born || s.dataSinceBirth < 1)
      return false;
  return true;
}

client.on('connect', () => client.subscribe('spBv1.0/#', { qos: 1 }, () => console.log('subscribed')));
client.on('message', (topic, buf) => {
  const parts = topic.split('/');
  const type = parts[2];
  const device = parts[4];
  if (parts[1] === 'STATE' || type === 'NCMD' || type === 'DCMD') return;
  let decoded;
  try {
    decoded = decodeBoth(buf);
  } catch (e) {
    fail(`${topic}: does not decode: ${e}`);
  }
  const p = decoded.p;
  if (type === 'NDEATH') {
    nodeBorn = false;
    seq = null;
    for (const [, s] of state) s.born = false;
    console.log('NDEATH');
    return;
  }
  checkSeq(type, p);
  if (type === 'NBIRTH') {
    nodeBorn = true;
    aliasOwner.clear();
    defs.clear();
    for (const [, s] of state) s.born = false;
    describe('', decoded, type);
    console.log(`NBIRTH: ${p.metrics.length} metrics`);
  } else if (type === 'NDATA') {
    checkData('', p, type);
  } else if (type === 'DBIRTH') {
    if (!nodeBorn) fail(`DBIRTH of ${device} before the NBIRTH`);
    describe(device, decoded, type);
    const s = state.get(device);
    if (s) {
      s.births++;
      s.born = true;
      s.dataSinceBirth = 0;
    }
    const names = p.metrics.slice(0, 4).map((m) => `${m.name} = ${m.value}`);
    console.log(`DBIRTH ${device} seq ${p.seq}: ${p.metrics.length} metrics: ${names.join(', ')}`);
  } else if (type === 'DDATA') {
    const s = state.get(device);
    if (s && !s.born) fail(`DDATA of ${device} while it is dead`);
    checkData(device, p, type);
    if (s) s.dataSinceBirth++;
  } else if (type === 'DDEATH') {
    const s = state.get(device);
    if (p.metrics.length !== 0) fail(`DDEATH of ${device} with metrics`);
    if (s) {
      if (!s.born) fail(`DDEATH of ${device} that was not born`);
      s.deaths++;
      s.born = false;
    }
    console.log(`DDEATH ${device} seq ${p.seq}`);
  }
  if (done()) {
    console.log('all devices seen');
    client.end();
    process.exit(0);
  }
});
