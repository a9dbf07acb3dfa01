// Drives a real `kiln serve` (KILN_BIN) on stories260K-chatml.gguf
// (KILN_TEST_MODELS) through the official openai Node SDK for issue 6:
// every response_format form, every tool_choice form, tool calls streamed and
// not, the deprecated functions/function_call API and every validation error.
// The story model knows nothing of JSON or tools, so every well-formed output
// below is the constrained decoder's doing; the checks validate the outputs
// by hand against their schemas.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import { startKiln, stop, skip } from '../kiln.mjs';


const MODEL = 'stories260K-chatml';

let proc;
let client;

before(async () => {
  if (skip) return;
  let url;
  ({ proc, url } = await startKiln('stories260K-chatml.gguf', ['--parallel', '4']));
  client = new OpenAI({ apiKey: 'unused', baseURL: `${url}/v1`, maxRetries: 0 });
});

after(async () => {
  if (proc) await stop(proc);
});

const chat = (extra = {}) => ({
  model: MODEL,
  messages: [{ role: 'user', content: 'What is the weather in Paris?' }],
  max_tokens: 120,
  temperature: 0,
  seed: 7,
  ...extra,
});

// A schema with every common shape: enum, bounded integer, bounded string,
// boolean and an array, all required and nothing else allowed.
const SCHEMA = {
  type: 'object',
  properties: {
    city: { type: 'string', maxLength: 12 },
    unit: { type: 'string', enum: ['celsius', 'fahrenheit'] },
    days: { type: 'integer', minimum: 1, maximum: 7 },
    rain: { type: 'boolean' },
    tags: { type: 'array', items: { type: 'string', maxLength: 6 }, maxItems: 2 },
  },
  required: ['city', 'unit', 'days', 'rain', 'tags'],
  additionalProperties: false,
};

// checkSchema asserts that v satisfies SCHEMA, keyword by keyword.
function checkSchema(v) {
  assert.equal(typeof v, 'object');
  assert.ok(v !== null && !Array.isArray(v));
  assert.deepEqual(Object.keys(v).sort(), ['city', 'days', 'rain', 'tags', 'unit']);
  assert.equal(typeof v.city, 'string');
  assert.ok([...v.city].length <= 12, `city too long: ${v.city}`);
  assert.ok(['celsius', 'fahrenheit'].includes(v.unit), `unit ${v.unit}`);
  assert.ok(Number.isInteger(v.days) && v.days >= 1 && v.days <= 7, `days ${v.days}`);
  assert.equal(typeof v.rain, 'boolean');
  assert.ok(Array.isArray(v.tags) && v.tags.length <= 2);
  for (const t of v.tags) assert.ok(typeof t === 'string' && [...t].length <= 6, `tag ${t}`);
}

const WEATHER = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Weather for a city.',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string', maxLength: 10 }, unit: { type: 'string', enum: ['c', 'f'] } },
      required: ['city', 'unit'],
      additionalProperties: false,
    },
  },
};
const TIME = {
  type: 'function',
  function: {
    name: 'get_time',
    parameters: {
      type: 'object',
      properties: { tz: { type: 'integer', minimum: -12, maximum: 14 } },
      required: ['tz'],
      additionalProperties: false,
    },
  },
};

function checkWeatherArgs(s) {
  const a = JSON.parse(s);
  assert.deepEqual(Object.keys(a).sort(), ['city', 'unit']);
  assert.ok(typeof a.city === 'string' && [...a.city].length <= 10);
  assert.ok(['c', 'f'].includes(a.unit));
  return a;
}

function checkTimeArgs(s) {
  const a = JSON.parse(s);
  assert.deepEqual(Object.keys(a), ['tz']);
  assert.ok(Number.isInteger(a.tz) && a.tz >= -12 && a.tz <= 14);
  return a;
}

// --- response_format ---------------------------------------------------------

