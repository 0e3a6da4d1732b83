// Sign up and sign in: one form, two buttons; a session is stored and the app re-routes.
import { api, remember } from '../api.js'
import { h } from '../ui.js'

export function authView() {
  const error = h('p', { class: 'error', hidden: true, dataset: { testid: 'auth-error' } })
  const email = h('input', { type: 'email', name: 'email', placeholder: 'you@example.com', required: true, autocomplete: 'email' })
  const name = h('input', { type: 'text', name: 'name', placeholder: 'Your name (for sign up)', autocomplete: 'name' })
  const password = h('input', { type: 'password', name: 'password', placeholder: 'Password (at least 8 characters)', required: true, autocomplete: 'current-password' })

  async function submit(kind) {
    error.hidden = true
    try {
      const body = { email: email.value.trim(), password: password.value }
      if (kind === 'register') body.name = name.value.trim() || body.email.split('@')[0]
      const s = await api('POST', `/auth/${kind}`, body, { retry: false })
      remember(s)
      window.dispatchEvent(new Event('weft:session'))
    } catch (e) {
      error.textContent = e.detail || e.message
      error.hidden = false
    }
  }

  return h(
    'main',
    { class: 'auth' },
    h('h1', {}, 'Weft'),
    h('p', { class: 'muted' }, 'Real-time documents, chat and designs on your own server.'),
    h(
      'form',
      { class: 'card', onsubmit: (e) => (e.preventDefault(), submit('login')) },
      email,
      name,
      password,
      h(
        'div',
        { class: 'row' },
        h('button', { type: 'submit', dataset: { testid: 'login' } }, 'Sign in'),
        h('button', { type: 'button', class: 'secondary', dataset: { testid: 'signup' }, onclick: () => submit('register') }, 'Create account'),
      ),
      error,
    ),
  )
}
