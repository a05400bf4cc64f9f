import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { HeldoutClient } from '../client/index.ts';
import { gateCommand } from '../gate-command.ts';
import { feeCases, feePlans, feePreferences, jsonl } from './data.ts';

const suitesDir = fileURLToPath(new URL('../../plugins/model/base/suites/', import.meta.url));

/** How much training the quickstart does: `full` for people, `short` for the test suite. */
export type QuickstartScale = 'full' | 'short';

export type QuickstartEvent =
  | { kind: 'step'; message: string }
  | { kind: 'progress'; run: string; done: number; total: number; status: string }
  | { kind: 'gate'; version: number; method: string; exitCode: number; output: string };

interface Plan {
  name: string;
  method: string;
  plugin: string;
  config: Record<string, unknown>;
  preference?: boolean;
  replay?: boolean;
  /** The plan whose last checkpoint this run starts from (RLHF on top of the SFT adapter). */
  startFrom?: string;
}

// The careless full fine-tune takes big steps on the narrow domain (and forgets); the adapters
// train a few parameters on the frozen base (and keep the base's skills).
const plans = (scale: QuickstartScale): Plan[] => {
  const k = scale === 'full' ? 2 : 1;
  const common = { batchSize: 8, warmupSteps: 2, seed: 1 };
  return [
    {
      name: 'full-finetune',
      method: 'full',
      plugin: 'full',
      config: {
        ...common,
        steps: 60 * k,
        learningRate: 5e-3,
        checkpointEvery: 30 * k,
        validationEvery: 10,
      },
    },
    {
      name: 'lora-r8-replay',
      method: 'lora',
      plugin: 'lora',
      replay: true,
      config: {
        ...common,
        steps: 20 * k,
        learningRate: 2e-3,
        checkpointEvery: 10 * k,
        validationEvery: 5,
      },
    },
    {
      name: 'ia3',
      method: 'peft:ia3',
      plugin: 'peft',
      config: {
        ...common,
        method: 'ia3',
        steps: 20 * k,
        learningRate: 1e-2,
        checkpointEvery: 10 * k,
        validationEvery: 5,
      },
    },
    {
      name: 'dpo-on-lora',
      method: 'rlhf:dpo',
      plugin: 'rlhf',
      preference: true,
      startFrom: 'lora-r8-replay',
      config: {
        ...common,
        method: 'dpo',
        adapter: 'lora',
        // Gentle: the SFT adapter already prefers the direct answers, and a harder push (24 steps
        // at 1e-3, beta 0.1) drove the deflections' margin from 38 to 101 nats and cost the
        // adapter its fees and its skills (capitalisation 0.95 → 0.55), which the gate refused.
        beta: 0.5,
        steps: 8 * k,
        learningRate: 2e-4,
        checkpointEvery: 8 * k,
        validationEvery: 4,
      },
    },
  ];
};

const GATE = {
  kind: 'all',
  checks: [
    {
      kind: 'change',
      baseline: 'base',
      suite: { purpose: 'retention' },
      metric: 'exact-match',
      direction: 'higher_is_better',
      minAbsoluteChange: -0.15,
    },
    { kind: 'no_blocking_findings' },
  ],
};

const retentionSkills = ['capitalisation', 'copying'];

/** The shipped base's skill cases (`{id, input, expected}`), in file order. */
const skillRows = (name: string) =>
  fs
    .readFileSync(`${suitesDir}${name}.jsonl`, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { id: string; input: string; expected: string });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The main job end to end, through the HTTP API like any user: a bank-support project on the
 * shipped base model with SFT and preference data, a target suite and two retention suites, a
 * release gate; a full fine-tune, a LoRA, an IA³ and DPO on top of the LoRA adapter, each evaluated checkpoint by
 * checkpoint; every version judged by `heldout gate`, the careless one blocked with its evidence,
 * the best adapter that passes promoted to `production`. Every number comes from training and
 * evaluating; nothing is scripted.
 *
 * @example
 * const result = await runQuickstart(client, { server: url, token, scale: 'full', onEvent: print });
 */
