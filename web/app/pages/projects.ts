import { api } from '../api.ts';
import { h, mount } from '../dom.ts';
import { when } from '../format.ts';
import { quickstartPanel } from '../quickstart.ts';
import { projectPath, type View } from '../router.ts';
import type { Project } from '../types.ts';

export async function projectsPage({ root, signal }: View) {
  const { projects } = await api<{ projects: Project[] }>('/projects');
  if (!projects.length) {
    const empty = h(
      'div',
      { class: 'empty', 'data-testid': 'empty-projects' },
      h('h2', null, 'No projects yet'),
      h(
        'p',
        null,
        'A project holds runs, datasets, suites and models. Create one from a terminal:',
      ),
      h(
        'pre',
        null,
        'curl -X POST localhost:4242/api/v1/projects \\\n  -H "Authorization: Bearer $HELDOUT_TOKEN" -H "Content-Type: application/json" \\\n  -d \'{"name": "support-assistant"}\'',
      ),
      h(
        'p',
        null,
        'or point an MLflow client or the heldout client at this server; the README walks through a first fine-tune.',
      ),
    );
    mount(
      root,
      empty,
      quickstartPanel(signal, true, () => empty.remove()),
    );
    return;
  }
  mount(
    root,
    quickstartPanel(signal, false),
    h('h1', null, 'Projects'),
    h(
      'table',
      { class: 'grid', 'data-testid': 'projects' },
      h(
        'thead',
        null,
        h(
          'tr',
          null,
          h('th', null, 'Project'),
          h('th', null, 'Description'),
          h('th', null, 'Created'),
        ),
      ),
      h(
        'tbody',
        null,
        projects.map((p) =>
          h(
            'tr',
            null,
            h('td', null, h('a', { href: projectPath(p.name) }, p.name)),
            h('td', null, p.description ?? ''),
            h('td', null, when(p.createdAt)),
          ),
        ),
      ),
    ),
  );
}
