// The peer for tools/bench/ws_bench: a plain Node.js WebSocket echo server on
// the `ws` package (pinned by tests/interop/package-lock.json). It sends every
// message straight back, as the fastest thing a Node.js server can do with a
// frame. Prints "listening ws://127.0.0.1:PORT/api/v1/stream".
//
//   node ws_echo_server.mjs [port]
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '../../tests/interop/package.json'));
const { WebSocketServer } = require('ws');

const wss = new WebSocketServer({ host: '127.0.0.1', port: Number(process.argv[2] || 0),
                                  path: '/api/v1/stream', perMessageDeflate: false });
wss.on('connection', (socket) => {
  socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
});
wss.on('listening', () => {
  console.log(`listening ws://127.0.0.1:${wss.address().port}/api/v1/stream`);
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(0));
