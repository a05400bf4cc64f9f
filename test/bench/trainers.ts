import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const runner = fileURLToPath(new URL('./_trainer-run.ts', import.meta.url));

const METHODS: [string, string, object][] = [
  ['full', 'full', { learningRate: 1e-3 }],
  ['lora r=8 (attention)', 'lora', { r: 8, learningRate: 1e-2 }],
  [
    'lora r=8 (attention + mlp)',
    'lora',
    {
      r: 8,
      learningRate: 1e-2,
      targetModules: ['attn.c_attn', 'attn.c_proj', 'mlp.c_fc', 'mlp.c_proj'],
    },
  ],
  ['ia3', 'peft', { method: 'ia3', learningRate: 1e-2 }],
  ['prompt tuning (8 tokens)', 'peft', { method: 'prompt-tuning', learningRate: 1e-2 }],
  ['bitfit', 'peft', { method: 'bitfit', learningRate: 1e-2 }],
];

/**
 * `npm run bench -- trainers [steps]`: full fine-tuning, LoRA and each PEFT method on the shipped
 * base and the same SFT data (batch 8), one process each: median step time and tokens/s after
 * warm-up, peak memory, trainable share and checkpoint bytes.
 */
export default async function trainers(args: string[]) {
  const steps = Number(args[0] ?? 40);
  const results: Record<string, unknown> = {};
  for (const [label, plugin, config] of METHODS) {
    const out = execFileSync(
      process.execPath,
      ['--import', 'tsx', runner, plugin, JSON.stringify(config), String(steps)],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
    );
    results[label] = JSON.parse(out.trim().split('\n').at(-1)!);
    process.stderr.write(`${label}: ${JSON.stringify(results[label])}\n`);
  }
  return { steps, batch: 8, results };
}
