// Interop peer: drives kei.agent.v1.AgentService over the Connect protocol with the
// official @connectrpc/connect-node client, which shares no code with the kit, so
// mistakes in keid's HTTP adapter (paths, codecs, error bodies, HTTP statuses,
// Connect-Timeout-Ms, enveloped streaming) show up here.
//
// Usage:
//   node connect_node_client.mjs <base_url> <descriptor_set.pb> [--token TOKEN]
//                                [--expect-unauthenticated]
//
// <descriptor_set.pb> is a binary FileDescriptorSet with imports
// (bazel-bin/proto/agent_descriptor_set.pb); the service is built from it at run
// time with protobuf-es v2, no generated code. Every check runs with the JSON
// codec and again with the binary (proto) codec over HTTP/1.1.
// --token adds "Authorization: Bearer TOKEN" to every call through an interceptor.
// --expect-unauthenticated only checks that Plan fails with Unauthenticated.
//
// Prints one TAP-style line per check ("ok - name" / "not ok - name: detail") and
// exits 0 only if every check passed. Each call has a 5 s timeout, the run 30 s.
//
// Message shapes are protobuf-es v2's, also for dynamic messages: camelCase field
// names, 64-bit integers as bigint, a google.protobuf.Struct field as a plain
// JSON object, google.protobuf.Value as a message with a `kind` oneof.

import { readFileSync } from 'node:fs';
import process from 'node:process';
import { createFileRegistry, fromBinary } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';

const SERVICE = 'kei.agent.v1.AgentService';
const CALL_TIMEOUT_MS = 5000;
const GLOBAL_TIMEOUT_MS = 30000;

const results = [];

function report(name, ok, detail) {
  results.push(ok);
  console.log(ok ? `ok - ${name}` : `not ok - ${name}: ${detail}`);
}

function describeError(err) {
  if (err instanceof ConnectError) {
    return `code ${Code[err.code] ?? err.code}: ${err.rawMessage}`;
  }
  return String(err && err.stack ? err.stack : err);
}

// Runs a check body; it returns null/undefined when passed or a failure detail.
async function check(name, body) {
  try {
    const detail = await body();
    report(name, detail === undefined || detail === null, detail);
  } catch (e) {
    report(name, false, describeError(e));
  }
}

// Expects `promise` to reject with a ConnectError of `code`; returns a detail or null.
async function expectCode(promise, code) {
  try {
    const res = await promise;
    return `expected ${Code[code]}, got success ${safeJson(res)}`;
  } catch (e) {
    const err = ConnectError.from(e);
    if (err.code !== code) return `expected ${Code[code]}, got ${describeError(err)}`;
    return null;
  }
}

function safeJson(v) {
  return JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? `${x}n` : x));
}

// Converts a google.protobuf.Value message (protobuf-es shape) into a plain value.
function fromValue(v) {
  if (!v || !v.kind) return undefined;
  switch (v.kind.case) {
    case 'nullValue': return null;
    case 'numberValue':
    case 'stringValue':
    case 'boolValue': return v.kind.value;
    case 'listValue': return (v.kind.value.values ?? []).map(fromValue);
    case 'structValue': {
      const out = {};
      for (const [k, f] of Object.entries(v.kind.value.fields ?? {})) out[k] = fromValue(f);
      return out;
    }
    default: return undefined;
  }
}

function parseArgs(argv) {
  const args = { positional: [], token: null, expectUnauthenticated: false };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--token') {
      args.token = argv[++i];
      if (!args.token) throw new Error('--token needs a value');
    } else if (argv[i] === '--expect-unauthenticated') {
      args.expectUnauthenticated = true;
    } else if (argv[i].startsWith('--')) {
      throw new Error(`unknown flag ${argv[i]}`);
    } else {
      args.positional.push(argv[i]);
    }
  }
  if (args.positional.length !== 2) throw new Error('expected <base_url> <descriptor_set.pb>');
  return args;
}

function loadService(descriptorPath) {
  const set = fromBinary(FileDescriptorSetSchema, readFileSync(descriptorPath));
  const registry = createFileRegistry(set);
  const service = registry.getService(SERVICE);
  if (!service) throw new Error(`${SERVICE} not in ${descriptorPath}`);
  return service;
}

// Interceptors: the bearer token, and an explicit Connect-Timeout-Ms header for
// calls whose context value asks for one (so the deadline is enforced by the
// server while the client itself waits longer).
function interceptors(token) {
  const list = [];
  if (token) {
    list.push((next) => (req) => {
      req.header.set('Authorization', `Bearer ${token}`);
      return next(req);
    });
  }
  list.push((next) => (req) => {
    const ms = req.header.get('x-kei-test-server-timeout-ms');
    if (ms) {
      req.header.delete('x-kei-test-server-timeout-ms');
      req.header.set('Connect-Timeout-Ms', ms);
    }
    return next(req);
  });
  return list;
}

