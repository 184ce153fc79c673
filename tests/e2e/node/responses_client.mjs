// Drives inferencegw-proxy's POST /v1/responses with the official `openai` npm client
// (client.responses.create), streamed and not, against a backend that serves the Responses API
// (passthrough), an OpenAI-compatible chat backend and an Anthropic backend (translated).
// Run by tests/e2e/test_responses_node.py:
//   node responses_client.mjs --base-url http://127.0.0.1:PORT/v1
// Exits non-zero on the first failed check; prints one JSON object with what it saw.
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const args = process.argv.slice(2);
const baseURL = args[args.indexOf('--base-url') + 1];
assert.ok(baseURL, 'usage: node responses_client.mjs --base-url URL');

const client = new OpenAI({ baseURL, apiKey: 'sk-node-client-key', maxRetries: 0, timeout: 30000 });
const seen = {};

// Every model routes to one backend: OpenAI (passthrough), a vLLM-like chat backend, Anthropic.
const backends = {
  'gpt-4.1': 'Hello from openai 1 2 3 4',
  'llama-3': 'Hello from vllm 1 2 3 4',
  'claude-3-haiku': 'Hello from anthropic 1 2 3 4',
};

// A request with the features the translation carries: instructions, an image part, a function
// tool, and a call with its result in the history.
function richRequest(model) {
  return {
    model,
    instructions: 'Answer briefly.',
    max_output_tokens: 200,
    input: [
      {
        role: 'user',
        content: [
          { type: 'input_text', text: 'What is the weather in Paris?' },
          { type: 'input_image', image_url: 'data:image/png;base64,iVBORw0KGgo=' },
        ],
      },
      { type: 'function_call', call_id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' },
      { type: 'function_call_output', call_id: 'call_1', output: '22C and sunny' },
    ],
    tools: [{
      type: 'function', name: 'get_weather', description: 'Weather by city',
      parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
      strict: false,
    }],
  };
}

for (const [model, expected] of Object.entries(backends)) {
  // Not streamed: the SDK's output_text joins the output_text parts.
  const { data: whole, response } = await client.responses.create(richRequest(model)).withResponse();
  assert.equal(whole.object, 'response');
  assert.equal(whole.status, 'completed');
  assert.equal(whole.output_text, expected);
  assert.equal(whole.output[0].type, 'message');
  assert.equal(whole.usage.input_tokens, 10);
  assert.equal(whole.usage.output_tokens, 20);
  assert.equal(whole.usage.total_tokens, 30);
  assert.equal(typeof whole.usage.input_tokens_details.cached_tokens, 'number');
  seen[`whole_${model}`] = {
    text: whole.output_text, model: whole.model, backend: response.headers.get('x-inferencegw-backend'),
  };

  // Streamed: the SDK's event iterator, text deltas, and the final response with usage.
  const stream = await client.responses.create({ model, input: 'Say hello', stream: true });
  const types = [];
  let text = '';
  let completed = null;
  for await (const event of stream) {
    types.push(event.type);
    if (event.type === 'response.output_text.delta') text += event.delta;
    if (event.type === 'response.completed') completed = event.response;
  }
  assert.equal(types[0], 'response.created');
  assert.equal(types.at(-1), 'response.completed');
  assert.ok(types.includes('response.output_item.added'), types.join(','));
  assert.ok(types.includes('response.output_text.done'), types.join(','));
  assert.equal(text, expected);
  assert.ok(completed, 'no response.completed');
  assert.equal(completed.status, 'completed');
  assert.equal(completed.output[0].content[0].text, expected);
  assert.equal(completed.usage.total_tokens, 30);
  seen[`stream_${model}`] = { text, events: types.length, usage: completed.usage };

  // The SDK's stream helper assembles the same final response.
  const helper = client.responses.stream({ model, input: 'Say hello' });
  const final = await helper.finalResponse();
  assert.equal(final.output_text, expected);
}

// Stateful parameters: a 400 in OpenAI's error shape naming the parameter, for every backend.
for (const [extra, name] of [
  [{ previous_response_id: 'resp_123' }, 'previous_response_id'],
  [{ background: true }, 'background'],
]) {
  for (const model of Object.keys(backends)) {
    await assert.rejects(client.responses.create({ model, input: 'hi', ...extra }),
      (err) => {
        assert.ok(err instanceof OpenAI.BadRequestError, String(err));
        assert.equal(err.status, 400);
        assert.match(err.message, new RegExp(`'${name}'`));
        return true;
      });
  }
  seen[`refused_${name}`] = true;
}

// Input the translation cannot carry, and input that is not valid: typed 400s, never a crash.
await assert.rejects(
  client.responses.create({ model: 'claude-3-haiku', input: 'hi', tools: [{ type: 'web_search' }] }),
  (err) => err instanceof OpenAI.BadRequestError && /only function tools/.test(err.message));
await assert.rejects(client.responses.create({ model: 'gpt-4.1', input: 42 }),
  (err) => err instanceof OpenAI.BadRequestError && err.status === 400);

console.log(JSON.stringify(seen));
