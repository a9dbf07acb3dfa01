// Decoding controls end to end through the official openai Node SDK against
// a real `kiln serve` (KILN_BIN) on stories260K.gguf (KILN_TEST_MODELS):
// greedy tokens and logprob values against llama.cpp's reference outputs
// ($KILN_TEST_MODELS/../reference/logits), chat top_logprobs under
// temperature 0, seeded sampling unchanged by batching, ignore_eos and
// stop_token_ids.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import OpenAI from 'openai';
import { startKiln, stop, skip, models } from '../kiln.mjs';


const MODEL = 'stories260K';
// The reference README's tolerance for a float32 engine on this F32 model.
const TOL = 1e-4;

let proc;
let baseURL;
let client;
let cases;

before(async () => {
  if (skip) return;
  // F32 keys and values, as llama.cpp had when it made the reference
  // logprobs this suite holds the server to within 1e-4.
  ({ proc, url: baseURL } = await startKiln('stories260K.gguf', ['--parallel', '8', '--kv-type', 'f32']));
  client = new OpenAI({ apiKey: 'unused', baseURL: `${baseURL}/v1`, maxRetries: 0 });
  const file = path.join(models, '..', 'reference', 'logits', 'stories260K.json');
  cases = JSON.parse(await readFile(file, 'utf8')).cases;
});

after(() => stop(proc));

async function detokenize(tokens) {
  const r = await fetch(`${baseURL}/detokenize`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: MODEL, tokens }),
  });
  assert.equal(r.status, 200);
  return (await r.json()).prompt;
}

// Steps free-running greedy decoding must reproduce: up to the first whose
// reference top-1/top-2 gap is below twice the tolerance.
function comparableSteps(c) {
  const i = c.top_logprobs.findIndex((top) => top[0].logprob - top[1].logprob < 2 * TOL);
  return i < 0 ? c.top_logprobs.length : i;
}

test('completions logprobs match the llama.cpp reference', { skip }, async () => {
  assert.ok(cases.length >= 6);
  let worst = 0;
  for (const c of cases) {
    for (const stream of [false, true]) {
      const req = {
        model: MODEL, prompt: c.prompt_tokens, max_tokens: c.generated_tokens.length,
        temperature: 0, logprobs: 5, stream,
      };
      let text = '';
      const lp = { tokens: [], token_logprobs: [], top_logprobs: [] };
      const add = (choice) => {
        text += choice.text;
        lp.tokens.push(...choice.logprobs.tokens);
        lp.token_logprobs.push(...choice.logprobs.token_logprobs);
        lp.top_logprobs.push(...choice.logprobs.top_logprobs);
      };
      if (stream) {
        for await (const chunk of await client.completions.create(req)) chunk.choices.forEach(add);
      } else {
        add((await client.completions.create(req)).choices[0]);
      }
      const steps = comparableSteps(c);
      const where = `${c.name} stream=${stream}`;
      assert.equal(steps, c.generated_tokens.length, `${where}: test expects no near-tie in these cases`);
      // The returned tokens are the reference's: same text, token by token.
      assert.equal(text, await detokenize(c.generated_tokens), where);
      assert.equal(lp.tokens.join(''), text, where);
      assert.equal(lp.tokens.length, steps, where);
      for (let i = 0; i < steps; i++) {
        const ref = c.top_logprobs[i];
        const d0 = Math.abs(lp.token_logprobs[i] - ref[0].logprob);
        assert.ok(d0 <= TOL, `${where} step ${i}: token logprob ${lp.token_logprobs[i]} vs ${ref[0].logprob}`);
        // top_logprobs: 5 entries (the greedy token is one of them) whose
        // values, most probable first, are the reference's top 5.
        const got = Object.values(lp.top_logprobs[i]).sort((a, b) => b - a);
        assert.equal(got.length, 5, `${where} step ${i}: ${JSON.stringify(lp.top_logprobs[i])}`);
        got.forEach((v, k) => {
          const d = Math.abs(v - ref[k].logprob);
          worst = Math.max(worst, d);
          assert.ok(d <= TOL, `${where} step ${i} rank ${k}: ${v} vs ${ref[k].logprob}`);
        });
        assert.equal(lp.top_logprobs[i][lp.tokens[i]], lp.token_logprobs[i], `${where} step ${i}: sampled token not in its top_logprobs`);
      }
    }
  }
  assert.ok(worst < TOL);
});

