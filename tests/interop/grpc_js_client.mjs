// Interop peer: drives kei.agent.v1.AgentService with @grpc/grpc-js, a gRPC stack
// that shares no code with the kit, so wire-level mistakes (framing, trailers,
// status codes, well-known types) show up here and not only between our own peers.
//
// Usage: node grpc_js_client.mjs <host:port> <proto_root>
// Prints one TAP-style line per check ("ok - name" / "not ok - name: detail") and
// exits 0 only if every check passed. Plaintext; each call has a 5 s deadline and
// the whole run a 20 s limit.
//
// Messages use proto-loader's camelCase field names (keepCase: false) throughout.
// google.protobuf.Struct/Value have no JSON wrapper in protobufjs, so they are
// built and read in their proto form ({fields: {...}}, {numberValue: ...}).

import path from 'node:path';
import process from 'node:process';
import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';

const CALL_DEADLINE_MS = 5000;
const GLOBAL_TIMEOUT_MS = 20000;

const results = [];

function report(name, ok, detail) {
  results.push(ok);
  if (ok) {
    console.log(`ok - ${name}`);
  } else {
    console.log(`not ok - ${name}: ${detail}`);
  }
}

function deadline() {
  return new Date(Date.now() + CALL_DEADLINE_MS);
}

function describeError(err) {
  if (err && typeof err.code === 'number') {
    const name = Object.keys(grpc.status).find((k) => grpc.status[k] === err.code);
    return `code ${err.code} (${name ?? '?'}): ${err.details ?? err.message}`;
  }
  return String(err && err.stack ? err.stack : err);
}

// Promisified unary call with a deadline; resolves to {err, res}.
function unary(client, method, request) {
  return new Promise((resolve) => {
    client[method](request, new grpc.Metadata(), { deadline: deadline() }, (err, res) => {
      resolve({ err, res });
    });
  });
}

// Runs a check body; any throw becomes a failed check.
async function check(name, body) {
  try {
    const detail = await body();
    if (detail === undefined || detail === null) {
      report(name, true);
    } else {
      report(name, false, detail);
    }
  } catch (e) {
    report(name, false, describeError(e));
  }
}

// Converts a plain JS value into its google.protobuf.Value proto form.
function toValue(v) {
  if (v === null) return { nullValue: 'NULL_VALUE' };
  if (typeof v === 'number') return { numberValue: v };
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(toValue) } };
  return { structValue: toStruct(v) };
}

// Converts a plain JS object into its google.protobuf.Struct proto form.
function toStruct(obj) {
  const fields = {};
  for (const [k, v] of Object.entries(obj)) fields[k] = toValue(v);
  return { fields };
}

// Converts a decoded google.protobuf.Value back into a plain JS value.
function fromValue(v) {
  if (v === null || v === undefined) return undefined;
  const kind = v.kind ?? ['nullValue', 'numberValue', 'stringValue', 'boolValue', 'structValue', 'listValue']
    .find((k) => v[k] !== undefined && v[k] !== null);
  switch (kind) {
    case 'nullValue': return null;
    case 'numberValue': return v.numberValue;
    case 'stringValue': return v.stringValue;
    case 'boolValue': return v.boolValue;
    case 'listValue': return (v.listValue.values ?? []).map(fromValue);
    case 'structValue': {
      const out = {};
      for (const [k, f] of Object.entries(v.structValue.fields ?? {})) out[k] = fromValue(f);
      return out;
    }
    default: return undefined;
  }
}

