import { api } from '../api.ts';
import { h, mount } from '../dom.ts';
import { findingList } from '../findings.ts';
import { when } from '../format.ts';
import type { View } from '../router.ts';
import type { Finding, Suite } from '../types.ts';

/** Suites, their frozen versions, and the contamination found between training data and them. */
export async function suitesPage({ root, params }: View) {
  const project = encodeURIComponent(params.project!);
  const [{ suites }, { findings }] = await Promise.all([
    api<{ suites: Suite[] }>(`/projects/${project}/suites`),
    api<{ findings: Finding[] }>(`/projects/${project}/findings?detector=contamination&limit=200`),
  ]);
  if (!suites.length) {
    mount(
      root,
      h('h1', null, 'Suites'),
      h(
        'div',
        { class: 'empty', 'data-testid': 'empty-suites' },
        h('h2', null, 'No suites'),
        h(
          'p',
          null,
          'A suite is a frozen regression set: an eval dataset version, metrics and decoding. Target suites measure the domain, retention suites the general skills a fine-tune must not forget.',
        ),
        h(
          'pre',
          null,
          `POST /api/v1/projects/${params.project}/suites {"name": "general-qa", "purpose": "retention"}\nPOST /api/v1/projects/${params.project}/suites/general-qa/versions {"datasetVersionId": …, "metrics": ["exact_match"], "passThreshold": 1}`,
        ),
      ),
    );
    return;
  }
  mount(
    root,
    h('h1', null, 'Suites'),
    h(
      'table',
      { class: 'grid', 'data-testid': 'suites' },
      h(
        'thead',
        null,
        h(
          'tr',
          null,
          h('th', null, 'Suite'),
          h('th', null, 'Purpose'),
          h('th', null, 'Version'),
          h('th', null, 'Cases'),
          h('th', null, 'Metrics'),
          h('th', null, 'Pass at'),
          h('th', null, 'Decoding'),
          h('th', null, 'Created'),
        ),
      ),
      h(
        'tbody',
        null,
        suites.flatMap((s) =>
          s.versions.map((v, i) =>
            h(
              'tr',
              { class: s.active ? '' : 'inactive' },
              h(
                'td',
                null,
                i === 0 ? h('strong', null, s.name) : '',
                i === 0 && !s.active ? h('span', { class: 'badge' }, 'inactive') : null,
              ),
              h('td', null, i === 0 ? h('span', { class: `purpose ${s.purpose}` }, s.purpose) : ''),
              h('td', null, `v${v.version}`),
              h('td', { class: 'num' }, v.caseCount),
              h('td', null, v.metrics.join(', ')),
              h('td', { class: 'num' }, v.passThreshold),
              h('td', { class: 'dim mono' }, JSON.stringify(v.decoding)),
              h('td', { class: 'dim' }, when(v.createdAt)),
            ),
          ),
        ),
      ),
    ),
    h('h2', null, 'Contamination'),
    h(
      'p',
      { class: 'hint' },
      '13-gram overlap between a run’s training data and a suite’s cases; scores are also reported without the contaminated cases.',
    ),
    findingList(findings),
  );
}