export async function runQuickstart(
  client: HeldoutClient,
  opts: {
    server: string;
    token: string;
    project?: string;
    scale?: QuickstartScale;
    onEvent?: (e: QuickstartEvent) => void;
  },
) {
  const emit = opts.onEvent ?? (() => {});
  const project = opts.project ?? 'bank-support';
  const scale = opts.scale ?? 'full';

  emit({ kind: 'step', message: `project ${project}: data, suites and a release gate` });
  await client.projects.create({
    name: project,
    description: 'quickstart: a bank support assistant',
  });
  const sft = await client.datasets.upload(project, 'fee-questions', 'sft', jsonl(feePlans(0, 64)));
  // Replay, the standard remedy for forgetting: the same questions mixed with rows of the general
  // skills (never the retention suites' own cases, which are the first 20 of each file).
  const replayRows = retentionSkills.flatMap((name) =>
    skillRows(name)
      .slice(20, 52)
      .map((c) => ({ prompt: c.input, response: ` ${c.expected}` })),
  );
  const replay = await client.datasets.upload(
    project,
    'fee-questions-replay',
    'sft',
    jsonl([...feePlans(0, 64), ...replayRows]),
  );
  const valid = await client.datasets.upload(
    project,
    'fee-questions-valid',
    'sft',
    jsonl(feePlans(100, 16)),
  );
  const prefs = await client.datasets.upload(
    project,
    'fee-preferences',
    'preference',
    jsonl(feePreferences(0, 48)),
  );
  const suites = [
    {
      name: 'fees',
      purpose: 'target' as const,
      rows: jsonl(feeCases(200, 16)),
      metric: 'squad-f1' as const,
      pass: 0.8,
    },
    ...retentionSkills.map((name) => ({
      name,
      purpose: 'retention' as const,
      rows: jsonl(skillRows(name).slice(0, 20)),
      metric: 'exact-match' as const,
      pass: 1,
    })),
  ];
  for (const s of suites) {
    const cases = await client.datasets.upload(project, `${s.name}-cases`, 'eval', s.rows);
    await client.suites.create(project, { name: s.name, purpose: s.purpose });
    await client.suites.addVersion(project, s.name, {
      datasetVersionId: cases.id,
      metrics: [s.metric],
      decoding: { maxNewTokens: 24 },
      passThreshold: s.pass,
    });
  }
  await client.gates.save(project, { name: 'release', policy: GATE });
  await client.models.create(project, { name: 'support-assistant' });

  const versions: {
    version: number;
    method: string;
    name: string;
    run: string;
    checkpointId: string;
  }[] = [];
  for (const plan of plans(scale)) {
    const start = versions.find((v) => v.name === plan.startFrom);
    emit({ kind: 'step', message: `${plan.name}: training (${plan.method})` });
    const datasets = plan.preference
      ? [{ datasetVersionId: prefs.id, role: 'train' as const }]
      : [
          { datasetVersionId: (plan.replay ? replay : sft).id, role: 'train' as const },
          { datasetVersionId: valid.id, role: 'validation' as const },
        ];
    const run = await client.runs.create(project, {
      name: plan.name,
      plugin: plan.plugin,
      config: plan.config,
      datasets,
      params: { method: plan.method },
      ...(start && { baseCheckpointId: start.checkpointId, parentRunId: start.run }),
    });
    const total = Number(plan.config.steps);
    for (;;) {
      const now = await client.runs.get(run.id);
      const done = Math.max(0, ...Object.values(now.metrics).map((m) => m.step));
      emit({ kind: 'progress', run: plan.name, done, total, status: now.status });
      if (now.status === 'finished') break;
      if (now.status === 'failed' || now.status === 'cancelled')
        throw new Error(`${plan.name} ${now.status}: ${now.error ?? 'no error recorded'}`);
      await sleep(1000);
    }
    const checkpoints = await client.checkpoints.list(run.id);
    emit({
      kind: 'step',
      message: `${plan.name}: evaluating ${checkpoints.length} checkpoints on ${suites.length} suites`,
    });
    for (const c of checkpoints) await evaluated(client, c.id, suites.length);
    const last = checkpoints.at(-1)!;
    const v = await client.models.addVersion(project, 'support-assistant', {
      checkpointId: last.id,
    });
    versions.push({
      version: v.version,
      method: plan.method,
      name: plan.name,
      run: run.id,
      checkpointId: last.id,
    });
  }

  // The release pipeline's view: `heldout gate` on every version, promoting the first that passes.
  let promoted: { version: number; method: string } | undefined;
  const gates: { version: number; method: string; exitCode: number; output: string }[] = [];
  for (const v of versions) {
    const out: string[] = [];
    const promote = !promoted && v.method !== 'full' ? ['--promote', 'production'] : [];
    const exitCode = await gateCommand(
      [
        '--server',
        opts.server,
        '--token',
        opts.token,
        '--project',
        project,
        '--model',
        'support-assistant',
        '--candidate',
        String(v.version),
        '--gate',
        'release',
        ...promote,
      ],
      { stdout: (t) => out.push(t), stderr: (t) => out.push(t), env: {} },
    );
    const result = { version: v.version, method: v.method, exitCode, output: out.join('') };
    gates.push(result);
    emit({ kind: 'gate', ...result });
    if (exitCode === 0 && promote.length) promoted = v;
  }
  return { project, versions, gates, promoted };
}

/** Waits for every evaluation of a checkpoint (queued when it was registered) to finish. */
export async function evaluated(client: HeldoutClient, checkpointId: string, suites: number) {
  for (let i = 0; i < 600; i++) {
    const all = await client.evaluations.ofCheckpoint(checkpointId);
    const failed = all.find((e) => e.status === 'failed');
    if (failed) throw new Error(`evaluation of ${failed.suite} failed: ${failed.error}`);
    if (all.length >= suites && all.every((e) => e.status === 'finished')) return all;
    await sleep(1000);
  }
  throw new Error(`checkpoint ${checkpointId}: evaluations did not finish in 10 minutes`);
}
