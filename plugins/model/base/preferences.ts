import { mulberry32 } from '../random.ts';

/**
 * The small synthetic preference task shipped with heldout: a support agent's reply to a customer,
 * where the polite, helpful reply is preferred over the rude one. The shipped base can learn it
 * in minutes, which is what the RLHF tests and the quickstart need. Issues never repeat between the
 * train and eval splits.
 */
const ISSUES = [
  'my card was declined at the shop',
  'I was charged twice for one order',
  'my parcel has not arrived',
  'I cannot log in to my account',
  'the app shows the wrong balance',
  'my refund is late',
  'I lost my debit card',
  'a payment I do not know appeared',
  'my transfer is still pending',
  'the statement has an error',
  'my new card has not come',
  'I want to close my account',
  'the cash machine kept my card',
  'I was locked out after a reset',
  'my order came broken',
  'I was billed after I cancelled',
];
const POLITE = [
  ' I am sorry about that. I will look into it for you right away.',
  ' Thank you for telling us. Let me fix this for you now.',
  ' I understand, that is annoying. I will sort it out today.',
  ' Sorry for the trouble. I am checking your account right now.',
];
const RUDE = [
  ' Not my problem. Deal with it yourself.',
  ' Stop complaining and read the manual.',
  ' Whatever. Call back some other time.',
  ' That is your fault, not ours.',
];

export type PreferencePair = { prompt: string; chosen: string; rejected: string };

// The ways a customer opens, so that held-out prompts are many and not one sentence shape.
const OPENINGS = [
  (issue: string) => `${issue}.`,
  (issue: string) => `Hi, ${issue}.`,
  (issue: string) => `Hello. ${issue[0]!.toUpperCase()}${issue.slice(1)}.`,
  (issue: string) => `${issue[0]!.toUpperCase()}${issue.slice(1)}, can you help?`,
];

const issuesOf = (split: 'train' | 'eval') =>
  ISSUES.filter((_, i) => (i % 3 === 2) === (split === 'eval'));
const promptOf = (issue: string, opening: (issue: string) => string) =>
  `Customer: ${opening(issue)}\nAgent:`;

/**
 * Every distinct prompt of a split (20 held out, 44 for training), in a fixed order: what
 * held-out rewards are measured on.
 */
export function politenessPrompts(split: 'train' | 'eval'): string[] {
  return issuesOf(split).flatMap((issue) => OPENINGS.map((o) => promptOf(issue, o)));
}

/**
 * `n` pairs of the politeness task from one split: every third issue is held out for `eval`.
 *
 * @example
 * politenessPairs(64, 'train', 1)[0]; // { prompt: 'Customer: ...\nAgent:', chosen: ' I am sorry ...', rejected: ' Not my problem ...' }
 */
export function politenessPairs(
  n: number,
  split: 'train' | 'eval',
  seed: number,
): PreferencePair[] {
  const prompts = politenessPrompts(split);
  const rand = mulberry32(seed);
  const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)]!;
  return Array.from({ length: n }, () => ({
    prompt: pick(prompts),
    chosen: pick(POLITE),
    rejected: pick(RUDE),
  }));
}

/**
 * Supervised transcripts of the same support desk, where agents were polite only `politeShare` of
 * the time: the starting policy of an RLHF run (SFT, then a reward model, then PPO), which
 * answers rudely often enough for the preference methods to have something to fix.
 */
export function politenessTranscripts(
  n: number,
  split: 'train' | 'eval',
  seed: number,
  politeShare: number,
): { prompt: string; response: string }[] {
  const prompts = politenessPrompts(split);
  const rand = mulberry32(seed);
  const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)]!;
  return Array.from({ length: n }, () => ({
    prompt: pick(prompts),
    response: rand() < politeShare ? pick(POLITE) : pick(RUDE),
  }));
}
