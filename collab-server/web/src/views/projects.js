// Home: the user's projects across their organizations, a form to create one (creating a
// first organization when the user has none) and pending invitations to accept.
import { api } from '../api.js'
import { h, mount, showError } from '../ui.js'
import { header } from './header.js'

async function allProjects() {
  const orgs = (await api('GET', '/orgs?limit=100')).items
  const lists = await Promise.all(
    orgs.map(async (org) => (await api('GET', `/orgs/${org.id}/projects?limit=100`)).items.map((p) => ({ ...p, org }))),
  )
  return { orgs, projects: lists.flat() }
}

export function projectsView() {
  const list = h('ul', { class: 'projects', dataset: { testid: 'projects' } })
  const invitations = h('section', { class: 'invitations' })
  const error = h('p', { class: 'error', hidden: true })
  const name = h('input', { type: 'text', placeholder: 'Project name', required: true, dataset: { testid: 'project-name' } })
  let orgs = []

  async function refresh() {
    try {
      const data = await allProjects()
      orgs = data.orgs
      mount(
        list,
        data.projects.length
          ? data.projects.map((p) => h('li', {}, h('a', { href: `#/p/${p.id}` }, p.name), h('span', { class: 'muted' }, ` ${p.org.name} · ${p.role}`)))
          : h('li', { class: 'muted' }, 'No projects yet.'),
      )
      const pending = (await api('GET', '/invitations')).filter((i) => !i.accepted_at)
      mount(
        invitations,
        pending.length ? h('h2', {}, 'Invitations') : null,
        pending.map((i) =>
          h(
            'div',
            { class: 'row' },
            h('span', {}, `Join an organization as ${i.role}`),
            h('button', { dataset: { testid: 'accept-invitation' }, onclick: () => accept(i) }, 'Accept'),
          ),
        ),
      )
    } catch (e) {
      showError(error, e)
    }
  }

  async function accept(invitation) {
    try {
      await api('POST', `/invitations/${invitation.id}/accept`)
      await refresh()
    } catch (e) {
      showError(error, e)
    }
  }

  async function create(e) {
    e.preventDefault()
    error.hidden = true
    try {
      let org = orgs.find((o) => o.role === 'owner' || o.role === 'admin')
      if (!org) org = await api('POST', '/orgs', { name: 'My workspace' })
      const project = await api('POST', `/orgs/${org.id}/projects`, { name: name.value.trim() })
      location.hash = `#/p/${project.id}`
    } catch (err) {
      showError(error, err)
    }
  }

  refresh()
  return h(
    'div',
    { class: 'page' },
    header(),
    h(
      'main',
      { class: 'home' },
      h('h1', {}, 'Projects'),
      list,
      h('form', { class: 'row', onsubmit: create }, name, h('button', { type: 'submit', dataset: { testid: 'create-project' } }, 'Create project')),
      error,
      invitations,
    ),
  )
}
