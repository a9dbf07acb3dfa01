// Drives a real `kiln serve` (KILN_BIN) on stories260K-chatml.gguf
// (KILN_TEST_MODELS) through the official openai Node SDK: every endpoint,
// streaming and not, every request field (with its effect where one can be
// observed on this tiny model) and every error status (400, 401, 404, 405,
// 413, 429) as the SDK's error classes raise them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startKiln, stop, skip } from '../kiln.mjs';


const MODEL = 'stories260K-chatml';
const KEY = 'sk-node-test';
// The golden greedy continuation of stories260K from BOS
// (shared/models/README.md).
const GOLDEN = ' Once upon a time, there was a little girl named Lily. She loved to play outside in the park.';

let proc;
let baseURL;
let client;
const extra = []; // further servers started by tests, stopped in after()

before(async () => {
  if (skip) return;
  // F32 keys and values, as llama.cpp had when it made the reference
  // logprobs this suite holds the server to within 1e-4 (F16, the default,
  // moves them by up to ~1e-2 on these models).
  ({ proc, url: baseURL } = await startKiln('stories260K-chatml.gguf', ['--api-key', KEY, '--parallel', '2', '--kv-type', 'f32']));
  client = new OpenAI({ apiKey: KEY, baseURL: `${baseURL}/v1`, maxRetries: 0 });
});

after(async () => {
  await Promise.all([proc, ...extra].filter(Boolean).map(stop));
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
  // The same counts, except that the second request found the first's
  // prompt in the prefix cache (whole blocks of 16 positions).
  const { prompt_tokens_details: cachedSecond, ...second } = last.usage;
  const { prompt_tokens_details: cachedFirst, ...first } = r.usage;
  assert.deepEqual(second, first);
  assert.equal(cachedSecond.cached_tokens, Math.floor((r.usage.prompt_tokens - 1) / 16) * 16);
  assert.ok(cachedFirst.cached_tokens <= cachedSecond.cached_tokens);
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
  // The tokens spell the echoed text exactly and each offset is where its
  // token starts in it (BOS has no text; the prompt's SentencePiece space
  // is not in the echo).
  assert.equal(c.logprobs.tokens.join(''), c.text);
  let off = 0;
  c.logprobs.tokens.forEach((tok, i) => {
    assert.equal(c.logprobs.text_offset[i], off);
    off += Buffer.byteLength(tok);
  });
  assert.deepEqual(c.logprobs.tokens.slice(0, 5), ['', 'Once', ' upon', ' a', ' time']);
});

test('tokenize and detokenize round trip', { skip }, async () => {
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

  // 404 and 405 on routes, 413 on bodies, through the SDK's error classes.
  await assert.rejects(client.get('/nope'), (e) => e instanceof OpenAI.NotFoundError && e.status === 404 && e.error?.code === 'unknown_url');
  await assert.rejects(client.get('/completions'),
    (e) => e instanceof OpenAI.APIError && e.status === 405 && e.headers.get('allow') === 'POST' && e.error?.code === 'method_not_allowed');
  await assert.rejects(client.completions.create({ model: MODEL, prompt: 'a'.repeat(9 << 20) }),
    (e) => e instanceof OpenAI.APIError && e.status === 413 && e.error?.code === 'request_too_large');
  const raw = await fetch(`${baseURL}/v1/nope`, { headers: { Authorization: `Bearer ${KEY}` } });
  assert.deepEqual(Object.keys((await raw.json()).error).sort(), ['code', 'message', 'param', 'type']);
  const health = await fetch(`${baseURL}/health`);
  assert.equal(health.status, 200);
});

