/**
 * A verdict for release pipelines: JUnit XML (one testcase per leaf check, which CI systems
 * display natively) and a Markdown summary for GitHub's `$GITHUB_STEP_SUMMARY`.
 */
import { fmt } from './evidence.ts';
import type { CheckResult, Outcome, Verdict } from './types.ts';

// XML 1.0 forbids most control characters even when escaped; drop them so the file always parses.
// eslint-disable-next-line no-control-regex
const INVALID_XML = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g;

/**
 * Escapes text for an XML attribute or element.
 *
 * @example
 * xmlEscape('a < b & "c"') // 'a &lt; b &amp; &quot;c&quot;'
 */
export const xmlEscape = (s: string) =>
  s
    .replace(INVALID_XML, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');

const label = (c: CheckResult) =>
  [c.path, c.kind, c.suite, c.metric].filter((p) => p !== undefined).join(' ');

const count = (v: Verdict, o: Outcome) => v.checks.filter((c) => c.outcome === o).length;

/**
 * JUnit XML: a `fail` check is a `<failure>`, a `no_data` check is `<skipped>`, with the check's
 * message. The gate's own outcome is the suite's name suffix, since JUnit has no "no data".
 *
 * @example
 * await writeFile('gate.xml', renderJUnit('release', verdict));
 */
export function renderJUnit(gateName: string, verdict: Verdict): string {
  const name = xmlEscape(`gate ${gateName}`);
  const [failures, skipped] = [count(verdict, 'fail'), count(verdict, 'no_data')];
  const totals = `tests="${verdict.checks.length}" failures="${failures}" errors="0" skipped="${skipped}"`;
  const cases = verdict.checks.map((c) => {
    const open = `    <testcase classname="${xmlEscape(`heldout.gate.${gateName}`)}" name="${xmlEscape(label(c))}"`;
    if (c.outcome === 'pass') return `${open} />`;
    const tag = c.outcome === 'fail' ? 'failure' : 'skipped';
    const msg = xmlEscape(c.message);
    const body = c.flipped?.length ? `flipped: ${xmlEscape(c.flipped.join(', '))}` : msg;
    return `${open}>\n      <${tag} message="${msg}">${body}</${tag}>\n    </testcase>`;
  });
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="${name}" ${totals}>`,
    `  <testsuite name="${name}: ${verdict.outcome}" ${totals}>`,
    ...cases,
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}

const ICON: Record<Outcome, string> = { pass: '✅', fail: '❌', no_data: '⚠️' };
const MAX_ROWS = 20;
const MAX_IDS = 10;

// Table cells: one line, pipes escaped, HTML-ish characters neutralised.
const cell = (s: string) =>
  s.replace(/\r?\n/g, ' ').replace(/\|/g, '\\|').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const code = (s: string) => `\`${s.replace(/`/g, "'")}\``;

const numbers = (c: CheckResult) => {
  const parts: string[] = [];
  if (c.observed !== undefined) parts.push(fmt(c.observed));
  if (c.baseline !== undefined) parts.push(`vs ${fmt(c.baseline)}`);
  if (c.interval) parts.push(`CI [${fmt(c.interval.low)}, ${fmt(c.interval.high)}]`);
  if (c.pValue !== undefined) parts.push(`p = ${fmt(c.pValue)}`);
  return parts.join(' ');
};

const row = (c: CheckResult) => {
  const where = [c.suite, c.metric].filter((p) => p !== undefined).join(' · ');
  const ids = c.flipped?.length
    ? ` Flipped: ${c.flipped.slice(0, MAX_IDS).join(', ')}${c.flipped.length > MAX_IDS ? `, … ${c.flipped.length - MAX_IDS} more` : ''}.`
    : '';
  return `| ${ICON[c.outcome]} | ${code(c.path)} ${c.kind} | ${cell(where)} | ${cell(numbers(c))} | ${cell(c.message + ids)} |`;
};

const table = (checks: CheckResult[]) => [
  '| | check | suite · metric | value | details |',
  '| --- | --- | --- | --- | --- |',
  ...checks.map(row),
];

const details = (summary: string, body: string[]) => [
  '<details>',
  `<summary>${cell(summary)}</summary>`,
  '', // GitHub renders Markdown inside <details> only after a blank line
  ...body,
  '',
  '</details>',
];

/**
 * Markdown for `$GITHUB_STEP_SUMMARY`: the verdict heading first, then a table of checks. Beyond
 * 20 checks the passing ones fold into `<details>`; flipped ids beyond 10 fold likewise.
 *
 * @example
 * await appendFile(process.env.GITHUB_STEP_SUMMARY!, renderMarkdownSummary('release', verdict));
 */
export function renderMarkdownSummary(gateName: string, verdict: Verdict): string {
  const { checks } = verdict;
  const tally = (['pass', 'fail', 'no_data'] as const).map((o) => `${count(verdict, o)} ${o}`);
  const lines = [
    `## ${ICON[verdict.outcome]} Gate ${code(gateName)}: ${verdict.outcome}`,
    '',
    `${checks.length} check${checks.length === 1 ? '' : 's'}: ${tally.join(', ')}.`,
    '',
  ];
  if (checks.length <= MAX_ROWS) {
    lines.push(...table(checks));
  } else {
    const notPassing = checks.filter((c) => c.outcome !== 'pass');
    const passing = checks.filter((c) => c.outcome === 'pass');
    if (notPassing.length > 0) lines.push(...table(notPassing.slice(0, MAX_ROWS)));
    if (notPassing.length > MAX_ROWS) {
      lines.push(
        '',
        ...details(
          `${notPassing.length - MAX_ROWS} more checks that did not pass`,
          table(notPassing.slice(MAX_ROWS)),
        ),
      );
    }
    if (passing.length > 0)
      lines.push('', ...details(`${passing.length} passing checks`, table(passing)));
  }
  for (const c of checks) {
    if ((c.flipped?.length ?? 0) <= MAX_IDS) continue;
    const summary = `All ${c.flipped!.length} flipped cases of ${c.path}${c.suite ? ` on ${c.suite}` : ''}`;
    lines.push('', ...details(summary, [c.flipped!.map((id) => code(id)).join(', ')]));
  }
  return `${lines.join('\n')}\n`;
}
