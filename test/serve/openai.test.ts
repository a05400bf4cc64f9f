import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as m from '../../plugins/model/index.ts';
import { BUILTIN_MODELS } from '../../plugins/model/base/builtin.ts';
import { HeldoutClient } from '../../server/client/index.ts';
import { loadConfig } from '../../server/config.ts';
import { startServer, type RunningServer } from '../../server/serve.ts';
import type { ServingStats } from '../../server/serve/stats.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { waitFor } from '../helpers/live-server.ts';
import { memoryLogger } from '../helpers/logger.ts';

// The shipped base registered as version 1 of "assistant", and a LoRA adapter on it (random,
// non-zero B, so it answers differently) as version 2: checkpoints made in milliseconds, no
// training. One generation at a time and one waiting, so the queue is easy to fill.
const ADMIN = 'hld_serve-test-admin-token-0001';
const TINY = BUILTIN_MODELS['tiny-base']!;
let database: TestDatabase;
let server: RunningServer;
let admin: HeldoutClient;
let openai: OpenAI;
let dir: string;
let otherToken: string;

/** A run of `project` whose `checkpoints/step-1/` holds the files of `from`, registered. */
async function checkpointOf(
  project: string,
  from: string,
  kind: 'full' | 'adapter',
  baseCheckpointId?: string,
) {
  const run = await admin.runs.create(project, { name: `${kind}-files`, baseCheckpointId });
  for (const name of fs.readdirSync(from).filter((f) => f !== 'training-record.json'))
    await admin.artifacts.upload(
      run.id,
      `checkpoints/step-1/${name}`,
      fs.readFileSync(path.join(from, name)),
    );
  return admin.checkpoints.register(run.id, { step: 1, kind });
}

beforeAll(async () => {
  database = await createTestDatabase();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'heldout-serve-test-'));
  const config = loadConfig({
    DATABASE_URL: database.url,
    PORT: '0',
    HELDOUT_ADMIN_TOKEN: ADMIN,
    HELDOUT_DATA_DIR: path.join(dir, 'data'),
    HELDOUT_WORKER: '0',
    HELDOUT_SERVE_CONCURRENCY: '1',
    HELDOUT_SERVE_QUEUE: '1',
  });
  server = await startServer(config, memoryLogger('warn').logger);
  admin = new HeldoutClient({ baseUrl: server.url, token: ADMIN });
  openai = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: ADMIN, maxRetries: 0 });

  await admin.projects.create({ name: 'bank' });
  const base = await checkpointOf('bank', TINY, 'full');
  const { config: modelConfig } = await m.loadCheckpointDir(TINY);
  const settings = m.loraSettingsSchema.parse({ r: 4, alpha: 8 });
  const lora = m.initLora(modelConfig, settings, 1);
  const rand = m.mulberry32(2);
  for (const [key, w] of lora)
    if (key.includes('lora_B')) for (let i = 0; i < w.data.length; i++) w.data[i] = rand() - 0.5;
  const adapterDir = path.join(dir, 'adapter');
  await m.saveLoraAdapter(adapterDir, lora, settings, { name: 'tiny-base', sha256: base.sha256 });
  const adapter = await checkpointOf('bank', adapterDir, 'adapter', base.id);
  await admin.models.create('bank', { name: 'assistant' });
  await admin.models.addVersion('bank', 'assistant', { checkpointId: base.id });
  await admin.models.addVersion('bank', 'assistant', { checkpointId: adapter.id });
  // Serving is under test here, not the gate: the admin lets production move by hand.
  await admin.promotions.protect('bank', 'production', { protected: false });
  await admin.promotions.promote({
    project: 'bank',
    model: 'assistant',
    version: 1,
    alias: 'production',
  });

  // Another project, whose token must see none of bank's models.
  await admin.projects.create({ name: 'other' });
  otherToken = (await admin.projects.createToken('other', { name: 'reader', role: 'read' })).token;
}, 60_000);

