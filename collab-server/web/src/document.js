// Opens one document live: a collab token from the REST tier, the unmodified y-websocket
// provider on `/ws`, the user's name and colour in awareness, then either the rich-text editor
// or, for an imported design (a `design` root map), the live design tree.
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import { api } from './api.js'
import * as session from './session.js'
import { h, mount, colorFor } from './ui.js'
import { mountEditor } from './editor.js'
import { mountDesignTree } from './design-tree.js'

/** The collab URL base for y-websocket: the token's `url` minus its last segment (the doc). */
function providerBase(tokenUrl) {
  const url = new URL(tokenUrl, location.href)
  // Behind a proxy the REST tier may name another host: the demo always uses its own origin.
  url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:'
  url.host = location.host
  return url.href.replace(/\/[^/]*$/, '')
}

export async function openDocument(projectId, docId, container) {
  const meta = await api('GET', `/projects/${projectId}/documents/${docId}`)
  const grant = await api('POST', `/projects/${projectId}/documents/${docId}/token`)
  const ydoc = new Y.Doc()
  const provider = new WebsocketProvider(providerBase(grant.url), grant.doc, ydoc, {
    params: { token: grant.token },
  })
  // Tokens are short-lived: every reconnect asks the REST tier for a fresh one.
  provider.on('connection-close', () => {
    api('POST', `/projects/${projectId}/documents/${docId}/token`)
      .then((fresh) => {
        provider.params.token = fresh.token
      })
      .catch(() => {})
  })
  const me = session.load()?.user
  provider.awareness.setLocalStateField('user', {
    name: me?.name || 'anonymous',
    color: colorFor(me?.id || 'anonymous'),
    id: me?.id,
  })

  const status = h('span', { class: 'status', dataset: { testid: 'doc-status' } }, 'connecting…')
  const people = h('span', { class: 'people', dataset: { testid: 'doc-people' } })
  const body = h('div', { class: 'doc-body' })
  mount(
    container,
    h(
      'div',
      { class: 'doc-head' },
      h('h2', { dataset: { testid: 'doc-title' } }, meta.name),
      people,
      status,
    ),
    body,
  )

  provider.on('status', ({ status: s }) => {
    status.textContent = s === 'connected' ? (provider.synced ? 'saved' : 'syncing…') : s
    status.dataset.state = s
  })
  const showPeople = () => {
    const states = [...provider.awareness.getStates().entries()]
    mount(
      people,
      states
        .filter(([, st]) => st.user)
        .map(([id, st]) =>
          h('span', { class: 'avatar', title: st.user.name, style: `background:${st.user.color}`, dataset: { self: id === ydoc.clientID ? '1' : '0' } }, st.user.name.slice(0, 1).toUpperCase()),
        ),
    )
  }
  provider.awareness.on('change', showPeople)

  let view = null
  await new Promise((resolve) => {
    if (provider.synced) return resolve()
    provider.once('synced', resolve)
  })
  status.textContent = 'saved'
  status.dataset.synced = '1'
  const design = ydoc.getMap('design')
  if (design.size > 0) {
    view = mountDesignTree(body, design)
  } else {
    view = mountEditor(body, ydoc, provider)
  }
  showPeople()

  return {
    close() {
      view?.destroy()
      provider.awareness.off('change', showPeople)
      provider.destroy()
      ydoc.destroy()
    },
  }
}
