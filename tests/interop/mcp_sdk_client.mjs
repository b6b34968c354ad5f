// Interop peer: the official MCP TypeScript SDK Client (pinned by
// package-lock.json) against keid, over Streamable HTTP or stdio.
//   node mcp_sdk_client.mjs --http http://127.0.0.1:PORT/mcp [--token T]
//   node mcp_sdk_client.mjs --stdio /path/to/keid [keid flags...]
// Prints "ok <check>" or "not ok <check>: <why>" per check; exits 1 on any
// failure.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { ResourceUpdatedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';

const args = process.argv.slice(2);
let failed = 0;
function check(name, condition, detail = '') {
  if (condition) {
    console.log(`ok ${name}`);
  } else {
    failed++;
    console.log(`not ok ${name}: ${detail}`);
  }
}

let transport;
if (args[0] === '--http') {
  const tokenAt = args.indexOf('--token');
  const headers = tokenAt > 0 ? { authorization: `Bearer ${args[tokenAt + 1]}` } : {};
  transport = new StreamableHTTPClientTransport(new URL(args[1]), { requestInit: { headers } });
} else if (args[0] === '--stdio') {
  transport = new StdioClientTransport({ command: args[1], args: ['--mcp-stdio', ...args.slice(2)],
                                         stderr: 'ignore' });
} else {
  console.error('usage: mcp_sdk_client.mjs --http URL | --stdio KEID [flags]');
  process.exit(2);
}

const client = new Client({ name: 'kei-interop', version: '1.0.0' });
const timeout = setTimeout(() => { console.log('not ok timed out'); process.exit(1); }, 30000);
try {
  await client.connect(transport);
  const info = client.getServerVersion();
  check('initialize', info && info.name === 'keid', JSON.stringify(info));
  check('capabilities', client.getServerCapabilities()?.tools?.listChanged === true,
        JSON.stringify(client.getServerCapabilities()));
  check('ping', JSON.stringify(await client.ping()) === '{}');

  const { tools } = await client.listTools();
  const names = tools.map((t) => t.name);
  for (const name of ['plan', 'act', 'observe', 'explain']) {
    check(`tools/list has ${name}`, names.includes(name), names.join(','));
  }
  const act = tools.find((t) => t.name === 'act');
  check('act has a JSON Schema 2020-12 input schema',
        act?.inputSchema?.$schema === 'https://json-schema.org/draft/2020-12/schema' &&
        act.inputSchema.required?.includes('action'), JSON.stringify(act?.inputSchema));
  check('act has an output schema and a description', act?.outputSchema?.type === 'object' &&
        act.description.length > 0);

  const echo = await client.callTool({ name: 'act', arguments: { action: 'echo', params: { text: 'hi' } } });
  check('tools/call act echo (structured)', echo.structuredContent?.output === 'hi' && !echo.isError,
        JSON.stringify(echo));
  check('tools/call act echo (text)', echo.content?.[0]?.type === 'text' &&
        JSON.parse(echo.content[0].text).output === 'hi', JSON.stringify(echo.content));

  const failing = await client.callTool({ name: 'act', arguments: { action: 'no_such_action' } });
  check('a failing call is an isError result with the code', failing.isError === true &&
        failing.content[0].text.startsWith('INVALID_ARGUMENT'), JSON.stringify(failing));

  try {
    await client.callTool({ name: 'no_such_tool', arguments: {} });
    check('unknown tool is a JSON-RPC error', false, 'no error');
  } catch (e) {
    check('unknown tool is a JSON-RPC error', e.code === -32602, `${e.code} ${e.message}`);
  }

  const plan = await client.callTool({ name: 'plan', arguments: { objective: 'echo hello then count words in a b c' } });
  const planId = plan.structuredContent?.planId;
  check('tools/call plan', typeof planId === 'string' && planId.length > 0, JSON.stringify(plan));

  const { resources } = await client.listResources();
  check('resources/list', resources.some((r) => r.uri === 'kei://agent/actions'),
        JSON.stringify(resources));
  const actions = await client.readResource({ uri: 'kei://agent/actions' });
  check('resources/read actions', actions.contents[0].text.includes('`echo`'),
        JSON.stringify(actions));
  const { resourceTemplates } = await client.listResourceTemplates();
  check('resources/templates/list', resourceTemplates.some((t) => t.uriTemplate === 'kei://agent/plans/{plan_id}'));
  const stored = await client.readResource({ uri: `kei://agent/plans/${planId}` });
  check('resources/read through a template', JSON.parse(stored.contents[0].text).planId === planId,
        JSON.stringify(stored));
  try {
    await client.readResource({ uri: 'kei://agent/plans/nope' });
    check('unknown resource is an error', false, 'no error');
  } catch (e) {
    check('unknown resource is an error', e.code === -32002, `${e.code} ${e.message}`);
  }

  const { prompts } = await client.listPrompts();
  check('prompts/list', prompts.some((p) => p.name === 'plan_and_run' && p.arguments?.[0]?.required));
  const prompt = await client.getPrompt({ name: 'plan_and_run', arguments: { goal: 'greet the world' } });
  check('prompts/get', prompt.messages[0].content.text.includes('greet the world'),
        JSON.stringify(prompt));

  await client.setLoggingLevel('debug');
  check('logging/setLevel', true);

  // Subscribing to the events resource: an act records an event, which
  // arrives as notifications/resources/updated.
  const updated = new Promise((resolve) => {
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => resolve(n.params.uri));
  });
  await client.subscribeResource({ uri: 'kei://agent/events' });
  await client.callTool({ name: 'act', arguments: { action: 'echo', params: { text: 'again' } } });
  const uri = await Promise.race([updated, new Promise((r) => setTimeout(() => r('none'), 5000))]);
  check('resources/subscribe delivers updates', uri === 'kei://agent/events', uri);

  await client.close();
} catch (e) {
  check('session', false, e.stack || String(e));
}
clearTimeout(timeout);
process.exit(failed ? 1 : 0);