test('chat top_logprobs under temperature 0: the sampled token is the top entry', { skip }, async () => {
  const req = {
    model: MODEL, messages: [{ role: 'user', content: 'Once upon a time' }],
    max_tokens: 24, temperature: 0, logprobs: true, top_logprobs: 20,
  };
  for (const stream of [false, true]) {
    let content = [];
    if (stream) {
      for await (const chunk of await client.chat.completions.create({ ...req, stream })) {
        for (const ch of chunk.choices) content.push(...(ch.logprobs?.content ?? []));
      }
    } else {
      content = (await client.chat.completions.create(req)).choices[0].logprobs.content;
    }
    assert.ok(content.length > 0);
    content.forEach((e, i) => {
      assert.equal(e.top_logprobs.length, 20, `step ${i}`);
      assert.equal(e.top_logprobs[0].token, e.token, `stream=${stream} step ${i}`);
      assert.equal(e.top_logprobs[0].logprob, e.logprob, `stream=${stream} step ${i}`);
      for (let k = 1; k < 20; k++) assert.ok(e.top_logprobs[k].logprob <= e.top_logprobs[k - 1].logprob);
    });
  }
});

test('a seeded run gives the same tokens alone and inside a batch of 8', { skip }, async () => {
  const run = async (seed) => {
    const r = await client.completions.create({
      model: MODEL, prompt: 'Once upon a time', max_tokens: 48, temperature: 1, seed, logprobs: 0,
    });
    return r.choices[0].logprobs.tokens;
  };
  const seeds = [1, 2, 3, 4, 5, 6, 7, 8].map((i) => 500 + i);
  const together = await Promise.all(seeds.map(run));
  for (const [i, seed] of seeds.entries()) {
    assert.deepEqual(await run(seed), together[i], `seed ${seed}`);
  }
  const distinct = new Set(together.map((t) => t.join('\u0000')));
  assert.ok(distinct.size >= 4, `only ${distinct.size} distinct outputs for 8 seeds`);
});

test('ignore_eos and stop_token_ids extensions', { skip }, async () => {
  // logit_bias +100 on </s> (id 2) ends the choice at once unless
  // ignore_eos bans the token.
  const base = { model: MODEL, prompt: [1], max_tokens: 10, temperature: 0, logit_bias: { 2: 100 } };
  const stopped = await client.completions.create(base);
  assert.equal(stopped.choices[0].finish_reason, 'stop');
  assert.equal(stopped.usage.completion_tokens, 0);
  const ignored = await client.completions.create({ ...base, ignore_eos: true });
  assert.equal(ignored.choices[0].finish_reason, 'length');
  assert.equal(ignored.usage.completion_tokens, 10);
  // stop_token_ids end the greedy continuation of BOS at the first listed
  // id it generates; the stop token is neither in the text nor counted.
  const golden = cases.find((c) => c.name === 'bos').generated_tokens;
  for (const stream of [false, true]) {
    for (const ignore_eos of [false, true]) {
      const req = { model: MODEL, prompt: [1], max_tokens: 20, temperature: 0, stop_token_ids: [golden[9], golden[5]], ignore_eos, stream };
      let text = '';
      let finish;
      let usage;
      const add = (r) => {
        for (const ch of r.choices) {
          text += ch.text;
          finish = ch.finish_reason ?? finish;
        }
        usage = r.usage ?? usage;
      };
      if (stream) {
        for await (const chunk of await client.completions.create(req)) add(chunk);
      } else {
        add(await client.completions.create(req));
      }
      const where = `stream=${stream} ignore_eos=${ignore_eos}`;
      assert.equal(golden.indexOf(golden[5]), 5, 'test expects the stop id first at step 5');
      assert.equal(text, await detokenize(golden.slice(0, 5)), where);
      assert.equal(finish, 'stop', where);
      assert.equal(usage.completion_tokens, 5, where);
    }
  }
  // Ids are checked against the vocabulary (512 tokens).
  await assert.rejects(
    client.completions.create({ ...base, stop_token_ids: [3, 512] }),
    (err) => err instanceof OpenAI.BadRequestError && err.param === 'stop_token_ids' && /512/.test(err.message),
  );
  await assert.rejects(
    client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], stop_token_ids: [-1] }),
    (err) => err instanceof OpenAI.BadRequestError && err.param === 'stop_token_ids[0]',
  );
});
