// What both decoders check on every metric of a birth (NBIRTH or DBIRTH), with
// the reference codec (sparkplug-payload) and the raw protobuf it decodes:
// name and type; a value whenever the wire carries one (the codec picks the
// value field by type, so a type it reads from another field shows null); and
// an engUnit, when there is one, that is a non-empty String.
'use strict';
const sparkplug = require('sparkplug-payload').get('spBv1.0');
const Raw = require('sparkplug-payload/lib/sparkplugPayloadProto').org.eclipse.tahu.protobuf.Payload;

// Decodes `buf` both ways: { p: the codec's payload, raw: the protobuf message }.
function decodeBoth(buf) {
  return { p: sparkplug.decodePayload(buf), raw: Raw.decode(buf) };
}

// Calls fail(why) for the first fault of metric `i` of a birth of `owner`.
function checkBirthMetric(owner, decoded, i, fail) {
  const m = decoded.p.metrics[i];
  const raw = decoded.raw.metrics[i];
  const who = `${owner || 'node'} ${m.name}`;
  if (!m.name || !m.type) return fail(`birth metric without name or type: ${JSON.stringify(m)}`);
  if (!raw.isNull && (m.value === null || m.value === undefined))
    return fail(`${who}: ${m.type} value on the wire decodes as null`);
  const unit = m.properties && m.properties.engUnit;
  if (unit && (unit.type !== 'String' || !unit.value))
    return fail(`${who}: engUnit ${JSON.stringify(unit)} is not a non-empty String`);
  return true;
}

module.exports = { decodeBoth, checkBirthMetric };