const post = (p, body) => fetch(`${baseURL}${p}`, {
  method: 'POST',
  headers: { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json' },
  body: JSON.stringify(body),
}).then((r) => r.json());

test('sampling fields: filters, penalties, bias, seeds', { skip }, async () => {
  const content = async (extra) => (await client.chat.completions.create(chat({ max_tokens: 20, ...extra }))).choices[0].message.content;
  const greedy = await content({});
  // Filters that keep only the best token reproduce greedy decoding under
  // temperature 1; the non-OpenAI fields go in the body as the SDK sends
  // unknown params.
  for (const f of [{ top_k: 1 }, { top_p: 1e-9 }, { min_p: 1 }]) {
    assert.equal(await content({ temperature: 1, seed: 5, ...f }), greedy, JSON.stringify(f));
  }
  for (const f of [{ frequency_penalty: 2 }, { presence_penalty: 2 }, { repetition_penalty: 3 }]) {
    assert.notEqual(await content(f), greedy, `${JSON.stringify(f)} had no effect`);
  }
  // logit_bias +100 forces a token: the output is that token repeated.
  const { prompt: forced } = await post('/detokenize', { model: MODEL, tokens: [300, 300, 300] });
  assert.equal(await content({ logit_bias: { 300: 100 }, max_tokens: 3 }), forced);
  // max_completion_tokens bounds the completion; user is accepted.
  const r = await client.chat.completions.create(chat({ max_tokens: undefined, max_completion_tokens: 5, user: 'node-suite' }));
  assert.equal(r.usage.completion_tokens, 5);
  assert.equal(r.choices[0].finish_reason, 'length');
  // Seeded n: reproducible, distinct choices; choice 0 does not depend on n.
  const seeded = chat({ temperature: 1, seed: 42, n: 3, max_tokens: 12 });
  const a = (await client.chat.completions.create(seeded)).choices.map((c) => c.message.content);
  const b = (await client.chat.completions.create(seeded)).choices.map((c) => c.message.content);
  assert.deepEqual(a, b);
  assert.equal(new Set(a).size, 3);
  assert.equal((await client.chat.completions.create({ ...seeded, n: 1 })).choices[0].message.content, a[0]);
  const next = (await client.chat.completions.create({ ...seeded, seed: 43 })).choices.map((c) => c.message.content);
  assert.ok(next.every((x) => !a.includes(x)), 'seed 43 repeats a choice of seed 42');
});

test('chat stop with logprobs: no tokens of the cut stop text', { skip }, async () => {
  const full = await client.chat.completions.create(chat({ max_tokens: 30, logprobs: true }));
  const toks = full.choices[0].logprobs.content.map((t) => t.token);
  const before = toks.slice(0, 6).join('');
  const stopText = toks.slice(6, 9).join('');
  const r = await client.chat.completions.create(chat({ max_tokens: 30, logprobs: true, stop: stopText }));
  assert.equal(r.choices[0].message.content, before);
  assert.deepEqual(r.choices[0].logprobs.content.map((t) => t.token), toks.slice(0, 6));
  const stream = await client.chat.completions.create(chat({ max_tokens: 30, logprobs: true, stop: [stopText], stream: true }));
  let text = '';
  const streamed = [];
  for await (const c of stream) {
    for (const ch of c.choices) {
      text += ch.delta.content ?? '';
      if (ch.logprobs) {
        assert.ok(ch.delta.content, 'logprobs in a chunk without content');
        streamed.push(...ch.logprobs.content.map((t) => t.token));
      }
    }
  }
  assert.equal(text, before);
  assert.deepEqual(streamed, toks.slice(0, 6));
});

test('response_format json_object, tools, parallel_tool_calls, legacy functions', { skip }, async () => {
  const obj = await client.chat.completions.create(chat({ max_tokens: 60, seed: 1, temperature: 1, response_format: { type: 'json_object' } }));
  const c0 = obj.choices[0];
  if (c0.finish_reason === 'stop') {
    const v = JSON.parse(c0.message.content);
    assert.equal(typeof v, 'object');
    assert.ok(v !== null && !Array.isArray(v));
  } else {
    assert.ok(c0.message.content.startsWith('{'));
  }
  const params = { type: 'object', properties: { tz: { type: 'string', maxLength: 8 } }, required: ['tz'], additionalProperties: false };
  const tools = [{ type: 'function', function: { name: 'get_time', parameters: params } }];
  const req = chat({ max_tokens: 80, tools, tool_choice: 'required', parallel_tool_calls: false, logprobs: true });
  const r = await client.chat.completions.create(req);
  assert.equal(r.choices[0].finish_reason, 'tool_calls');
  assert.equal(r.choices[0].message.tool_calls.length, 1);
  assert.equal(typeof JSON.parse(r.choices[0].message.tool_calls[0].function.arguments).tz, 'string');
  // Streamed: logprobs ride with the call, not in empty content chunks.
  const stream = await client.chat.completions.create({ ...req, stream: true, stream_options: { include_usage: true } });
  let calls = 0;
  let ntoks = 0;
  let usage;
  for await (const c of stream) {
    if (c.usage) usage = c.usage;
    for (const ch of c.choices) {
      // A streamed call is a first delta with its id, then argument fragments.
      if (ch.delta.tool_calls) calls += ch.delta.tool_calls.filter((tc) => tc.id).length;
      if (ch.logprobs) {
        assert.ok(ch.delta.tool_calls, 'logprobs outside the tool call chunk');
        ntoks += ch.logprobs.content.length;
      }
    }
  }
  assert.equal(calls, 1);
  assert.equal(ntoks, usage.completion_tokens);

  const legacy = await client.chat.completions.create(chat({
    max_tokens: 80, functions: [{ name: 'get_time', parameters: params }], function_call: { name: 'get_time' },
  }));
  assert.equal(legacy.choices[0].finish_reason, 'function_call');
  assert.equal(legacy.choices[0].message.function_call.name, 'get_time');
  assert.equal(typeof JSON.parse(legacy.choices[0].message.function_call.arguments).tz, 'string');
});

test('completions: n, stop, seed, context_length_exceeded_behavior, limits', { skip }, async () => {
  const base = { model: MODEL, prompt: 'Once upon a time', temperature: 0 };
  const full = (await client.completions.create({ ...base, max_tokens: 20 })).choices[0].text;
  const stopAt = full.indexOf(' ', 4);
  const stopText = full.slice(stopAt, stopAt + 3);
  const kept = await client.completions.create({ ...base, max_tokens: 20, stop: stopText });
  assert.equal(kept.choices[0].text, full.slice(0, full.indexOf(stopText) + stopText.length)); // kept (003)
  const two = await client.completions.create({ ...base, prompt: ['Once', 'Lily'], n: 2, max_tokens: 4, temperature: 1, seed: 9 });
  assert.equal(two.choices.length, 4);
  assert.deepEqual(two.choices.map((c) => c.index), [0, 1, 2, 3]);
  // truncate (the default) shrinks max_tokens to the context; error refuses.
  // The context is 2048 positions: a 2040-token prompt leaves room for 8.
  const long = { ...base, prompt: [1, ...Array(2039).fill(403)], max_tokens: 5000, logit_bias: { 2: -100 } };
  const t = await client.completions.create({ ...long, context_length_exceeded_behavior: 'truncate' });
  assert.equal(t.choices[0].finish_reason, 'length');
  assert.equal(t.usage.completion_tokens, 8);
  await assert.rejects(client.completions.create({ ...long, context_length_exceeded_behavior: 'error' }),
    (e) => e instanceof OpenAI.BadRequestError && e.code === 'context_length_exceeded' && e.param === 'max_tokens');
  // More choices than the server can ever hold: a 400 naming the limit, not a 429.
  await assert.rejects(client.completions.create({ ...base, prompt: ['a', 'b', 'c'], n: 30, max_tokens: 1 }),
    (e) => e instanceof OpenAI.BadRequestError && e.param === 'prompt' && /at most 66/.test(e.message));
  await assert.rejects(client.chat.completions.create(chat({ n: 128, max_tokens: 1 })),
    (e) => e instanceof OpenAI.BadRequestError && e.param === 'n');
});

test('429 when the only slot is busy, through RateLimitError', { skip }, async () => {
  const busy = await startKiln('stories260K-chatml.gguf', ['--parallel', '1', '--queue', '0']);
  extra.push(busy.proc);
  const c = new OpenAI({ apiKey: 'unused', baseURL: `${busy.url}/v1`, maxRetries: 0 });
  const ac = new AbortController();
  // End-of-text banned: the stream runs for seconds, holding the slot.
  const hold = await c.completions.create({ model: MODEL, prompt: 'Once', max_tokens: 2000, logit_bias: { 2: -100 }, stream: true }, { signal: ac.signal });
  const it = hold[Symbol.asyncIterator]();
  await it.next();
  await assert.rejects(c.chat.completions.create(chat({ max_tokens: 2 })),
    (e) => e instanceof OpenAI.RateLimitError && e.status === 429 && e.headers.get('retry-after') !== null);
  ac.abort();
  await it.return?.().catch(() => {});
  let ok = false;
  for (let i = 0; i < 100 && !ok; i++) {
    try {
      await c.chat.completions.create(chat({ max_tokens: 2 }));
      ok = true;
    } catch (e) {
      if (!(e instanceof OpenAI.RateLimitError)) throw e;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  assert.ok(ok, 'the slot was not freed after the stream was aborted');
});
