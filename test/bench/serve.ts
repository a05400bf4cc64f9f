/**
 * Serving over the OpenAI-compatible API: `npm run bench -- serve [seconds]`. `heldout serve` in
 * its own process with the shipped base registered as a model version and a LoRA adapter on it
 * as another; clients keep 1, then 8, completions of 32 new tokens in flight for `seconds` each
 * (default 15; greedy on prompts that never end early, so every answer is 32 tokens), first on
 * the full checkpoint, then 8 on the adapter (same base in memory). Reported per phase:
 * requests/s, generated tokens/s, latency p50/p99 as the client saw it, errors; then the
 * server's own figures for each version (`/api/v1/.../versions/{v}/serving`).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as m from '../../plugins/model/index.ts';
import { BUILTIN_MODELS } from '../../plugins/model/base/builtin.ts';
import { benchDatabase } from './_database.ts';
import { benchServer } from './_server.ts';

const TINY = BUILTIN_MODELS['tiny-base']!;
const PROMPTS = ['Upper: fruit ->', 'Define thyme:', 'Copy: a b c d e f g h ->', 'The'];
const TOKENS = 32;

const percentile = (sorted: number[], q: number) =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! : NaN;
const round = (v: number) => Math.round(v * 10) / 10;

async function phase(
  url: string,
  token: string,
  model: string,
  concurrency: number,
  seconds: number,
) {
  const latencies: number[] = [];
  let errors = 0;
  let tokens = 0;
  const deadline = performance.now() + seconds * 1000;
  const started = performance.now();
  const client = async (k: number) => {
    // At least one request each, so a phase of 0 seconds is a warm-up of one request a client.
    for (let i = k; i === k || performance.now() < deadline; i += concurrency) {
      const t0 = performance.now();
      const res = await fetch(`${url}/v1/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          model,
          prompt: PROMPTS[i % PROMPTS.length],
          max_tokens: TOKENS,
          temperature: 0,
        }),
      });
      const body = (await res.json()) as { usage?: { completion_tokens: number } };
      if (!res.ok) {
        errors++;
        continue;
      }
      latencies.push(performance.now() - t0);
      tokens += body.usage!.completion_tokens;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, k) => client(k)));
  const elapsed = (performance.now() - started) / 1000;
  const sorted = latencies.sort((a, b) => a - b);
  return {
    model,
    concurrency,
    requests: latencies.length,
    requestsPerSecond: round(latencies.length / elapsed),
    tokensPerSecond: round(tokens / elapsed),
    meanTokens: round(tokens / Math.max(1, latencies.length)),
    latencyMs: { p50: round(percentile(sorted, 0.5)), p99: round(percentile(sorted, 0.99)) },
    errors,
  };
}

export default async function serve(args: string[]) {
  const seconds = Number(args[0] ?? 15);
  // Enough slots for the 8 clients; no training worker competing for the CPU.
  process.env.HELDOUT_SERVE_CONCURRENCY = '8';
  process.env.HELDOUT_WORKER = '0';
  const database = await benchDatabase();
  const server = await benchServer(database.url);
  const { client, url, token } = server;
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'heldout-bench-serve-'));
  try {
    await client.projects.create({ name: 'bench' });
    const upload = async (dir: string, kind: 'full' | 'adapter', baseCheckpointId?: string) => {
      const run = await client.runs.create('bench', { name: kind, baseCheckpointId });
      for (const name of fs.readdirSync(dir).filter((f) => f !== 'training-record.json'))
        await client.artifacts.upload(
          run.id,
          `checkpoints/step-1/${name}`,
          fs.readFileSync(path.join(dir, name)),
        );
      return client.checkpoints.register(run.id, { step: 1, kind });
    };
    const base = await upload(TINY, 'full');
    const { config } = await m.loadCheckpointDir(TINY);
    const settings = m.loraSettingsSchema.parse({});
    const lora = m.initLora(config, settings, 1);
    const rand = m.mulberry32(2);
    for (const [key, w] of lora)
      if (key.includes('lora_B'))
        for (let i = 0; i < w.data.length; i++) w.data[i] = (rand() - 0.5) * 0.1;
    await m.saveLoraAdapter(scratch, lora, settings, { name: 'tiny-base', sha256: base.sha256 });
    const adapter = await upload(scratch, 'adapter', base.id);
    await client.models.create('bench', { name: 'assistant' });
    await client.models.addVersion('bench', 'assistant', { checkpointId: base.id });
    await client.models.addVersion('bench', 'assistant', { checkpointId: adapter.id });
    // Serving speed is measured here, not the gate: the admin lets production move by hand.
    await client.promotions.protect('bench', 'production', { protected: false });
    await client.promotions.promote({
      project: 'bench',
      model: 'assistant',
      version: 1,
      alias: 'production',
    });

    // Loads both into memory, so no phase times a first load.
    await phase(url, token, 'assistant/1', 1, 0);
    await phase(url, token, 'assistant/2', 1, 0);
    const phases = [
      await phase(url, token, 'assistant@production', 1, seconds),
      await phase(url, token, 'assistant@production', 8, seconds),
      await phase(url, token, 'assistant/2', 8, seconds),
    ];
    const serving = [];
    for (const v of [1, 2]) {
      const res = await fetch(
        `${url}/api/v1/projects/bench/models/assistant/versions/${v}/serving?last=100000`,
        { headers: { authorization: `Bearer ${token}` } },
      );
      const { requests, latencyMs, firstTokenMs, queueMs, tokensPerSecond } =
        (await res.json()) as Record<string, unknown>;
      serving.push({ version: v, requests, latencyMs, firstTokenMs, queueMs, tokensPerSecond });
    }
    return { seconds, newTokens: TOKENS, phases, serverFigures: serving };
  } finally {
    await server.stop();
    await database.dispose();
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}
