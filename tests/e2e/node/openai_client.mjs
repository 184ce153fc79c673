// Drives inferencegw-proxy with the official `openai` npm client, streamed and not, and checks
// what a real client sees. Run by tests/e2e/test_openai_node.py, which starts the mocks and the
// proxy and passes its base URL:
//   node openai_client.mjs --base-url http://127.0.0.1:PORT/v1
// Exits non-zero on the first failed check; prints one JSON object with what it saw.
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const args = process.argv.slice(2);
const baseURL = args[args.indexOf('--base-url') + 1];
assert.ok(baseURL, 'usage: node openai_client.mjs --base-url URL');

// The client's own key: the proxy must never forward it (the test checks the mocks).
const client = new OpenAI({ baseURL, apiKey: 'sk-node-client-key', maxRetries: 0, timeout: 30000 });
const messages = [{ role: 'user', content: 'Say hello' }];
const seen = {};

async function collect(stream) {
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

function text(chunks) {
  return chunks.map((c) => c.choices.map((ch) => ch.delta?.content ?? '').join('')).join('');
}

// Not streamed, OpenAI-format backend.
const plain = await client.chat.completions.create({ model: 'gpt-4o', messages });
assert.equal(plain.object, 'chat.completion');
assert.equal(plain.choices[0].message.content, 'Hello from openai 1 2 3 4');
assert.equal(plain.usage.prompt_tokens, 10);
assert.equal(plain.usage.completion_tokens, 20);
seen.plain = plain.choices[0].message.content;

// Not streamed, translated from an Anthropic backend; withResponse() shows the headers.
const { data: claude, response } = await client.chat.completions
  .create({ model: 'claude-3-haiku', messages, max_tokens: 100 })
  .withResponse();
assert.equal(claude.choices[0].message.content, 'Hello from anthropic 1 2 3 4');
assert.equal(claude.model, 'claude-3-haiku');
assert.equal(claude.usage.total_tokens, 30);
assert.equal(response.headers.get('x-inferencegw-backend'), 'default/claude');
seen.claude = claude.choices[0].message.content;

// Streamed without include_usage: no usage chunk reaches the client.
const streamed = await collect(
  await client.chat.completions.create({ model: 'gpt-4o', messages, stream: true }));
assert.equal(text(streamed), 'Hello from openai 1 2 3 4');
assert.ok(streamed.every((c) => c.usage == null), 'a usage chunk the client did not ask for');
assert.equal(streamed.at(-1).choices[0].finish_reason, 'stop');
seen.streamed = { text: text(streamed), chunks: streamed.length };

// Streamed with include_usage, from both backends: the last chunk carries the usage.
for (const model of ['gpt-4o', 'claude-3-haiku']) {
  const chunks = await collect(await client.chat.completions.create({
    model, messages, stream: true, stream_options: { include_usage: true },
  }));
  const last = chunks.at(-1);
  assert.deepEqual(last.choices, []);
  assert.equal(last.usage.prompt_tokens, 10);
  assert.equal(last.usage.completion_tokens, 20);
  assert.equal(chunks.filter((c) => c.usage != null).length, 1);
  assert.match(text(chunks), /^Hello from (openai|anthropic) 1 2 3 4$/);
  seen[`usage_${model}`] = last.usage;
}

// A stream that breaks after its first chunks: the SDK gets them, then an error; no fallback.
const broken = await client.chat.completions.create({
  model: 'broken-model', messages, stream: true,
});
const before = [];
await assert.rejects(async () => {
  for await (const chunk of broken) before.push(chunk);
}, (err) => {
  assert.match(String(err.message), /upstream stream/);
  return true;
});
assert.equal(text(before), 'Hello from broken 1');
seen.broken = text(before);

// Errors surface as the SDK's typed errors.
await assert.rejects(client.chat.completions.create({ model: 'no-such-model', messages }),
  (err) => err instanceof OpenAI.NotFoundError && err.status === 404
    && err.code === 'model_not_found');
await assert.rejects(client.chat.completions.create({ model: 'gpt-4o', messages: 'not a list' }),
  (err) => err instanceof OpenAI.BadRequestError && err.status === 400);

// The model list.
const models = [];
for await (const model of client.models.list()) models.push(model.id);
assert.ok(models.includes('gpt-4o') && models.includes('broken-model'), models.join(','));
seen.models = models;

// models.retrieve: OpenAI's model object, with where the model goes; a typed 404 otherwise.
const model = await client.models.retrieve('gpt-4o');
assert.equal(model.object, 'model');
assert.equal(model.id, 'gpt-4o');
assert.equal(typeof model.created, 'number');
assert.deepEqual(model.inferencegw,
  { route: 'default/gpt', backend: 'default/gpt', backend_model: 'gpt-4o' });
seen.model = model;
await assert.rejects(client.models.retrieve('gpt-4'),
  (err) => err instanceof OpenAI.NotFoundError && err.status === 404
    && err.code === 'model_not_found');

console.log(JSON.stringify(seen));
