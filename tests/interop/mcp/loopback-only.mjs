// Preload (node --import) that forces every net/http server listen() onto 127.0.0.1.
import net from 'node:net';
const orig = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === 'object' && args[0] !== null && !Array.isArray(args[0])) {
    if (args[0].port !== undefined) args[0] = { ...args[0], host: '127.0.0.1' };
  } else if (typeof args[0] === 'number' || (typeof args[0] === 'string' && /^\d+$/.test(args[0]))) {
    const port = Number(args[0]);
    const rest = args.slice(1);
    if (typeof rest[0] === 'string') rest.shift(); // drop caller host
    args = [port, '127.0.0.1', ...rest];
  }
  return orig.apply(this, args);
};
