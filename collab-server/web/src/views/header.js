// The bar on top of every signed-in screen: home link, the user's name, sign out.
import * as session from '../session.js'
import { h } from '../ui.js'

export function header(...extra) {
  const s = session.load()
  return h(
    'header',
    { class: 'topbar' },
    h('a', { class: 'brand', href: '#/' }, 'Weft'),
    ...extra,
    h('span', { class: 'spacer' }),
    s ? h('span', { class: 'me', dataset: { testid: 'me' } }, s.user?.name || '') : null,
    s
      ? h(
          'button',
          {
            class: 'link',
            onclick: () => {
              session.clear()
              location.hash = '#/'
              window.dispatchEvent(new Event('weft:session'))
            },
          },
          'Sign out',
        )
      : null,
  )
}
