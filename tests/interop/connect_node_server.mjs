// Benchmark peer: kei.agent.v1.AgentService/Observe implemented on
// @connectrpc/connect-node, the reference point tools/bench/http_bench compares
// keid's HTTP adapter with ("the same service on connect-node"). It speaks the
// Connect protocol (and gRPC/gRPC-Web, which connect-node adds for free) over
// plain HTTP/1.1 with keep-alive, like keid's listener.
//
// Usage: node connect_node_server.mjs <port> <descriptor_set.pb>
// Port 0 picks a free port. Prints "listening http://127.0.0.1:PORT" once ready
// and serves until SIGINT/SIGTERM. The service is built at run time from the
// binary FileDescriptorSet (bazel-bin/proto/agent_descriptor_set.pb); only
// Observe is implemented, the other methods answer Unimplemented.

import http from 'node:http';
import { readFileSync } from 'node:fs';
import process from 'node:process';
import { createFileRegistry, fromBinary } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema, timestampNow } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError } from '@connectrpc/connect';
import { connectNodeAdapter } from '@connectrpc/connect-node';

const SERVICE = 'kei.agent.v1.AgentService';

const [portArg, descriptorPath] = process.argv.slice(2);
if (portArg === undefined || !descriptorPath || !/^\d+$/.test(portArg)) {
  console.error('usage: node connect_node_server.mjs <port> <descriptor_set.pb>');
  process.exit(2);
}

const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, readFileSync(descriptorPath)));
const service = registry.getService(SERVICE);
if (!service) {
  console.error(`connect_node_server: ${SERVICE} not in ${descriptorPath}`);
  process.exit(1);
}

let sequence = 0n;

const handler = connectNodeAdapter({
  routes(router) {
    router.service(service, {
      // Same contract as keid's Observe: source and content are required, the
      // answer carries "obs-<sequence>", the sequence and the time recorded.
      async observe(req) {
        if (!req.source) throw new ConnectError('source: required field is empty', Code.InvalidArgument);
        if (!req.content) throw new ConnectError('content: required field is empty', Code.InvalidArgument);
        sequence += 1n;
        return {
          observationId: `obs-${sequence}`,
          sequence,
          recordedAt: timestampNow(),
        };
      },
    });
  },
});

const server = http.createServer(handler);
server.keepAliveTimeout = 60000;
server.listen(Number(portArg), '127.0.0.1', () => {
  console.log(`listening http://127.0.0.1:${server.address().port}`);
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    server.close();
    server.closeAllConnections?.();
    process.exit(0);
  });
}
