import { h } from './dom.ts';
import { when } from './format.ts';
import type { Finding } from './types.ts';

const EVIDENCE_SHOWN = 8;

/** Findings with their severity and the first numbers of their evidence. */
export function findingList(findings: Finding[], stepOf = new Map<string, number>()) {
  if (!findings.length)
    return h(
      'p',
      { class: 'dim', 'data-testid': 'no-findings' },
      'No detector has reported anything.',
    );
  return h(
    'ul',
    { class: 'findings', 'data-testid': 'findings' },
    findings.map((f) =>
      h(
        'li',
        { class: `finding ${f.severity}` },
        h('span', { class: `badge severity ${f.severity}` }, f.severity),
        h('strong', null, ` ${f.detector}`),
        f.checkpointId && stepOf.has(f.checkpointId)
          ? h('span', { class: 'dim' }, ` · step ${stepOf.get(f.checkpointId)}`)
          : null,
        h('span', { class: 'dim' }, ` · ${when(f.createdAt)}`),
        h('div', null, f.summary),
        h(
          'details',
          null,
          h('summary', null, 'evidence'),
          h(
            'table',
            { class: 'kv' },
            h(
              'tbody',
              null,
              Object.entries(f.evidence)
                .slice(0, EVIDENCE_SHOWN * 4)
                .map(([k, v]) =>
                  h(
                    'tr',
                    null,
                    h('th', null, k),
                    h(
                      'td',
                      null,
                      typeof v === 'object' ? JSON.stringify(v).slice(0, 400) : String(v),
                    ),
                  ),
                ),
            ),
          ),
        ),
      ),
    ),
  );
}