// jsonPrefix reports whether s is a prefix of some JSON document: it parses
// by recursive descent and treats running out of input as success, so a
// generation cut by max_tokens can still be checked for well-formedness.
function jsonPrefix(s) {
  let i = 0;
  const EOF = Symbol('eof');
  const peek = () => { if (i >= s.length) throw EOF; return s[i]; };
  const ws = () => { while (i < s.length && ' \t\n\r'.includes(s[i])) i++; };
  const lit = (w) => { for (const ch of w) { if (peek() !== ch) throw new Error(`bad literal at ${i}`); i++; } };
  const str = () => {
    lit('"');
    for (;;) {
      const ch = peek();
      i++;
      if (ch === '"') return;
      if (ch < ' ') throw new Error(`control character at ${i - 1}`);
      if (ch === '\\') {
        const e = peek();
        i++;
        if (e === 'u') { for (let k = 0; k < 4; k++) { if (!/[0-9a-fA-F]/.test(peek())) throw new Error('bad \\u'); i++; } }
        else if (!'"\\/bfnrt'.includes(e)) throw new Error(`bad escape at ${i}`);
      }
    }
  };
  const num = () => {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(s.slice(i));
    if (!m || m[0] === '') throw new Error(`bad number at ${i}`);
    i += m[0].length;
  };
  const value = () => {
    ws();
    const ch = peek();
    if (ch === '{') {
      i++; ws();
      if (peek() === '}') { i++; return; }
      for (;;) {
        ws(); str(); ws(); lit(':'); value(); ws();
        const c = peek(); i++;
        if (c === '}') return;
        if (c !== ',') throw new Error(`bad object at ${i - 1}`);
      }
    } else if (ch === '[') {
      i++; ws();
      if (peek() === ']') { i++; return; }
      for (;;) {
        value(); ws();
        const c = peek(); i++;
        if (c === ']') return;
        if (c !== ',') throw new Error(`bad array at ${i - 1}`);
      }
    } else if (ch === '"') str();
    else if (ch === 't') lit('true');
    else if (ch === 'f') lit('false');
    else if (ch === 'n') lit('null');
    else num();
  };
  try {
    value();
    ws();
    return i === s.length;
  } catch (e) {
    if (e === EOF) return true;
    return false;
  }
}

test('jsonPrefix accepts prefixes and rejects malformed text', () => {
  for (const ok of ['{', '{"a', '{"a":', '{"a": [1, 2.5e3, tr', '{"a":"\\u00', '{"a":{}}']) assert.ok(jsonPrefix(ok), ok);
  for (const bad of ['}', '{a', '{"a" 1', '{"a":1}}', '{"a":01', '{"a":"\\x"}', '{"a":1,}']) assert.ok(!jsonPrefix(bad), bad);
});

test('json_object on chat and completions keeps to a JSON object', { skip }, async () => {
  // The story model writes stories inside JSON strings and never closes
  // them, so free json_object output runs to max_tokens: the finish reason
  // must say length and the text must be a well-formed prefix of an object.
  const outs = [];
  for (const seed of [1, 2, 3]) {
    const r = await client.chat.completions.create(chat({
      seed, temperature: 1, max_tokens: 120, response_format: { type: 'json_object' },
    }));
    outs.push([r.choices[0].finish_reason, r.choices[0].message.content]);
    const c = await client.completions.create({
      model: MODEL, prompt: 'Once upon a time', seed, temperature: 1, max_tokens: 120, response_format: { type: 'json_object' },
    });
    outs.push([c.choices[0].finish_reason, c.choices[0].text]);
  }
  for (const [finish, text] of outs) {
    assert.ok(text.startsWith('{'), text);
    if (finish === 'stop') {
      const v = JSON.parse(text);
      assert.ok(v !== null && typeof v === 'object' && !Array.isArray(v));
    } else {
      assert.equal(finish, 'length');
      assert.ok(jsonPrefix(text), `not a JSON prefix: ${text}`);
    }
  }

  // Steered by logit_bias toward "}", the object closes at once: the
  // constraint lets the bias act only where "}" is legal.
  const closed = await client.chat.completions.create(chat({
    max_tokens: 50, logit_bias: { 128: 100 }, response_format: { type: 'json_object' },
  }));
  assert.equal(closed.choices[0].finish_reason, 'stop');
  assert.deepEqual(JSON.parse(closed.choices[0].message.content), {});
  const ctext = await client.completions.create({
    model: MODEL, prompt: 'Once upon a time', max_tokens: 50, temperature: 0, logit_bias: { 128: 100 }, response_format: { type: 'json_object' },
  });
  assert.equal(ctext.choices[0].finish_reason, 'stop');
  assert.deepEqual(JSON.parse(ctext.choices[0].text), {});
});

test('json_object on completions streams the same text', { skip }, async () => {
  const params = { model: MODEL, prompt: 'Once upon a time', max_tokens: 60, temperature: 0, response_format: { type: 'json_object' } };
  const r = await client.completions.create(params);
  let text = '';
  for await (const c of await client.completions.create({ ...params, stream: true })) {
    for (const ch of c.choices) text += ch.text;
  }
  assert.equal(text, r.choices[0].text);
  assert.ok(jsonPrefix(text));
});

