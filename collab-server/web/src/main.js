// The demo's entry point: a hash router over the three screens (sign in, projects, a project
// with its document, chat, files and imports). Everything talks to the same origin: `/api`
// for REST, `/ws` for documents (y-websocket) and `/chat` for the chat socket.
import './style.css'
import * as session from './session.js'
import { mount } from './ui.js'
import { authView } from './views/auth.js'
import { projectsView } from './views/projects.js'
import { projectView } from './views/project.js'

const root = document.getElementById('app')
let teardown = null

function route() {
  teardown?.()
  teardown = null
  const hash = location.hash.replace(/^#\/?/, '')
  const parts = hash.split('/').filter(Boolean)
  if (!session.load()) {
    mount(root, authView())
    return
  }
  if (parts[0] === 'p' && parts[1]) {
    const view = projectView(parts[1], parts[2] === 'd' ? parts[3] : null)
    teardown = view.teardown
    mount(root, view.el)
    return
  }
  mount(root, projectsView())
}

window.addEventListener('hashchange', route)
window.addEventListener('weft:session', route)
route()
