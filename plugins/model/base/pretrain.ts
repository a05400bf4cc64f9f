/**
 * `npm run pretrain:base [-- --minutes 60 --out plugins/model/base/tiny-base]`: pretrains the
 * small byte-level GPT-2 shipped with heldout, on the Brown corpus, WordNet glosses and generated
 * general skills, within a time budget. Writes the checkpoint, its training record and the
 * retention suites that measure the skills.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { initBackend, parseBackendName } from '../backend/index.ts';
import { loadCheckpointDir, saveCheckpointDir } from '../checkpoint.ts';
import { modelConfigSchema, parameterCount } from '../config.ts';
import { generate } from '../generate.ts';
import { createByteTokenizer, saveTokenizer } from '../tokenizers/index.ts';
import * as tf from '../tf.ts';
import { AdamW, warmupCosine } from '../train/adamw.ts';
import {
  createModel,
  exportWeights,
  forward,
  initWeights,
  lmLoss,
  type Gpt2Model,
} from '../transformer.ts';
import { brownParagraphs } from './brown.ts';
import { BYTE_VOCAB, EOT, pretrainingBatches, type Batch } from './corpus.ts';
import { retentionSuite, SKILLS, skillSources, type EvalCase } from './skills.ts';
import { wordnetGlosses } from './wordnet.ts';

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '60' },
    out: { type: 'string', default: 'plugins/model/base/tiny-base' },
    seed: { type: 'string', default: '1' },
    batch: { type: 'string', default: '16' },
    time: { type: 'string', default: '128' },
    lr: { type: 'string', default: '2e-3' },
    backend: { type: 'string' },
    // Share of skill documents in the stream (brown and wordnet keep their 45:20 ratio).
    skills: { type: 'string', default: '0.4' },
    // Steps trained on skill documents alone first. Copying and capitalisation need an induction
    // circuit (look back, copy what followed); measured here, it forms after about 1,000 steps of
    // copy-heavy data and not in 7,000 steps of a mixture where skills are a third of the text.
    'skills-first': { type: 'string', default: '2000' },
    definitions: { type: 'string', default: '100' },
    // Continue from a checkpoint this script wrote (a second, skill-heavier stage); its training
    // record is kept inside the new one.
    init: { type: 'string' },
    warmup: { type: 'string', default: '200' },
  },
});

const config = modelConfigSchema.parse({
  vocab_size: BYTE_VOCAB,
  n_positions: 256,
  n_embd: 128,
  n_layer: 4,
  n_head: 4,
  bos_token_id: EOT,
  eos_token_id: EOT,
});
const budgetMs = Number(args.minutes) * 60_000;
const batch = Number(args.batch);
const time = Number(args.time);
const seed = Number(args.seed);
const peakLr = Number(args.lr);

function batchLoss(model: Gpt2Model, b: Batch): tf.Scalar {
  const input = tf.tensor2d(b.input, [batch, time], 'int32');
  const target = tf.tensor2d(b.target, [batch, time], 'int32');
  return lmLoss(forward(model, input).logits, target, tf.onesLike(target) as tf.Tensor2D);
}

function meanLoss(model: Gpt2Model, batches: Batch[]): number {
  let sum = 0;
  for (const b of batches) sum += tf.tidy(() => batchLoss(model, b).dataSync()[0]!);
  return sum / batches.length;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const normalise = (s: string) => s.trim().replace(/\s+/g, ' ');

/** Greedy answers to a suite's prompts: exact match after whitespace normalisation. */
function retention(model: Gpt2Model, cases: EvalCase[]): { exactMatch: number; outputs: string[] } {
  const outputs = cases.map((c) => {
    const { ids } = generate(model, [...encoder.encode(c.input)], {
      maxNewTokens: 48,
      stopIds: [10, EOT],
    });
    return decoder.decode(new Uint8Array(ids.filter((t) => t < 256 && t !== 10)));
  });
  const hits = outputs.filter((o, i) => normalise(o) === normalise(cases[i]!.expected)).length;
  return { exactMatch: hits / cases.length, outputs };
}

