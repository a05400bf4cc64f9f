import { setToken, token } from '../api.ts';
import { h, mount } from '../dom.ts';
import { tokenForm } from '../layout.ts';
import { navigate, type View } from '../router.ts';

export function tokenPage({ root }: View) {
  mount(
    root,
    h('h1', null, 'API token'),
    h('p', null, token() ? 'A token is stored in this browser.' : 'No token is stored.'),
    tokenForm(),
    token()
      ? h(
          'button',
          {
            class: 'secondary',
            onclick: () => {
              setToken(null);
              navigate('/token');
            },
          },
          'Forget the token',
        )
      : null,
  );
}
