// Drives a real `kiln serve` (KILN_BIN) on stories260K-chatml.gguf
// (KILN_TEST_MODELS) through the official openai Node SDK: every endpoint,
// streaming and not, and the error statuses as the SDK raises them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import OpenAI from 'openai';

const bin = process.env.KILN_BIN;
const models = process.env.KILN_TEST_MODELS;
const skip = !bin || !models ? 'KILN_BIN and KILN_TEST_MODELS must be set' : false;

const MODEL = 'stories260K-chatml';
const KEY = 'sk-node-test';
// The golden greedy continuation of stories260K from BOS
// (shared/models/README.md).
const GOLDEN = ' Once upon a time, there was a little girl named Lily. She loved to play outside in the park.';

let proc;
let baseURL;
let client;

before(async () => {
  if (skip) return;
  proc = spawn(bin, [
    'serve', '--model', path.join(models, 'stories260K-chatml.gguf'),
    '--host', '127.0.0.1', '--port', '0', '--api-key', KEY, '--parallel', '2', '--threads', '1',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  // The server logs its address once it listens (--port 0: a free port).
  baseURL = await new Promise((resolve, reject) => {
    let log = '';
    const timer = setTimeout(() => reject(new Error(`kiln serve did not start:\n${log}`)), 20000);
    proc.stderr.on('data', (d) => {
      log += d;
      const m = /url=(http:\/\/127\.0\.0\.1:\d+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    proc.on('exit', (code) => reject(new Error(`kiln serve exited with ${code}:\n${log}`)));
  });
  proc.stderr.resume();
  client = new OpenAI({ apiKey: KEY, baseURL: `${baseURL}/v1`, maxRetries: 0 });
});

after(async () => {
  if (!proc) return;
  const exited = new Promise((resolve) => proc.on('exit', resolve));
  proc.kill('SIGTERM');
  await exited;
});

const chat = (extra = {}) => ({
  model: MODEL,
  messages: [{ role: 'user', content: 'Tell me a story.' }],
  max_tokens: 16,
  temperature: 0,
  ...extra,
});

test('models list and retrieve', { skip }, async () => {
  const page = await client.models.list();
  assert.deepEqual(page.data.map((m) => m.id), [MODEL]);
  assert.equal(page.data[0].object, 'model');
  assert.equal(page.data[0].owned_by, 'kiln');
  const m = await client.models.retrieve(MODEL);
  assert.equal(m.id, MODEL);
  await assert.rejects(client.models.retrieve('gpt-4'), (e) => e instanceof OpenAI.NotFoundError && e.status === 404);
});

test('chat completion, streamed and not, agree exactly', { skip }, async () => {
  const r = await client.chat.completions.create(chat());
  assert.equal(r.object, 'chat.completion');
  assert.match(r.id, /^chatcmpl-/);
  assert.match(r.system_fingerprint, /^fp_kiln-/);
  assert.equal(r.choices.length, 1);
  assert.equal(r.choices[0].message.role, 'assistant');
  assert.equal(r.choices[0].finish_reason, 'length');
  assert.equal(r.choices[0].message.refusal, null);
  assert.equal(r.usage.completion_tokens, 16);
  assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + 16);
  assert.ok(r.choices[0].message.content.length > 10);

  const stream = await client.chat.completions.create(chat({ stream: true, stream_options: { include_usage: true } }));
  let text = '';
  const chunks = [];
  for await (const c of stream) {
    chunks.push(c);
    for (const ch of c.choices) text += ch.delta.content ?? '';
  }
  assert.equal(chunks[0].choices[0].delta.role, 'assistant');
  assert.equal(text, r.choices[0].message.content);
  const last = chunks.at(-1);
  assert.deepEqual(last.choices, []);
  assert.deepEqual(last.usage, r.usage);
  assert.equal(chunks.at(-2).choices[0].finish_reason, 'length');
});

test('chat stop sequence is cut', { skip }, async () => {
  const full = (await client.chat.completions.create(chat({ max_tokens: 30 }))).choices[0].message.content;
  const stop = full.slice(8, 11);
  const r = await client.chat.completions.create(chat({ max_tokens: 30, stop: [stop] }));
  assert.equal(r.choices[0].message.content, full.slice(0, full.indexOf(stop)));
  assert.equal(r.choices[0].finish_reason, 'stop');
});

test('chat logprobs and seeded n', { skip }, async () => {
  const r = await client.chat.completions.create(chat({ logprobs: true, top_logprobs: 2, max_tokens: 8 }));
  const lp = r.choices[0].logprobs.content;
  assert.equal(lp.length, 8);
  assert.equal(lp.map((t) => t.token).join(''), r.choices[0].message.content);
  for (const t of lp) {
    assert.equal(t.top_logprobs.length, 2);
    assert.equal(t.top_logprobs[0].token, t.token); // greedy picks the best
    assert.deepEqual(t.bytes, [...Buffer.from(t.token)]);
  }
  const seeded = chat({ temperature: 1, seed: 11, n: 2, max_tokens: 12 });
  const a = await client.chat.completions.create(seeded);
  const b = await client.chat.completions.create(seeded);
  assert.equal(a.choices.length, 2);
  assert.deepEqual(a.choices.map((c) => c.message.content), b.choices.map((c) => c.message.content));
});

test('chat JSON schema and forced tool call', { skip }, async () => {
  const schema = {
    type: 'object',
    properties: { color: { enum: ['red', 'blue'] }, n: { type: 'integer', minimum: 0, maximum: 9 } },
    required: ['color', 'n'],
    additionalProperties: false,
  };
  const r = await client.chat.completions.create(chat({
    max_tokens: 60,
    response_format: { type: 'json_schema', json_schema: { name: 'x', schema, strict: true } },
  }));
  const v = JSON.parse(r.choices[0].message.content);
  assert.ok(['red', 'blue'].includes(v.color));
  assert.ok(Number.isInteger(v.n) && v.n >= 0 && v.n <= 9);

  const t = await client.chat.completions.create(chat({
    max_tokens: 60,
    tools: [{ type: 'function', function: { name: 'pick', parameters: schema } }],
    tool_choice: { type: 'function', function: { name: 'pick' } },
  }));
  const c = t.choices[0];
  assert.equal(c.finish_reason, 'tool_calls');
  assert.equal(c.message.content, null);
  assert.equal(c.message.tool_calls[0].function.name, 'pick');
  assert.match(c.message.tool_calls[0].id, /^call_/);
  const args = JSON.parse(c.message.tool_calls[0].function.arguments);
  assert.ok(['red', 'blue'].includes(args.color));
});

test('completions reproduce the golden continuation', { skip }, async () => {
  const params = { model: MODEL, prompt: [1], max_tokens: 20, temperature: 0 };
  const r = await client.completions.create(params);
  assert.equal(r.object, 'text_completion');
  const text = r.choices[0].text;
  assert.ok(text.length > 40 && GOLDEN.startsWith(text), `got ${JSON.stringify(text)}`);
  assert.equal(r.usage.prompt_tokens, 1);
  assert.equal(r.usage.completion_tokens, 20);

  const stream = await client.completions.create({ ...params, stream: true });
  let streamed = '';
  let last;
  for await (const c of stream) {
    last = c;
    for (const ch of c.choices) streamed += ch.text;
  }
  assert.equal(streamed, text);
  assert.equal(last.choices[0].finish_reason, 'length');
  assert.deepEqual(last.usage, r.usage); // usage in the last chunk (spec 003)

  const echo = await client.completions.create({ model: MODEL, prompt: 'Once upon a time', max_tokens: 4, temperature: 0, echo: true, logprobs: 1, stop: ['\n'] });
  const c = echo.choices[0];
  assert.ok(c.text.startsWith('Once upon a time'));
  assert.equal(c.logprobs.token_logprobs[0], null);
  assert.equal(c.logprobs.tokens.length, c.logprobs.text_offset.length);
});

test('tokenize and detokenize round trip', { skip }, async () => {
  const post = (p, body) => fetch(`${baseURL}${p}`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  }).then((r) => r.json());
  const { tokens } = await post('/tokenize', { model: MODEL, prompt: 'Once upon a time' });
  assert.equal(tokens[0], 1);
  const { prompt } = await post('/detokenize', { model: MODEL, tokens: tokens.slice(1) });
  assert.equal(prompt.trim(), 'Once upon a time');
});

test('error statuses', { skip }, async () => {
  const bad = new OpenAI({ apiKey: 'sk-wrong', baseURL: `${baseURL}/v1`, maxRetries: 0 });
  await assert.rejects(bad.models.list(), (e) => e instanceof OpenAI.AuthenticationError && e.status === 401 && e.code === 'invalid_api_key');
  await assert.rejects(client.chat.completions.create(chat({ model: 'gpt-4' })),
    (e) => e instanceof OpenAI.NotFoundError && e.code === 'model_not_found');
  await assert.rejects(client.chat.completions.create(chat({ temperature: 'hot' })),
    (e) => e instanceof OpenAI.BadRequestError && e.param === 'temperature');
  await assert.rejects(client.completions.create({ model: MODEL, prompt: [1, 99999], max_tokens: 1 }),
    (e) => e instanceof OpenAI.BadRequestError && e.param === 'prompt[1]');
  await assert.rejects(client.completions.create({ model: MODEL, prompt: 'a', max_tokens: 5000, context_length_exceeded_behavior: 'error' }),
    (e) => e instanceof OpenAI.BadRequestError && e.code === 'context_length_exceeded');

  const raw = async (method, p, body) => {
    const r = await fetch(`${baseURL}${p}`, { method, headers: { Authorization: `Bearer ${KEY}` }, body });
    return { status: r.status, body: await r.json(), allow: r.headers.get('allow') };
  };
  const notFound = await raw('GET', '/v1/nope');
  assert.equal(notFound.status, 404);
  assert.deepEqual(Object.keys(notFound.body.error).sort(), ['code', 'message', 'param', 'type']);
  const wrongMethod = await raw('GET', '/v1/completions');
  assert.equal(wrongMethod.status, 405);
  assert.equal(wrongMethod.allow, 'POST');
  const tooBig = await raw('POST', '/v1/completions', JSON.stringify({ model: MODEL, prompt: 'a'.repeat(9 << 20) }));
  assert.equal(tooBig.status, 413);
  const health = await fetch(`${baseURL}/health`);
  assert.equal(health.status, 200);
});
