/**
 * `npm run bench -- metrics [segments]`: BLEU, chrF and ROUGE throughput on deterministic synthetic
 * segment pairs (default 10,000), reported as segments per second.
 */
import { bleu, chrf, mulberry32, rouge } from '../../evaluators/index.ts';

const WORDS = (
  'the a of to and in is was for on that with as by at from it an be this are or which model ' +
  'training data evaluation score checkpoint language fine-tuning 1,000 3.14 café naïve über ' +
  'Straße 東京 résumé, "quoted" (paren) well-known state-of-the-art results. improves baseline'
).split(' ');

function pairs(n: number, seed: number): { hyps: string[]; refs: string[][] } {
  const rng = mulberry32(seed);
  const pick = () => WORDS[Math.floor(rng() * WORDS.length)]!;
  const hyps: string[] = [];
  const refs: string[][] = [];
  for (let i = 0; i < n; i++) {
    const len = 8 + Math.floor(rng() * 25);
    const ref = Array.from({ length: len }, pick);
    // The hypothesis edits about a third of the reference's words.
    const hyp = ref.map((w) => (rng() < 0.33 ? pick() : w)).filter(() => rng() > 0.05);
    hyps.push(hyp.join(' '));
    refs.push([ref.join(' ')]);
  }
  return { hyps, refs };
}

function time(segments: number, fn: () => void): { seconds: number; segmentsPerSecond: number } {
  const t0 = performance.now();
  fn();
  const seconds = (performance.now() - t0) / 1000;
  return { seconds: Number(seconds.toFixed(3)), segmentsPerSecond: Math.round(segments / seconds) };
}

export default async function metricsBench(args: string[]): Promise<object> {
  const n = Number(args[0] ?? 10_000);
  const { hyps, refs } = pairs(n, 20240601);
  return {
    segments: n,
    results: {
      bleuCorpus: time(n, () => bleu.corpus(hyps, refs)),
      bleuSentence: time(n, () => hyps.forEach((h, i) => bleu.sentence(h, refs[i]!))),
      chrf: time(n, () => chrf.corpus(hyps, refs)),
      chrfPlusPlus: time(n, () => chrf.corpus(hyps, refs, { wordOrder: 2 })),
      rouge: time(n, () =>
        hyps.forEach((h, i) =>
          rouge.score(refs[i]![0]!, h, { types: ['rouge1', 'rouge2', 'rougeL'] }),
        ),
      ),
    },
  };
}