async function runChecks(client, codec) {
  const opts = { timeoutMs: CALL_TIMEOUT_MS };
  const t = (name) => `${codec}: ${name}`;

  // Plan: a stable plan id and one step per clause.
  let planId;
  await check(t('plan'), async () => {
    const res = await client.plan({ objective: 'echo hello then count words in a b c' }, opts);
    if (typeof res.planId !== 'string' || !res.planId.startsWith('plan-')) {
      return `plan_id ${safeJson(res.planId)} does not start with "plan-"`;
    }
    planId = res.planId;
    if (res.steps.length !== 2) return `expected 2 steps, got ${res.steps.length}: ${safeJson(res.steps)}`;
    const first = res.steps[0];
    if (first.action !== 'echo') return `first step action ${safeJson(first.action)}, expected "echo"`;
    // Struct fields are plain JSON objects in protobuf-es v2.
    if (!first.params || first.params.text !== 'hello') {
      return `first step params ${safeJson(first.params)}, expected {"text":"hello"}`;
    }
    return null;
  });

  // Explain the plan just made.
  await check(t('explain'), async () => {
    if (!planId) return 'no plan id (plan failed)';
    const res = await client.explain({ planId }, opts);
    if (res.planId !== planId) return `plan_id ${safeJson(res.planId)}, expected ${planId}`;
    if (!res.explanation) return 'empty explanation';
    return null;
  });

  // Act add: Struct params in, Value output back.
  await check(t('act add'), async () => {
    const res = await client.act({ action: 'add', params: { values: [1, 2, 3] } }, opts);
    const output = fromValue(res.output);
    if (output !== 6) return `expected output 6, got ${safeJson(res.output)}`;
    if (typeof res.eventSequence !== 'bigint' || res.eventSequence <= 0n) {
      return `event_sequence ${safeJson(res.eventSequence)} is not a positive uint64`;
    }
    return null;
  });

  await check(t('act unknown action -> InvalidArgument'), () =>
    expectCode(client.act({ action: 'no-such-action' }, opts), Code.InvalidArgument));

  await check(t('explain unknown plan -> NotFound'), () =>
    expectCode(client.explain({ planId: 'plan-does-not-exist' }, opts), Code.NotFound));

  // A 1 ms timeout against a 2 s action: the client sends Connect-Timeout-Ms: 1
  // and sees DeadlineExceeded (whichever side notices first).
  await check(t('act sleep with 1 ms timeout -> DeadlineExceeded'), () =>
    expectCode(client.act({ action: 'sleep', params: { ms: 2000 } }, { timeoutMs: 1 }),
      Code.DeadlineExceeded));

  // The same, but only the server knows the deadline (Connect-Timeout-Ms: 200,
  // the client waits 5 s): the DeadlineExceeded must come from keid, promptly.
  await check(t('act sleep with server-side Connect-Timeout-Ms: 200 -> DeadlineExceeded'), async () => {
    const started = Date.now();
    const detail = await expectCode(
      client.act({ action: 'sleep', params: { ms: 2000 } }, {
        timeoutMs: CALL_TIMEOUT_MS,
        headers: { 'x-kei-test-server-timeout-ms': '200' },
      }),
      Code.DeadlineExceeded);
    if (detail) return detail;
    const took = Date.now() - started;
    if (took > 1500) return `server answered after ${took} ms, deadline was 200 ms`;
    return null;
  });

  // Server streaming: exactly max_events events with increasing sequences.
  await check(t('watch 3 events'), async () => {
    const seqs = [];
    for await (const ev of client.watch({ fromSequence: 1n, maxEvents: 3 }, opts)) {
      seqs.push(ev.sequence);
    }
    if (seqs.length !== 3) return `expected 3 events, got ${seqs.length}: ${safeJson(seqs)}`;
    for (let i = 1; i < seqs.length; i++) {
      if (!(seqs[i] > seqs[i - 1])) return `sequences not increasing: ${safeJson(seqs)}`;
    }
    return null;
  });

  // Observe: what the benchmark calls.
  await check(t('observe'), async () => {
    const res = await client.observe({ source: 'connect-node', content: 'hi' }, opts);
    if (!res.observationId.startsWith('obs-')) {
      return `observation_id ${safeJson(res.observationId)} does not start with "obs-"`;
    }
    if (!res.recordedAt || typeof res.recordedAt.seconds !== 'bigint' || res.recordedAt.seconds <= 0n) {
      return `recorded_at ${safeJson(res.recordedAt)} is not set`;
    }
    return null;
  });
}

async function main() {
  let args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`connect_node_client: ${e.message}`);
    console.error('usage: node connect_node_client.mjs <base_url> <descriptor_set.pb> '
      + '[--token TOKEN] [--expect-unauthenticated]');
    process.exit(2);
  }
  const [baseUrl, descriptorPath] = args.positional;

  const timer = setTimeout(() => {
    console.log(`not ok - global timeout: run exceeded ${GLOBAL_TIMEOUT_MS} ms`);
    process.exit(1);
  }, GLOBAL_TIMEOUT_MS);
  timer.unref();

  let service;
  await check('load descriptor set', () => {
    service = loadService(descriptorPath);
    return null;
  });
  if (!service) return finish();

  for (const codec of ['json', 'binary']) {
    const transport = createConnectTransport({
      baseUrl,
      httpVersion: '1.1',
      useBinaryFormat: codec === 'binary',
      interceptors: interceptors(args.token),
    });
    const client = createClient(service, transport);
    if (args.expectUnauthenticated) {
      await check(`${codec}: plan without valid credentials -> Unauthenticated`, () =>
        expectCode(client.plan({ objective: 'echo hello' }, { timeoutMs: CALL_TIMEOUT_MS }),
          Code.Unauthenticated));
    } else {
      await runChecks(client, codec);
    }
  }
  return finish();
}

function finish() {
  const failed = results.filter((ok) => !ok).length;
  console.log(`# ${results.length - failed} passed, ${failed} failed`);
  process.exit(failed === 0 && results.length > 0 ? 0 : 1);
}

main().catch((e) => {
  console.log(`not ok - unexpected error: ${describeError(e)}`);
  process.exit(1);
});
