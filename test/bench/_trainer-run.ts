/**
 * One trainer on the shipped base, in a process of its own so its peak memory is its own:
 * `node --import tsx test/bench/_trainer-run.ts <plugin> <config-json> <steps>` prints one JSON line.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import full from '../../plugins/builtin/full/index.ts';
import lora from '../../plugins/builtin/lora/index.ts';
import peft from '../../plugins/builtin/peft/index.ts';
import * as m from '../../plugins/model/index.ts';
import type { TrainerPlugin } from '../../plugins/sdk/index.ts';
import { localContext } from '../plugins/harness.ts';

const [name, configJson, stepsArg] = process.argv.slice(2);
const plugins: Record<string, TrainerPlugin<unknown>> = {
  full: full as TrainerPlugin<unknown>,
  lora: lora as TrainerPlugin<unknown>,
  peft: peft as TrainerPlugin<unknown>,
};
const baseDir = fileURLToPath(new URL('../../plugins/model/base/tiny-base', import.meta.url));
const steps = Number(stepsArg);

// The same SFT data for every method: a bank's fee questions, 128 rows.
const rows = Array.from({ length: 128 }, (_, i) => ({
  prompt: `Q: What does plan ${i} cost each month?\nA:`,
  response: ` Plan ${i} costs ${(i * 7) % 50} dollars a month, with no fee for transfers.`,
}));

const { backend, device } = await m.initBackend({ prefer: 'wasm' });
const plugin = plugins[name!]!;
const config = plugin.configSchema.parse({
  ...JSON.parse(configJson!),
  steps,
  batchSize: 8,
  warmupSteps: 2,
  checkpointEvery: steps,
  validationEvery: steps + 1,
});
const h = localContext({ baseDir, train: { kind: 'sft', sha256: 'bench', rows } });
let peakRss = process.memoryUsage().rss;
let peakTensorBytes = 0;
const report = h.ctx.report.metrics;
h.ctx.report.metrics = (points) => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
  peakTensorBytes = Math.max(peakTensorBytes, m.tf.memory().numBytes);
  report(points);
};
await plugin.train(config, h.ctx);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
// The first steps pay for kernel compilation and warm-up.
const settled = (key: string) =>
  h
    .series(key)
    .slice(3)
    .map((p) => p.value);
const last = h.saved.at(-1)!;
const weightsFile = ['model.safetensors', 'adapter_model.safetensors']
  .map((f) => path.join(last.dir, f))
  .find((f) => fs.existsSync(f))!;
process.stdout.write(
  `${JSON.stringify({
    backend,
    device,
    stepMsMedian: median(settled('system/step_time_ms')),
    tokensPerSecondMedian: median(settled('system/tokens_per_second')),
    peakRssMb: Math.round(peakRss / 2 ** 20),
    peakTensorMb: Math.round((peakTensorBytes / 2 ** 20) * 10) / 10,
    trainableParams: h.parameters()!.trainable,
    totalParams: h.parameters()!.total,
    trainableShare: h.parameters()!.trainable / h.parameters()!.total,
    checkpointBytes: fs.statSync(weightsFile).size,
    firstLoss: h.series('train/loss')[0]!.value,
    lastLoss: h.series('train/loss').at(-1)!.value,
  })}\n`,
);
h.cleanup();
process.exit(0);