test('json_object with schema (document 003 form) on completions and chat', { skip }, async () => {
  const rf = { type: 'json_object', schema: SCHEMA };
  const r = await client.completions.create({ model: MODEL, prompt: 'Weather:', max_tokens: 200, temperature: 0, seed: 4, response_format: rf });
  assert.equal(r.choices[0].finish_reason, 'stop', r.choices[0].text);
  checkSchema(JSON.parse(r.choices[0].text));

  const c = await client.chat.completions.create(chat({ temperature: 1, seed: 5, max_tokens: 200, response_format: rf }));
  assert.equal(c.choices[0].finish_reason, 'stop', c.choices[0].message.content);
  checkSchema(JSON.parse(c.choices[0].message.content));
});

test('json_schema strict true and false on chat', { skip }, async () => {
  for (const strict of [true, false]) {
    for (const seed of [11, 12, 13, 14, 15, 16]) {
      const r = await client.chat.completions.create(chat({
        seed, temperature: 1, max_tokens: 200,
        response_format: { type: 'json_schema', json_schema: { name: 'weather', strict, schema: SCHEMA } },
      }));
      const c = r.choices[0];
      assert.equal(c.finish_reason, 'stop', `strict=${strict} seed=${seed}: ${c.message.content}`);
      checkSchema(JSON.parse(c.message.content));
    }
  }
});

test('json_schema on completions, and a truncated output finishes with length', { skip }, async () => {
  const rf = { type: 'json_schema', json_schema: { name: 'weather', strict: true, schema: SCHEMA } };
  const r = await client.completions.create({ model: MODEL, prompt: 'Weather:', max_tokens: 200, temperature: 0, response_format: rf });
  assert.equal(r.choices[0].finish_reason, 'stop');
  checkSchema(JSON.parse(r.choices[0].text));

  const short = await client.chat.completions.create(chat({ max_tokens: 3, response_format: rf }));
  assert.equal(short.choices[0].finish_reason, 'length');
  assert.ok(short.choices[0].message.content.startsWith('{'));
  assert.ok(jsonPrefix(short.choices[0].message.content));
});

// --- tool_choice -------------------------------------------------------------

test('tool_choice none answers in plain content', { skip }, async () => {
  const r = await client.chat.completions.create(chat({ max_tokens: 16, tools: [WEATHER, TIME], tool_choice: 'none' }));
  const c = r.choices[0];
  assert.ok(c.message.tool_calls == null || c.message.tool_calls.length === 0);
  assert.equal(typeof c.message.content, 'string');
  assert.ok(c.message.content.length > 0);
  assert.ok(['stop', 'length'].includes(c.finish_reason));
});

test('tool_choice auto answers with content or well-formed calls', { skip }, async () => {
  for (const seed of [1, 2, 3]) {
    const r = await client.chat.completions.create(chat({ seed, temperature: 1, tools: [WEATHER, TIME], tool_choice: 'auto' }));
    const c = r.choices[0];
    if (c.finish_reason === 'tool_calls') {
      assert.ok(c.message.tool_calls.length >= 1);
      for (const tc of c.message.tool_calls) {
        assert.equal(tc.type, 'function');
        if (tc.function.name === 'get_weather') checkWeatherArgs(tc.function.arguments);
        else { assert.equal(tc.function.name, 'get_time'); checkTimeArgs(tc.function.arguments); }
      }
    } else {
      assert.ok(['stop', 'length'].includes(c.finish_reason));
      assert.equal(typeof c.message.content, 'string');
    }
  }
  // Omitting tool_choice with tools present means auto: same answer.
  const a = await client.chat.completions.create(chat({ tools: [WEATHER, TIME], tool_choice: 'auto' }));
  const b = await client.chat.completions.create(chat({ tools: [WEATHER, TIME] }));
  assert.deepEqual(b.choices[0].message, a.choices[0].message);
});

