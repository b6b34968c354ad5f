// Interop peer: a Node.js client built on the `ws` package (not the kit's
// code) that speaks the documented KEI stream protocol
// (docs/websocket-protocol.md) to keid's WebSocket endpoint. Prints one
// "ok <check>" / "not ok <check>: why" line per check and exits non-zero if
// any failed.
//
//   node ws_client.mjs ws://127.0.0.1:PORT/api/v1/stream [--token T] [--expect-unauthorized]
import WebSocket from 'ws';

const [url, ...rest] = process.argv.slice(2);
const token = rest.includes('--token') ? rest[rest.indexOf('--token') + 1] : '';
const expectUnauthorized = rest.includes('--expect-unauthorized');
let failures = 0;
const check = (name, ok, why = '') => {
  console.log(ok ? `ok ${name}` : `not ok ${name}: ${why}`);
  if (!ok) failures++;
};
setTimeout(() => { console.log('not ok timeout'); process.exit(2); }, 30000).unref();

// A connection with a frame inbox: next(pred) resolves with the first frame
// (already received or future) that pred accepts.
function connect() {
  return new Promise((resolve, reject) => {
    const headers = token ? { Authorization: `Bearer ${token}` } : {};
    const ws = new WebSocket(url, 'kei.stream.v1.json', { headers });
    const inbox = [];
    const waiters = [];
    ws.on('message', (data, isBinary) => {
      const frame = JSON.parse(String(data));
      frame.binary = isBinary;
      const i = waiters.findIndex((w) => w.pred(frame));
      if (i >= 0) waiters.splice(i, 1)[0].resolve(frame);
      else inbox.push(frame);
    });
    ws.on('unexpected-response', (req, res) => reject(new Error(`status ${res.statusCode}`)));
    ws.on('error', reject);
    ws.on('open', () => {
      const conn = {
        ws,
        send: (frame) => ws.send(JSON.stringify(frame)),
        next: (pred, ms = 10000) => new Promise((res, rej) => {
          const i = inbox.findIndex(pred);
          if (i >= 0) return res(inbox.splice(i, 1)[0]);
          const waiter = { pred, resolve: (f) => { clearTimeout(timer); res(f); } };
          const timer = setTimeout(() => {
            waiters.splice(waiters.indexOf(waiter), 1);  // a late frame goes to the inbox
            rej(new Error('no matching frame'));
          }, ms);
          waiters.push(waiter);
        }),
      };
      resolve(conn);
    });
  });
}
const is = (type, id) => (f) => f.type === type && (id === undefined || f.id === id);

async function main() {
  if (expectUnauthorized) {
    try {
      await connect();
      check('handshake refused without a token', false, 'upgrade succeeded');
    } catch (e) {
      check('handshake refused without a token', /401/.test(e.message), e.message);
    }
    return;
  }
  const a = await connect();
  const welcome = await a.next(is('welcome'));
  check('welcome', welcome.data.protocol === 'kei.stream.v1' && !welcome.binary &&
        typeof welcome.timestamp === 'string', JSON.stringify(welcome));

  a.send({ type: 'call', id: 'u1', method: 'kei.agent.v1.AgentService/Plan', data: { objective: 'write a report' } });
  const plan = await a.next((f) => f.id === 'u1');
  check('unary response', plan.type === 'response' && plan.data.planId.startsWith('plan-'), JSON.stringify(plan));

  a.send({ type: 'call', id: 'u2', method: 'kei.agent.v1.AgentService/Explain', data: {} });
  const bad = await a.next((f) => f.id === 'u2');
  check('unary error', bad.type === 'error' && bad.code === 'invalid_argument', JSON.stringify(bad));

  a.send({ type: 'call', id: 's1', method: 'kei.test.v1.EchoService/Expand', data: { text: 'x', count: 6 }, credit: 2 });
  const first = [await a.next(is('message', 's1')), await a.next(is('message', 's1'))];
  let stalled = true;
  try { await a.next(is('message', 's1'), 300); stalled = false; } catch { /* expected */ }
  check('server stream respects credit', stalled && first.every((f) => f.data.text === 'x'));
  a.send({ type: 'credit', id: 's1', credit: 10 });
  for (let i = 2; i < 6; i++) await a.next(is('message', 's1'));
  const end = await a.next(is('end', 's1'));
  check('server stream end', end.code === 'ok', JSON.stringify(end));

  a.send({ type: 'call', id: 'b1', method: 'kei.test.v1.EchoService/Chat' });
  const echoes = [];
  for (const text of ['one', 'two', 'three']) {
    a.send({ type: 'message', id: 'b1', data: { text } });
    echoes.push((await a.next(is('message', 'b1'))).data.text);
  }
  a.send({ type: 'half_close', id: 'b1' });
  await a.next(is('end', 'b1'));
  check('bidi echo', echoes.join(',') === 'one,two,three', echoes.join(','));

  a.send({ type: 'call', id: 'c1', method: 'kei.test.v1.EchoService/Collect', data: { text: 'a' } });
  a.send({ type: 'message', id: 'c1', data: { text: 'b' } });
  a.send({ type: 'half_close', id: 'c1' });
  const collected = await a.next(is('message', 'c1'));
  await a.next(is('end', 'c1'));
  check('client stream', collected.data.text === 'a b', JSON.stringify(collected));

  const b = await connect();
  await b.next(is('welcome'));
  a.send({ type: 'subscribe', id: 't1', topic: 'node.room' });
  b.send({ type: 'subscribe', id: 't2', topic: 'node.room' });
  await a.next(is('subscribed', 't1'));
  await b.next(is('subscribed', 't2'));
  b.send({ type: 'publish', id: 'p1', topic: 'node.room', data: { from: 'b' } });
  const published = await b.next(is('published', 'p1'));
  const ea = await a.next(is('event', 't1'));
  const eb = await b.next(is('event', 't2'));
  check('topic fan-out', ea.data.from === 'b' && eb.data.from === 'b' &&
        String(ea.sequence) === String(published.sequence), JSON.stringify([ea, eb, published]));

  a.send('{not json');
  const malformed = await a.next(is('error'));
  check('malformed frame', malformed.code === 'invalid_argument', JSON.stringify(malformed));
  a.send({ type: 'call', id: 'u3', method: 'kei.test.v1.EchoService/Echo', data: { text: 'still here' } });
  const after = await a.next((f) => f.id === 'u3');
  check('serves after bad input', after.type === 'response' && after.data.text === 'still here');

  const closed = new Promise((res) => a.ws.on('close', (code) => res(code)));
  a.ws.close(1000);
  check('close handshake', (await closed) === 1000);
  b.ws.close(1000);
}

main().then(
  () => process.exit(failures === 0 ? 0 : 1),
  (e) => { console.log(`not ok exception: ${e.message}`); process.exit(1); },
);