async function main() {
  const { backend, device } = await initBackend(
    args.backend ? { prefer: parseBackendName(args.backend) } : {},
  );
  const started = Date.now();
  const paragraphs = brownParagraphs();
  // Every 25th paragraph is held out: the validation loss measures English, not memory.
  const trainText = paragraphs.filter((_, i) => i % 25 !== 0);
  const validText = paragraphs.filter((_, i) => i % 25 === 0);
  const glosses = wordnetGlosses();
  const sources = skillSources(glosses, Number(args.definitions));
  const suites = Object.fromEntries(
    SKILLS.map((s) => [s, retentionSuite(s, sources, 100)]),
  ) as Record<(typeof SKILLS)[number], EvalCase[]>;

  const skillShare = Number(args.skills);
  const mixture = {
    brown: (1 - skillShare) * (45 / 65),
    wordnet: (1 - skillShare) * (20 / 65),
    skills: skillShare,
  };
  const mixed = pretrainingBatches(
    { brown: trainText, glosses, sources },
    { batch, time, seed, mixture },
  );
  const skillsOnly = pretrainingBatches(
    { brown: [], glosses: [], sources },
    { batch, time, seed: seed + 2, mixture: { brown: 0, wordnet: 0, skills: 1 } },
  );
  const skillsFirst = Number(args['skills-first']);
  const next = (step: number) => (step < skillsFirst ? skillsOnly() : mixed());
  // A quick look at the skills while training: 20 cases per suite.
  const probe = () =>
    Object.fromEntries(SKILLS.map((s) => [s, retention(model, suites[s].slice(0, 20)).exactMatch]));
  const validNext = pretrainingBatches(
    { brown: validText, glosses: [], sources },
    // Fixed, so the validation windows are the same whatever --seed a stage trains with.
    { batch, time, seed: 2, mixture: { brown: 1, wordnet: 0, skills: 0 } },
  );
  const validBatches = Array.from({ length: 8 }, validNext);

  const init = args.init ? await loadCheckpointDir(args.init) : undefined;
  if (init && JSON.stringify(init.config) !== JSON.stringify(config)) {
    throw new Error(`--init ${args.init} has another model config than this script trains`);
  }
  const previous = args.init
    ? (JSON.parse(fs.readFileSync(path.join(args.init, 'training-record.json'), 'utf8')) as unknown)
    : undefined;
  const model = createModel(config, init?.weights ?? initWeights(config, seed));
  const warmup = Number(args.warmup);
  const optimizer = new AdamW(model.params, { weightDecay: 0.1, clipNorm: 1, beta2: 0.99 });
  const curve: {
    step: number;
    loss: number;
    lr: number;
    seconds: number;
    validLoss?: number;
    skills?: Record<string, number>;
  }[] = [];
  let plannedSteps = 2_000;
  let step = 0;
  let window = 0;
  const trainStart = Date.now();
  process.stderr.write(
    `pretraining ${parameterCount(config)} parameters on ${backend} for ${args.minutes} min\n`,
  );
  while (Date.now() - trainStart < budgetMs - 60_000 || step < 10) {
    // Re-plan the cosine schedule from the measured step time, so it ends with the budget.
    if (step === 20 || step === 200 || step === 1000) {
      const perStep = (Date.now() - trainStart) / step;
      plannedSteps = Math.max(step + 1, Math.floor((budgetMs - 90_000) / perStep));
    }
    if (step >= plannedSteps) break;
    const b = next(step);
    const lr = warmupCosine(step, { peak: peakLr, warmup, total: plannedSteps, floor: 0.1 });
    const { loss } = optimizer.step(() => batchLoss(model, b), lr);
    window += loss;
    step++;
    if (step % 50 === 0) {
      const point: (typeof curve)[number] = {
        step,
        loss: window / 50,
        lr,
        seconds: (Date.now() - trainStart) / 1000,
      };
      window = 0;
      if (step % 500 === 0) point.validLoss = meanLoss(model, validBatches);
      if (step % 1000 === 0) point.skills = probe();
      curve.push(point);
      process.stderr.write(`${JSON.stringify(point)}\n`);
    }
  }
  const trainSeconds = (Date.now() - trainStart) / 1000;

  const validLoss = meanLoss(model, validBatches);
  const scores = Object.fromEntries(
    SKILLS.map((skill) => {
      const r = retention(model, suites[skill]);
      return [skill, { exactMatch: r.exactMatch, samples: r.outputs.slice(0, 5) }];
    }),
  );
  const out = path.resolve(args.out);
  const { sha256, sizeBytes } = await saveCheckpointDir(out, config, exportWeights(model), {
    heldout_tokenizer: 'bytes',
  });
  await saveTokenizer(out, createByteTokenizer());
  const suitesDir = path.join(path.dirname(out), 'suites');
  fs.mkdirSync(suitesDir, { recursive: true });
  for (const skill of SKILLS) {
    fs.writeFileSync(
      path.join(suitesDir, `${skill}.jsonl`),
      suites[skill].map((c) => JSON.stringify(c)).join('\n') + '\n',
    );
  }
  const record = {
    model: { parameters: parameterCount(config), config, sha256, sizeBytes },
    data: {
      brownParagraphs: trainText.length,
      wordnetGlosses: glosses.length,
      definitionsMemorised: sources.definitions.length,
      mixture: `documents: brown ${mixture.brown.toFixed(2)}, wordnet ${mixture.wordnet.toFixed(2)}, skills ${skillShare}`,
      skillsOnlySteps: skillsFirst,
    },
    training: {
      backend,
      device,
      seed,
      batch,
      time,
      steps: step,
      tokens: step * batch * time,
      seconds: Math.round(trainSeconds),
      peakLr,
      schedule: `warmup ${warmup} steps, cosine to 10%`,
      optimizer: 'AdamW beta2 0.99, weight decay 0.1 on matrices, clip 1.0',
    },
    evaluation: {
      validLoss,
      validPerplexityPerByte: Math.exp(validLoss),
      validBitsPerByte: validLoss / Math.LN2,
      retention: scores,
    },
    curve,
    ...(previous ? { initFrom: { sha256: init!.sha256, record: previous } } : {}),
    totalSeconds: Math.round((Date.now() - started) / 1000),
    createdAt: new Date().toISOString(),
  };
  fs.writeFileSync(path.join(out, 'training-record.json'), `${JSON.stringify(record, null, 2)}\n`);
  process.stderr.write(`${JSON.stringify(record.evaluation)}\n`);
}

await main();