afterAll(async () => {
  await server?.close();
  await database?.drop();
  fs.rmSync(dir, { recursive: true, force: true });
});

/**
 * What an evaluation of the checkpoint answers (server/worker/evaluate.ts): the base, the adapter's
 * forward options on it, `generate` with the end-of-text token as a stop id, stop strings cut.
 */
async function evaluated(
  prompt: string,
  decoding: { maxNewTokens: number; temperature: number; seed: number; stop?: string[] },
  adapterDir?: string,
) {
  const { config, weights } = await m.loadCheckpointDir(TINY);
  const tokenizer = await m.loadTokenizer(TINY);
  const model = m.createModel(config, weights, () => false);
  const adapter = adapterDir ? await m.loadAdapter(adapterDir, config) : undefined;
  try {
    const g = m.generate(
      model,
      tokenizer.encode(prompt),
      { ...decoding, topP: 1, stopIds: [tokenizer.eosId] },
      adapter?.options,
    );
    let text = tokenizer.decode(g.ids.filter((t) => t !== tokenizer.eosId));
    for (const s of decoding.stop ?? [])
      if (text.includes(s)) text = text.slice(0, text.indexOf(s));
    return text;
  } finally {
    adapter?.dispose();
    m.disposeModel(model);
  }
}

describe('the OpenAI-compatible API, driven by the openai package', () => {
  it('lists the aliases and versions the token can see', async () => {
    const ids: string[] = [];
    for await (const model of openai.models.list()) ids.push(model.id);
    // An admin token covers every project, so names carry the project.
    expect(ids).toEqual(['bank/assistant@production', 'bank/assistant/1', 'bank/assistant/2']);
    const other = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: otherToken, maxRetries: 0 });
    expect((await other.models.list()).data).toEqual([]);
    const one = await openai.models.retrieve('assistant@production');
    expect(one).toMatchObject({ id: 'assistant@production', object: 'model', owned_by: 'bank' });
  });

  it('completes a prompt exactly as an evaluation of the checkpoint does, with usage', async () => {
    const prompt = 'Add: 12+30=';
    const res = await openai.completions.create({
      model: 'assistant/1',
      prompt,
      max_tokens: 12,
      temperature: 0,
    });
    const expected = await evaluated(prompt, { maxNewTokens: 12, temperature: 0, seed: 0 });
    expect(res.choices[0]!.text).toBe(expected);
    expect(res.object).toBe('text_completion');
    expect(res.model).toBe('bank/assistant/1');
    expect(['stop', 'length']).toContain(res.choices[0]!.finish_reason);
    expect(res.usage).toEqual({
      prompt_tokens: prompt.length, // bytes: the tiny base's tokenizer is byte-level
      completion_tokens: expect.any(Number),
      total_tokens: prompt.length + res.usage!.completion_tokens,
    });

    // Sampling: a seed gives the same text every time, and the evaluation's text for that seed.
    const sampled = { model: 'assistant/2', prompt, max_tokens: 16, temperature: 0.9, seed: 7 };
    const a = await openai.completions.create(sampled);
    const b = await openai.completions.create(sampled);
    expect(a.choices[0]!.text).toBe(b.choices[0]!.text);
    expect(a.choices[0]!.text).toBe(
      await evaluated(prompt, { maxNewTokens: 16, temperature: 0.9, seed: 7 }, adapterFiles()),
    );
  });

  it('stops at a stop string, which is not part of the answer', async () => {
    const prompt = 'Copy: loser guenon ->';
    const full = await openai.completions.create({
      model: 'assistant/1',
      prompt,
      max_tokens: 20,
      temperature: 0,
    });
    const text = full.choices[0]!.text;
    const stop = text.trim().slice(1, 3);
    const cut = await openai.completions.create({
      model: 'assistant/1',
      prompt,
      max_tokens: 20,
      temperature: 0,
      stop: [stop],
    });
    expect(cut.choices[0]!.text).toBe(text.slice(0, text.indexOf(stop)));
    expect(cut.choices[0]!.finish_reason).toBe('stop');
    expect(cut.usage!.completion_tokens).toBeLessThan(full.usage!.completion_tokens);
  });

  it('answers a chat through the Q:/A: template, streamed or not', async () => {
    const messages = [
      { role: 'system' as const, content: 'You answer questions about fees.' },
      { role: 'user' as const, content: 'What is the fee of plan 3?' },
    ];
    const res = await openai.chat.completions.create({
      model: 'assistant@production',
      messages,
      max_tokens: 24,
      temperature: 0,
    });
    const template = 'You answer questions about fees.\nQ: What is the fee of plan 3?\nA:';
    const expected = await evaluated(template, {
      maxNewTokens: 24,
      temperature: 0,
      seed: 0,
      stop: ['\n'],
    });
    const choice = res.choices[0]!;
    expect(choice.message).toMatchObject({ role: 'assistant', content: expected.trimStart() });
    expect(res.object).toBe('chat.completion');
    expect(res.usage!.prompt_tokens).toBe(template.length);

    const stream = await openai.chat.completions.create({
      model: 'assistant@production',
      messages,
      max_tokens: 24,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks[0]!.choices[0]!.delta.role).toBe('assistant');
    const content = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    expect(content).toBe(choice.message.content);
    const last = chunks.findLast((c) => c.choices.length > 0)!;
    expect(last.choices[0]!.finish_reason).toBe(choice.finish_reason);
    expect(chunks.at(-1)!.usage).toEqual(res.usage);
    expect(
      chunks.every((c) => c.object === 'chat.completion.chunk' && c.id === chunks[0]!.id),
    ).toBe(true);
  });

  it('follows an alias to its new version on the next request, with no restart', async () => {
    const ask = () =>
      openai.chat.completions.create({
        model: 'assistant@production',
        messages: [{ role: 'user', content: 'Define thyme.' }],
        max_tokens: 16,
        temperature: 0,
      });
    const before = await ask();
    expect(before.model).toBe('bank/assistant/1');
    await admin.promotions.promote({
      project: 'bank',
      model: 'assistant',
      version: 2,
      alias: 'production',
    });
    const after = await ask();
    expect(after.model).toBe('bank/assistant/2');
    expect(after.system_fingerprint).not.toBe(before.system_fingerprint);
    expect(after.choices[0]!.message.content).not.toBe(before.choices[0]!.message.content);
    await admin.promotions.promote({
      project: 'bank',
      model: 'assistant',
      version: 1,
      alias: 'production',
    });
  });

  it('refuses mistakes with OpenAI-shaped 4xx errors naming the parameter', async () => {
    const bad = (body: Record<string, unknown>) =>
      openai.completions.create({ model: 'assistant/1', prompt: 'hi', ...body }).then(
        () => undefined,
        (err: unknown) => err as InstanceType<typeof OpenAI.APIError>,
      );
    const temperature = await bad({ temperature: 5 });
    expect(temperature).toBeInstanceOf(OpenAI.BadRequestError);
    expect(temperature).toMatchObject({
      status: 400,
      param: 'temperature',
      type: 'invalid_request_error',
    });
    expect(await bad({ n: 2 })).toMatchObject({ status: 400, param: 'n' });
    expect(await bad({ max_tokens: 1000 })).toMatchObject({
      status: 400,
      param: 'max_tokens',
      code: 'context_length_exceeded',
    });
    expect(await bad({ model: 'nobody@production' })).toMatchObject({
      status: 404,
      code: 'model_not_found',
      param: 'model',
    });
    expect(await bad({ model: 'assistant@nowhere' })).toMatchObject({ status: 404 });
    expect(await bad({ model: 'assistant' })).toMatchObject({ status: 404 });

    const other = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: otherToken, maxRetries: 0 });
    await expect(
      other.completions.create({ model: 'bank/assistant/1', prompt: 'hi' }),
    ).rejects.toMatchObject({ status: 404, code: 'model_not_found' });
    const nobody = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'hld_wrong', maxRetries: 0 });
    await expect(nobody.models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);

    // The raw body, as other clients see it.
    const res = await fetch(`${server.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'assistant/1', messages: [{ role: 'tool', content: 'x' }] }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      error: {
        message: expect.stringMatching(/^messages\[0\]\.role: /),
        type: 'invalid_request_error',
        param: 'messages[0].role',
        code: 'invalid_value',
      },
    });
    const anonymous = await fetch(`${server.url}/v1/models`);
    expect(anonymous.status).toBe(401);
  });

  it('queues past the concurrency limit and answers 429 when the queue is full', async () => {
    const holder = new AbortController();
    // Greedy, this prompt runs to max_tokens (about 2 s here) without an end-of-text token.
    const long = await openai.completions.create(
      {
        model: 'assistant/1',
        prompt: 'Upper: fruit ->',
        max_tokens: 200,
        temperature: 0,
        stream: true,
      },
      { signal: holder.signal },
    );
    await long[Symbol.asyncIterator]().next(); // generating now: the one slot is taken
    // Of two more, one waits in the queue (of 1) and the other is refused, whichever comes first.
    const more = ['Add: 1+1=', 'Add: 2+2='].map((prompt) =>
      openai.completions
        .create({ model: 'assistant/1', prompt, max_tokens: 4, temperature: 0 })
        .catch((err: unknown) => err),
    );
    const refused = await Promise.race(more);
    expect(refused).toBeInstanceOf(OpenAI.RateLimitError);
    expect(refused).toMatchObject({ status: 429, code: 'rate_limit_exceeded' });
    holder.abort(); // the client goes away: its slot passes to the one waiting
    const answers = await Promise.all(more);
    const served = answers.find((a) => a !== refused) as OpenAI.Completion;
    expect(served.choices[0]!.text.length).toBeGreaterThan(0);
  });

  it("records every served request's latency against its model version", async () => {
    const stats = await waitFor(
      'the serving statistics',
      async () => {
        const res = await fetch(
          `${server.url}/api/v1/projects/bank/models/assistant/versions/1/serving`,
          { headers: { authorization: `Bearer ${ADMIN}` } },
        );
        const body = (await res.json()) as ServingStats & { model: string; version: number };
        return body.outcomes?.cancelled ? body : undefined;
      },
      5000,
    );
    expect(stats).toMatchObject({ model: 'assistant', version: 1 });
    expect(stats.requests).toBeGreaterThanOrEqual(8);
    expect((stats.outcomes.stop ?? 0) + (stats.outcomes.length ?? 0)).toBeGreaterThan(4);
    expect(stats.latencyMs!.p50).toBeGreaterThan(0);
    expect(stats.latencyMs!.p99).toBeGreaterThanOrEqual(stats.latencyMs!.p50);
    expect(stats.tokensPerSecond).toBeGreaterThan(0);
    expect(stats.completionTokens).toBeGreaterThan(0);

    // A version nobody called yet: no figures rather than zeros.
    const checkpointId = (await admin.models.get('bank', 'assistant')).versions[0]!.checkpointId;
    await admin.models.create('bank', { name: 'unused' });
    await admin.models.addVersion('bank', 'unused', { checkpointId });
    const res = await fetch(`${server.url}/api/v1/projects/bank/models/unused/versions/1/serving`, {
      headers: { authorization: `Bearer ${ADMIN}` },
    });
    expect(await res.json()).toMatchObject({
      requests: 0,
      outcomes: {},
      since: null,
      latencyMs: null,
      tokensPerSecond: null,
      completionTokens: 0,
    });
  });
});

function adapterFiles() {
  return path.join(dir, 'adapter');
}