test('tool_choice required forces a well-formed call', { skip }, async () => {
  const ids = new Set();
  for (let seed = 1; seed <= 12; seed++) {
    const r = await client.chat.completions.create(chat({ seed, temperature: 1, tools: [WEATHER, TIME], tool_choice: 'required' }));
    const c = r.choices[0];
    assert.equal(c.finish_reason, 'tool_calls');
    assert.equal(c.message.content, null);
    assert.ok(c.message.tool_calls.length >= 1);
    for (const tc of c.message.tool_calls) {
      assert.equal(tc.type, 'function');
      assert.match(tc.id, /^call_/);
      assert.ok(!ids.has(tc.id), `duplicate id ${tc.id}`);
      ids.add(tc.id);
      if (tc.function.name === 'get_weather') checkWeatherArgs(tc.function.arguments);
      else { assert.equal(tc.function.name, 'get_time'); checkTimeArgs(tc.function.arguments); }
    }
  }
});

test('named tool_choice calls that function', { skip }, async () => {
  for (const [name, check] of [['get_time', checkTimeArgs], ['get_weather', checkWeatherArgs]]) {
    const r = await client.chat.completions.create(chat({
      temperature: 1, seed: 9, tools: [WEATHER, TIME], tool_choice: { type: 'function', function: { name } },
    }));
    const c = r.choices[0];
    assert.equal(c.finish_reason, 'tool_calls');
    assert.equal(c.message.tool_calls.length, 1);
    assert.equal(c.message.tool_calls[0].function.name, name);
    check(c.message.tool_calls[0].function.arguments);
  }
});

test('parallel_tool_calls false allows at most one call', { skip }, async () => {
  for (const seed of [1, 2, 3]) {
    const r = await client.chat.completions.create(chat({
      seed, temperature: 1, tools: [WEATHER, TIME], tool_choice: 'required', parallel_tool_calls: false,
    }));
    assert.equal(r.choices[0].finish_reason, 'tool_calls');
    assert.equal(r.choices[0].message.tool_calls.length, 1);
  }
});

// --- streaming tool calls ----------------------------------------------------

// collectToolStream reads a streamed chat completion and returns its chunks
// and the tool-call deltas in order.
async function collectStream(params) {
  const chunks = [];
  for await (const c of await client.chat.completions.create({ ...params, stream: true })) chunks.push(c);
  return chunks;
}

test('streamed tool calls use the OpenAI delta shape and match the non-streamed call', { skip }, async () => {
  const params = chat({ temperature: 0, seed: 21, tools: [WEATHER, TIME], tool_choice: 'required' });
  const whole = await client.chat.completions.create(params);
  const want = whole.choices[0].message.tool_calls;
  assert.ok(want.length >= 1);

  const chunks = await collectStream(params);
  const deltas = chunks.flatMap((c) => c.choices.flatMap((ch) => ch.delta.tool_calls ?? []));
  const calls = [];
  for (const d of deltas) {
    assert.equal(typeof d.index, 'number');
    if (calls[d.index] === undefined) {
      // First delta of a call: index, id, type and name.
      assert.match(d.id, /^call_/);
      assert.equal(d.type, 'function');
      assert.equal(typeof d.function.name, 'string');
      calls[d.index] = { id: d.id, name: d.function.name, args: d.function.arguments ?? '' };
    } else {
      // Later deltas: only an arguments fragment.
      assert.equal(d.id, undefined);
      assert.equal(d.type, undefined);
      assert.equal(d.function.name, undefined);
      assert.equal(typeof d.function.arguments, 'string');
      calls[d.index].args += d.function.arguments;
    }
  }
  assert.equal(calls.length, want.length);
  // Arguments arrive in fragments, not in one piece with the name.
  assert.ok(deltas.length > calls.length, `only ${deltas.length} deltas for ${calls.length} calls`);
  calls.forEach((c, i) => {
    assert.equal(c.name, want[i].function.name);
    assert.deepEqual(JSON.parse(c.args), JSON.parse(want[i].function.arguments));
    assert.equal(c.args, want[i].function.arguments);
  });
  const finish = chunks.flatMap((c) => c.choices.map((ch) => ch.finish_reason)).filter(Boolean);
  assert.deepEqual(finish, ['tool_calls']);
});

// --- auto mode: constrained once a call starts -------------------------------

// A Llama 3 style template (role headers) makes kiln pick the Llama 3 call
// format for the story model: a message that opens with "{" is calls
// separated by ";". logit_bias on "{" (126) makes the model open with one;
// from there the call is constrained, and a bias on end-of-text (2) makes
// it stop after a call often enough that most messages hold one to a few.
const LLAMA3_TEMPLATE = "{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + (message['content'] or '') + '<|eot_id|>' }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}";