async function main() {
  const [target, protoRootArg] = process.argv.slice(2);
  if (!target || !protoRootArg) {
    console.error('usage: node grpc_js_client.mjs <host:port> <proto_root>');
    process.exit(2);
  }
  const protoRoot = path.resolve(protoRootArg);

  const timer = setTimeout(() => {
    console.log(`not ok - global timeout: run exceeded ${GLOBAL_TIMEOUT_MS} ms`);
    process.exit(1);
  }, GLOBAL_TIMEOUT_MS);
  timer.unref();

  let AgentService;
  try {
    // agent.proto imports kei/v1/annotations.proto (found under includeDirs), which
    // imports google/protobuf/descriptor.proto; that one and struct/timestamp come
    // from the copies protobufjs ships.
    const definition = protoLoader.loadSync(path.join(protoRoot, 'kei/agent/v1/agent.proto'), {
      includeDirs: [protoRoot],
      keepCase: false,
      longs: String,
      enums: String,
      defaults: false,
      oneofs: true,
    });
    const loaded = grpc.loadPackageDefinition(definition);
    AgentService = loaded.kei.agent.v1.AgentService;
    report('load agent.proto', typeof AgentService === 'function', 'AgentService not found');
  } catch (e) {
    report('load agent.proto', false, describeError(e));
  }
  if (!AgentService) return finish(null);

  const client = new AgentService(target, grpc.credentials.createInsecure());

  // 1. Plan.
  let planId;
  await check('plan', async () => {
    const { err, res } = await unary(client, 'Plan', { objective: 'echo hello then count words in a b c' });
    if (err) return describeError(err);
    if (typeof res.planId !== 'string' || !res.planId.startsWith('plan-')) {
      return `plan_id ${JSON.stringify(res.planId)} does not start with "plan-"`;
    }
    planId = res.planId;
    const steps = res.steps ?? [];
    if (steps.length !== 2) return `expected 2 steps, got ${steps.length}: ${JSON.stringify(steps)}`;
    return null;
  });

  // 2. Explain.
  await check('explain', async () => {
    if (!planId) return 'no plan id (plan failed)';
    const { err, res } = await unary(client, 'Explain', { planId });
    if (err) return describeError(err);
    if (typeof res.explanation !== 'string' || !res.explanation.includes(planId)) {
      return `explanation ${JSON.stringify(res.explanation)} does not mention ${planId}`;
    }
    return null;
  });

  // 3. Act add: Struct params in, Value output back.
  await check('act add', async () => {
    const { err, res } = await unary(client, 'Act', {
      action: 'add',
      params: toStruct({ values: [1, 2, 3] }),
    });
    if (err) return describeError(err);
    const output = fromValue(res.output);
    if (output !== 6) return `expected output 6, got ${JSON.stringify(res.output)}`;
    return null;
  });

  // 4. Act with an unknown action: INVALID_ARGUMENT.
  await check('act unknown action', async () => {
    const { err, res } = await unary(client, 'Act', { action: 'nope' });
    if (!err) return `expected INVALID_ARGUMENT, got success ${JSON.stringify(res)}`;
    if (err.code !== grpc.status.INVALID_ARGUMENT) {
      return `expected code 3 (INVALID_ARGUMENT), got ${describeError(err)}`;
    }
    if (!String(err.details ?? '').toLowerCase().includes('unknown action')) {
      return `message ${JSON.stringify(err.details)} does not mention "unknown action"`;
    }
    return null;
  });

  // 5. Watch: exactly 3 events with increasing sequences, then OK.
  await check('watch', () => new Promise((resolve) => {
    const events = [];
    let settled = false;
    const done = (detail) => {
      if (!settled) {
        settled = true;
        resolve(detail);
      }
    };
    const call = client.Watch({ fromSequence: 1, maxEvents: 3 }, new grpc.Metadata(), { deadline: deadline() });
    call.on('data', (ev) => events.push(ev));
    call.on('error', (err) => done(`stream failed after ${events.length} events: ${describeError(err)}`));
    call.on('status', (status) => {
      if (status.code !== grpc.status.OK) {
        done(`stream ended with ${describeError(status)} after ${events.length} events`);
        return;
      }
      if (events.length !== 3) {
        done(`expected 3 events, got ${events.length}: ${JSON.stringify(events)}`);
        return;
      }
      let prev = 0n;
      for (const ev of events) {
        const seq = BigInt(ev.sequence ?? 0);
        if (seq <= prev) {
          done(`sequences not increasing: ${events.map((e) => e.sequence).join(', ')}`);
          return;
        }
        prev = seq;
      }
      done(null);
    });
  }));

  // 6. Observe.
  await check('observe', async () => {
    const { err, res } = await unary(client, 'Observe', { source: 'node', content: 'hi' });
    if (err) return describeError(err);
    if (typeof res.observationId !== 'string' || !res.observationId.startsWith('obs-')) {
      return `observation_id ${JSON.stringify(res.observationId)} does not start with "obs-"`;
    }
    return null;
  });

  return finish(client);
}

function finish(client) {
  if (client) client.close();
  const failed = results.filter((ok) => !ok).length;
  console.log(`# ${results.length - failed} passed, ${failed} failed`);
  process.exit(failed === 0 && results.length > 0 ? 0 : 1);
}

main().catch((e) => {
  console.log(`not ok - unexpected error: ${describeError(e)}`);
  process.exit(1);
});
