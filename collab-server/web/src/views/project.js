// A project: its documents on the left (plus inviting people, uploads and design imports), the
// open document in the middle (rich text, or a live tree for an imported design) and the
// project's chat on the right.
import { api } from '../api.js'
import { h, mount, showError } from '../ui.js'
import { header } from './header.js'
import { openDocument } from '../document.js'
import { chatPanel } from '../chat/panel.js'
import { filesPanel } from './files.js'
import { importPanel } from './imports.js'

export function projectView(projectId, docId) {
  const error = h('p', { class: 'error', hidden: true })
  const docs = h('ul', { class: 'docs', dataset: { testid: 'documents' } })
  const title = h('span', { class: 'project-name' })
  const center = h('section', { class: 'center' }, h('p', { class: 'muted' }, 'Open or create a document.'))
  const members = new Map()
  let project = null
  let doc = null
  let closed = false

  /** Who may be in this project: its own members and its organization's. */
  async function loadMembers() {
    project ??= await api('GET', `/projects/${projectId}`)
    const [own, org] = await Promise.all([
      api('GET', `/projects/${projectId}/members`).catch(() => []),
      api('GET', `/orgs/${project.org_id}/members?limit=100`).then((p) => p.items).catch(() => []),
    ])
    for (const m of [...org, ...own]) members.set(m.user_id, m)
  }
  /** A user's display name (members are reloaded once for an unknown id). */
  async function nameOf(userId) {
    if (!members.has(userId)) await loadMembers().catch(() => {})
    return members.get(userId)?.name || 'someone'
  }

  async function refreshDocs() {
    const page = await api('GET', `/projects/${projectId}/documents?limit=100`)
    mount(
      docs,
      page.items.map((d) =>
        h('li', { class: d.id === docId ? 'active' : '' }, h('a', { href: `#/p/${projectId}/d/${d.id}`, dataset: { testid: 'doc-link' } }, d.name)),
      ),
    )
  }

  const newDoc = h('input', { type: 'text', placeholder: 'New document', dataset: { testid: 'new-doc-name' } })
  async function createDoc(e) {
    e.preventDefault()
    try {
      const d = await api('POST', `/projects/${projectId}/documents`, { name: newDoc.value.trim() || 'Untitled' })
      location.hash = `#/p/${projectId}/d/${d.id}`
    } catch (err) {
      showError(error, err)
    }
  }

  const inviteEmail = h('input', { type: 'email', placeholder: 'colleague@example.com', dataset: { testid: 'invite-email' } })
  const inviteNote = h('p', { class: 'muted small' })
  async function invite(e) {
    e.preventDefault()
    try {
      await api('POST', `/orgs/${project.org_id}/invitations`, { email: inviteEmail.value.trim(), role: 'editor' })
      inviteNote.textContent = `Invited ${inviteEmail.value.trim()} as editor.`
      inviteEmail.value = ''
    } catch (err) {
      inviteNote.textContent = err.detail || err.message
    }
  }

  const chat = chatPanel(projectId, nameOf)
  const files = filesPanel(projectId)
  const imports = importPanel(projectId, (id) => (location.hash = `#/p/${projectId}/d/${id}`))

  ;(async () => {
    try {
      project = await api('GET', `/projects/${projectId}`)
      title.textContent = project.name
      await Promise.all([loadMembers(), refreshDocs()])
      if (docId && !closed) {
        const opened = await openDocument(projectId, docId, center)
        if (closed) opened.close()
        else doc = opened
      }
    } catch (err) {
      showError(error, err)
    }
  })()

  const el = h(
    'div',
    { class: 'page' },
    header(h('span', { class: 'crumb' }, ' / '), title),
    error,
    h(
      'div',
      { class: 'project' },
      h(
        'aside',
        { class: 'sidebar' },
        h('h2', {}, 'Documents'),
        docs,
        h('form', { class: 'row', onsubmit: createDoc }, newDoc, h('button', { type: 'submit', dataset: { testid: 'create-doc' } }, 'New')),
        h('h2', {}, 'Invite'),
        h('form', { class: 'row', onsubmit: invite }, inviteEmail, h('button', { type: 'submit', dataset: { testid: 'invite' } }, 'Invite')),
        inviteNote,
        files.el,
        imports.el,
      ),
      center,
      chat.el,
    ),
  )
  return {
    el,
    teardown() {
      closed = true
      doc?.close()
      chat.close()
      files.close()
      imports.close()
    },
  }
}
