// Preload (node --import) that forces every net/http server listen() onto
// 127.0.0.1, so peers started by the tests (server-everything, the
// conformance suite's mock servers) never listen beyond loopback.
//
// Node resolves a listen host through dns.lookup, which answers on a later
// tick; code that reads server.address().port right after listen(0) (the
// conformance suite's client-scenario mocks do) would find null. During
// listen, a lookup of the loopback literal is therefore answered at once.
import dns from 'node:dns';
import net from 'node:net';

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === 'object' && args[0] !== null && !Array.isArray(args[0])) {
    if (args[0].port !== undefined) args[0] = { ...args[0], host: '127.0.0.1' };
  } else if (typeof args[0] === 'number' || (typeof args[0] === 'string' && /^\d+$/.test(args[0]))) {
    const port = Number(args[0]);
    const rest = args.slice(1);
    if (typeof rest[0] === 'string') rest.shift();  // drop the caller's host
    args = [port, '127.0.0.1', ...rest];
  }
  const lookup = dns.lookup;
  dns.lookup = function (host, options, callback) {
    const cb = typeof options === 'function' ? options : callback;
    if (host === '127.0.0.1' && typeof cb === 'function' &&
        !(options && typeof options === 'object' && options.all)) {
      cb(null, '127.0.0.1', 4);
      return {};
    }
    return lookup.apply(this, arguments);
  };
  try {
    return listen.apply(this, args);
  } finally {
    dns.lookup = lookup;
  }
};
