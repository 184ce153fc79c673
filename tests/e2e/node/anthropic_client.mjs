// Drives inferencegw-proxy with the official `@anthropic-ai/sdk` npm client: token counting and
// the models endpoints, as Claude clients call them. Run by tests/e2e/test_anthropic_node.py,
// which starts the mocks and the proxy and passes its base URL:
//   node anthropic_client.mjs --base-url http://127.0.0.1:PORT
// Exits non-zero on the first failed check; prints one JSON object with what it saw.
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';

const args = process.argv.slice(2);
const baseURL = args[args.indexOf('--base-url') + 1];
assert.ok(baseURL, 'usage: node anthropic_client.mjs --base-url URL');

// The client's own key: the proxy must never forward it (the test checks the mocks).
const client = new Anthropic({ baseURL, apiKey: 'sk-ant-node-client-key', maxRetries: 0,
  timeout: 30000 });
const seen = {};

// count_tokens through the gateway to the Anthropic backend: the mock's count comes back.
const counted = await client.messages.countTokens({
  model: 'claude-smart',
  system: 'You are terse.',
  messages: [{ role: 'user', content: 'Count these five words please' }],
});
assert.equal(counted.input_tokens, 3 + 5 + 3);
seen.count = counted.input_tokens;

// A model on an OpenAI backend cannot be counted: a typed 404, not a made-up number.
await assert.rejects(client.messages.countTokens({
  model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }],
}), (err) => err instanceof Anthropic.NotFoundError && err.status === 404
  && err.error?.error?.type === 'not_found_error');

// models.retrieve in Anthropic's shape, with where the model goes.
const model = await client.models.retrieve('claude-smart');
assert.equal(model.type, 'model');
assert.equal(model.id, 'claude-smart');
assert.equal(model.display_name, 'claude-smart');
assert.ok(!Number.isNaN(Date.parse(model.created_at)), model.created_at);
assert.equal(model.inferencegw.backend_model, 'claude-served');
seen.model = model;
await assert.rejects(client.models.retrieve('no-such-model'),
  (err) => err instanceof Anthropic.NotFoundError && err.status === 404);

// models.list pages through Anthropic's list shape.
const ids = [];
for await (const m of client.models.list()) ids.push(m.id);
assert.ok(ids.includes('claude-smart') && ids.includes('gpt-4o'), ids.join(','));
seen.models = ids;

console.log(JSON.stringify(seen));