test('tool_choice auto constrains calls once started, parallel calls streamed as deltas', { skip }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-auto-'));
  const tpl = path.join(dir, 'llama3.jinja');
  fs.writeFileSync(tpl, LLAMA3_TEMPLATE);
  const { proc: p, url } = await startKiln('stories260K-chatml.gguf', ['--parallel', '8', '--chat-template-file', tpl]);
  try {
    const c2 = new OpenAI({ apiKey: 'unused', baseURL: `${url}/v1`, maxRetries: 0 });
    const params = (seed, parallel) => chat({
      seed, temperature: 1, n: 8, max_tokens: 400, tools: [WEATHER, TIME], tool_choice: 'auto',
      parallel_tool_calls: parallel, logit_bias: { 126: 100, 2: 10 },
    });
    const checkCall = (tc) => {
      if (tc.function.name === 'get_weather') checkWeatherArgs(tc.function.arguments);
      else { assert.equal(tc.function.name, 'get_time'); checkTimeArgs(tc.function.arguments); }
    };
    let multi = 0;
    let total = 0;
    for (const parallel of [true, false]) {
      for (let seed = 1; seed <= 4; seed++) {
        const r = await c2.chat.completions.create(params(seed, parallel));
        for (const c of r.choices) {
          assert.equal(c.finish_reason, 'tool_calls', `seed ${seed}: ${JSON.stringify(c.message)}`);
          assert.ok(c.message.tool_calls.length >= 1);
          if (!parallel) assert.equal(c.message.tool_calls.length, 1);
          if (c.message.tool_calls.length > 1) multi++;
          total += c.message.tool_calls.length;
          const ids = new Set(c.message.tool_calls.map((tc) => tc.id));
          assert.equal(ids.size, c.message.tool_calls.length);
          c.message.tool_calls.forEach(checkCall);
        }
        if (seed > 2) continue;
        // Streamed: each call's first delta has index, id, type and name,
        // then arguments fragments; they add up to the non-streamed calls.
        const chunks = [];
        for await (const ch of await c2.chat.completions.create({ ...params(seed, parallel), stream: true })) chunks.push(ch);
        for (const [i, want] of r.choices.entries()) {
          const calls = [];
          for (const d of chunks.flatMap((ch) => ch.choices.filter((x) => x.index === i).flatMap((x) => x.delta.tool_calls ?? []))) {
            if (calls[d.index] === undefined) {
              assert.match(d.id, /^call_/);
              assert.equal(d.type, 'function');
              calls[d.index] = { name: d.function.name, args: d.function.arguments ?? '' };
            } else {
              assert.equal(d.id, undefined);
              assert.equal(d.function.name, undefined);
              calls[d.index].args += d.function.arguments;
            }
          }
          assert.deepEqual(calls.map((c) => [c.name, c.args]), want.message.tool_calls.map((tc) => [tc.function.name, tc.function.arguments]));
          const finish = chunks.flatMap((ch) => ch.choices.filter((x) => x.index === i).map((x) => x.finish_reason)).filter(Boolean);
          assert.deepEqual(finish, ['tool_calls']);
        }
      }
    }
    assert.ok(multi > 0, `no message made parallel calls (${total} calls)`);
  } finally {
    await stop(p);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// --- deprecated functions / function_call -----------------------------------

const FUNCS = [WEATHER.function, TIME.function];

test('deprecated functions API answers with function_call, streamed too', { skip }, async () => {
  const params = chat({ temperature: 0, seed: 31, functions: FUNCS, function_call: { name: 'get_weather' } });
  const r = await client.chat.completions.create(params);
  const c = r.choices[0];
  assert.equal(c.finish_reason, 'function_call');
  assert.ok(c.message.tool_calls == null || c.message.tool_calls.length === 0);
  assert.equal(c.message.function_call.name, 'get_weather');
  checkWeatherArgs(c.message.function_call.arguments);

  const chunks = await collectStream(params);
  let name = '';
  let args = '';
  let fragments = 0;
  for (const ch of chunks.flatMap((x) => x.choices)) {
    assert.equal(ch.delta.tool_calls, undefined);
    const fc = ch.delta.function_call;
    if (fc) {
      // The name comes once, in the first function_call delta.
      if (fragments > 0) assert.equal(fc.name, undefined);
      fragments++;
      name += fc.name ?? '';
      args += fc.arguments ?? '';
    }
  }
  assert.ok(fragments > 1, `${fragments} function_call deltas`);
  assert.equal(name, 'get_weather');
  assert.equal(args, c.message.function_call.arguments);
  const finish = chunks.flatMap((x) => x.choices.map((ch) => ch.finish_reason)).filter(Boolean);
  assert.deepEqual(finish, ['function_call']);

  // function_call "none" answers in plain content; "auto" does not crash.
  const none = await client.chat.completions.create(chat({ max_tokens: 12, functions: FUNCS, function_call: 'none' }));
  assert.equal(none.choices[0].message.function_call, undefined);
  assert.equal(typeof none.choices[0].message.content, 'string');
  const auto = await client.chat.completions.create(chat({ functions: FUNCS, function_call: 'auto' }));
  const ac = auto.choices[0];
  if (ac.finish_reason === 'function_call') JSON.parse(ac.message.function_call.arguments);
  else assert.equal(typeof ac.message.content, 'string');
});

// --- validation errors -------------------------------------------------------

test('validation errors are 400s naming the parameter', { skip }, async () => {
  const fn = (name, parameters = { type: 'object', properties: {} }) => ({ type: 'function', function: { name, parameters } });
  const many = Array.from({ length: 129 }, (_, i) => fn(`f${i}`));
  const cases = [
    ['invalid function name', chat({ tools: [fn('bad name!')] }), /^tools\[0\]\.function\.name$/],
    ['too long function name', chat({ tools: [fn('a'.repeat(65))] }), /^tools\[0\]\.function\.name$/],
    ['129 tools', chat({ tools: many }), /^tools$/],
    ['tool_choice names an unknown function', chat({ tools: [WEATHER], tool_choice: { type: 'function', function: { name: 'nope' } } }), /^tool_choice/],
    ['required without tools', chat({ tool_choice: 'required' }), /^tool_choice/],
    ['invalid schema keyword in tool parameters', chat({ tools: [fn('f', { type: 'object', properties: { a: { type: 'string', not: {} } } })], tool_choice: 'required' }), /^tools/],
    ['invalid schema keyword in json_schema', chat({ response_format: { type: 'json_schema', json_schema: { name: 's', schema: { type: 'string', not: {} } } } }), /^response_format/],
    ['invalid schema keyword in json_object schema', { model: MODEL, prompt: 'a', max_tokens: 4, response_format: { type: 'json_object', schema: { type: 'string', not: {} } } }, /^response_format/],
    ['json_schema without a schema', chat({ response_format: { type: 'json_schema' } }), /^response_format\.json_schema/],
    ['unknown response_format type', chat({ response_format: { type: 'yaml' } }), /^response_format\.type$/],
    ['tools and functions together', chat({ tools: [WEATHER], functions: FUNCS }), /^functions$/],
    ['function_call naming an unknown function', chat({ functions: FUNCS, function_call: { name: 'nope' } }), /^function_call/],
  ];
  for (const [what, body, param] of cases) {
    const create = body.messages ? client.chat.completions.create(body) : client.completions.create(body);
    await assert.rejects(create, (e) => {
      assert.ok(e instanceof OpenAI.BadRequestError, `${what}: ${e}`);
      assert.equal(e.status, 400);
      assert.match(String(e.param), param, `${what}: param ${e.param}, message ${e.message}`);
      return true;
    }, what);
  }
  // The unsupported keyword is named in the message, never silently ignored.
  await assert.rejects(client.chat.completions.create(chat({
    response_format: { type: 'json_schema', json_schema: { name: 's', schema: { type: 'string', not: {} } } },
  })), (e) => e instanceof OpenAI.BadRequestError && /not/.test(e.message));
});

// An unsupported keyword is a 400 naming the parameters wherever a schema
// appears: every declared function's parameters are compiled up front,
// whatever tool_choice says.
test('invalid tool parameter schema is a 400 under every tool_choice', { skip }, async () => {
  const tools = [{ type: 'function', function: { name: 'f', parameters: { type: 'object', properties: { a: { type: 'string', not: {} } } } } }];
  for (const tool_choice of [undefined, 'auto', 'none', 'required']) {
    await assert.rejects(client.chat.completions.create(chat({ tools, tool_choice })), (e) => {
      assert.ok(e instanceof OpenAI.BadRequestError, `tool_choice ${tool_choice}: ${e}`);
      assert.match(String(e.param), /^tools\[0\]\.function\.parameters/, `tool_choice ${tool_choice}: param ${e.param}`);
      assert.match(e.message, /not/);
      return true;
    }, `tool_choice ${tool_choice}`);
  }
});
