import { api } from '../api.ts';
import { h, mount } from '../dom.ts';
import { when } from '../format.ts';
import { projectPath, type View } from '../router.ts';
import type { AliasProtection, Model, ModelDetail, Promotion, Verdict } from '../types.ts';

/** What a protected alias asks of a promotion, in words. */
const ruleText = (r: AliasProtection) =>
  r.gate
    ? `@${r.alias}: protected by gate ${r.gate.name} v${r.gate.version}`
    : `@${r.alias}: protected; no gate bound yet (the first passing promotion binds its gate)`;

/** Models, their versions and aliases, and every alias move with the gate report behind it. */
export async function registryPage({ root, params }: View) {
  const project = encodeURIComponent(params.project!);
  const { models } = await api<{ models: Model[] }>(`/projects/${project}/models`);
  if (!models.length) {
    mount(
      root,
      h('h1', null, 'Registry'),
      h(
        'div',
        { class: 'empty', 'data-testid': 'empty-registry' },
        h('h2', null, 'No registered models'),
        h(
          'p',
          null,
          'Register a checkpoint as a model version, then promote it to an alias such as production through a gate:',
        ),
        h(
          'pre',
          null,
          `POST /api/v1/projects/${params.project}/models {"name": "support-assistant"}\nPOST /api/v1/projects/${params.project}/models/support-assistant/versions {"checkpointId": "…"}\nheldout gate --project ${params.project} --model support-assistant --version 1 --gate release --promote production`,
        ),
      ),
    );
    return;
  }
  const { aliases: rules } = await api<{ aliases: AliasProtection[] }>(
    `/projects/${project}/protected-aliases`,
  );
  const protectedRules = rules.filter((r) => r.protected);
  const details = await Promise.all(
    models.map(async (m) => {
      const name = encodeURIComponent(m.name);
      const [detail, { promotions }, { verdicts }] = await Promise.all([
        api<ModelDetail>(`/projects/${project}/models/${name}`),
        api<{ promotions: Promotion[] }>(`/projects/${project}/models/${name}/promotions`),
        api<{ verdicts: Verdict[] }>(`/projects/${project}/models/${name}/verdicts`),
      ]);
      return { detail, promotions, verdicts };
    }),
  );
  mount(
    root,
    h('h1', null, 'Registry'),
    h(
      'ul',
      { class: 'protected-aliases', 'data-testid': 'protected-aliases' },
      protectedRules.map((r) => h('li', null, ruleText(r))),
    ),
    details.map(({ detail, promotions, verdicts }) =>
      h(
        'section',
        { class: 'model', 'data-model': detail.name },
        h(
          'h2',
          null,
          detail.name,
          detail.aliases.map((a) =>
            h(
              'span',
              {
                class: `badge alias ${a.protected ? 'protected' : ''}`,
                title: a.protected
                  ? ruleText(
                      protectedRules.find((r) => r.alias === a.alias) ?? {
                        alias: a.alias,
                        protected: true,
                        gate: null,
                        source: 'default',
                      },
                    )
                  : '',
              },
              `@${a.alias} → v${a.version}`,
            ),
          ),
        ),
        detail.description && h('p', null, detail.description),
        h(
          'table',
          { class: 'grid', 'data-testid': 'versions' },
          h(
            'thead',
            null,
            h(
              'tr',
              null,
              h('th', null, 'Version'),
              h('th', null, 'Aliases'),
              h('th', null, 'Run'),
              h('th', null, 'Checkpoint'),
              h('th', null, 'Created'),
            ),
          ),
          h(
            'tbody',
            null,
            detail.versions.map((v) =>
              h(
                'tr',
                null,
                h('td', null, `v${v.version}`),
                h(
                  'td',
                  null,
                  detail.aliases
                    .filter((a) => a.version === v.version)
                    .map((a) => h('span', { class: 'badge alias' }, `@${a.alias}`)),
                ),
                h(
                  'td',
                  null,
                  v.runId
                    ? h(
                        'a',
                        { href: projectPath(params.project!, 'runs', v.runId) },
                        v.runId.slice(0, 8),
                      )
                    : '–',
                ),
                h('td', { class: 'dim' }, v.checkpointId.slice(0, 8)),
                h('td', { class: 'dim' }, when(v.createdAt)),
              ),
            ),
          ),
        ),
        h('h3', null, 'Promotions'),
        promotions.length
          ? h(
              'ol',
              { class: 'promotions', 'data-testid': 'promotions' },
              promotions.map((p) =>
                h(
                  'li',
                  null,
                  h('strong', null, `@${p.alias}`),
                  ` ${p.fromVersion ? `v${p.fromVersion}` : '(new)'} → v${p.toVersion}`,
                  p.verdictOutcome
                    ? h('span', { class: `badge verdict ${p.verdictOutcome}` }, p.verdictOutcome)
                    : h('span', { class: 'badge' }, 'no verdict'),
                  h('span', { class: 'dim' }, ` · ${when(p.createdAt)}`),
                  p.reason ? h('div', { class: 'dim' }, p.reason) : null,
                  p.verdictId ? verdictReport(p.verdictId) : null,
                ),
              ),
            )
          : h('p', { class: 'dim' }, 'No alias has moved yet.'),
        h('h3', null, 'Gate verdicts'),
        verdictHistory(verdicts),
      ),
    ),
  );
}

/** The gate report of a move, fetched when opened. */
function verdictReport(verdictId: string) {
  const body = h('div', { class: 'report' }, 'loading…');
  const details = h('details', null, h('summary', null, 'gate report'), body);
  details.addEventListener(
    'toggle',
    async () => {
      try {
        body.replaceChildren(checksTable(await api<Verdict>(`/verdicts/${verdictId}`)));
      } catch (err) {
        body.textContent = (err as Error).message;
      }
    },
    { once: true },
  );
  return details;
}

/** Every verdict on the model, refused candidates included, each with its evidence. */
function verdictHistory(verdicts: Verdict[]) {
  if (!verdicts.length)
    return h('p', { class: 'dim' }, 'No version has been judged by a gate yet.');
  return h(
    'ol',
    { class: 'promotions', 'data-testid': 'verdicts' },
    verdicts.map((v) =>
      h(
        'li',
        { 'data-outcome': v.outcome },
        h('strong', null, `v${v.version}`),
        ` judged by ${v.gate.name} v${v.gate.version}`,
        h('span', { class: `badge verdict ${v.outcome}` }, v.outcome),
        h('span', { class: 'dim' }, ` · ${when(v.createdAt)}`),
        h(
          'details',
          { open: v.outcome !== 'pass' },
          h('summary', null, 'evidence'),
          checksTable(v),
        ),
      ),
    ),
  );
}

function checksTable(v: Verdict) {
  return h(
    'table',
    { class: 'grid checks' },
    h(
      'thead',
      null,
      h('tr', null, h('th', null, 'Check'), h('th', null, 'Outcome'), h('th', null, 'Evidence')),
    ),
    h(
      'tbody',
      null,
      v.checks.map((c) =>
        h(
          'tr',
          null,
          h('td', null, [c.kind, c.suite, c.metric].filter((x) => x !== undefined).join(' · ')),
          h(
            'td',
            null,
            h('span', { class: `badge verdict ${String(c.outcome)}` }, String(c.outcome)),
          ),
          h('td', { class: 'dim' }, String(c.message ?? '')),
        ),
      ),
    ),
  );
}
