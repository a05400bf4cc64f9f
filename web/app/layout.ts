import { ApiError, setToken, token } from './api.ts';
import { h } from './dom.ts';
import { navigate, projectPath } from './router.ts';

const TABS = [
  ['', 'Leaderboard'],
  ['runs', 'Runs'],
  ['registry', 'Registry'],
  ['datasets', 'Datasets'],
  ['suites', 'Suites'],
  ['human', 'Human eval'],
] as const;

/** The frame around every page: brand, the project's tabs, the token control. */
export function frame(project: string | undefined, pathname: string): HTMLElement {
  const main = h('main', { id: 'page' });
  const tabs = project
    ? h(
        'nav',
        { class: 'tabs' },
        TABS.map(([path, label]) => {
          const href = path ? projectPath(project, path) : projectPath(project);
          const active = path
            ? pathname.startsWith(href)
            : pathname === href || pathname.startsWith(projectPath(project, 'compare'));
          return h('a', { href, class: active ? 'tab active' : 'tab' }, label);
        }),
      )
    : null;
  const header = h(
    'header',
    null,
    h('a', { href: '/', class: 'brand' }, 'heldout'),
    project ? h('span', { class: 'project-name' }, project) : null,
    tabs,
    h(
      'a',
      { href: '/token', class: 'token-link', 'data-testid': 'token-link' },
      token() ? 'token ✓' : 'set token',
    ),
  );
  document.body.replaceChildren(h('div', { id: 'app' }, header, main));
  return main;
}

/** What a page shows when a call fails: the server's message, and a way forward on 401. */
export function failure(err: unknown): HTMLElement {
  if (err instanceof ApiError && err.status === 401)
    return h(
      'div',
      { class: 'empty' },
      h('h2', null, 'This server needs an API token'),
      h('p', null, err.message),
      tokenForm(),
    );
  const message = err instanceof Error ? err.message : String(err);
  return h('div', { class: 'error', role: 'alert' }, message);
}

export function tokenForm(): HTMLElement {
  const input = h('input', {
    type: 'password',
    name: 'token',
    placeholder: 'hld_…',
    autocomplete: 'off',
    'aria-label': 'API token',
  });
  return h(
    'form',
    {
      class: 'token-form',
      onsubmit: (e: Event) => {
        e.preventDefault();
        setToken(input.value.trim() || null);
        navigate(new URLSearchParams(location.search).get('next') ?? location.pathname);
      },
    },
    input,
    h('button', { type: 'submit' }, 'Use this token'),
    h(
      'p',
      { class: 'hint' },
      '`heldout serve` prints an admin token on its first start; `POST /api/v1/projects/{p}/tokens` makes read-only ones. It is kept in this browser only.',
    ),
  );
}
