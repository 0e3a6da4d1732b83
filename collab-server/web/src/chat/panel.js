// The project's chat: its `general` channel (created on first use), the latest history over
// REST, then live messages, typing indicators and who is online over the chat socket.
import { api, accessToken } from '../api.js'
import * as session from '../session.js'
import { h, mount, colorFor } from '../ui.js'
import { ChatSocket } from './socket.js'

const TYPING_EVERY_MS = 3000

async function generalChannel(projectId) {
  const find = async () => (await api('GET', `/projects/${projectId}/channels?limit=100`)).items.find((c) => c.name === 'general')
  const existing = await find()
  if (existing) return existing
  try {
    return await api('POST', `/projects/${projectId}/channels`, { name: 'general', topic: 'Project chat' })
  } catch (e) {
    if (e.status === 409) return find()
    throw e
  }
}

/** A REST message or a socket message, in one shape. */
function normal(m) {
  return { id: m.id, seq: m.seq, body: m.body, deleted: m.deleted, author: m.author ?? m.author_id, channel: m.channel ?? m.channel_id, created_at: m.created_at }
}

export function chatPanel(projectId, nameOf) {
  const me = session.load()?.user
  const log = h('ol', { class: 'messages', dataset: { testid: 'messages' } })
  const typingLine = h('p', { class: 'typing muted small', dataset: { testid: 'typing' } })
  const online = h('div', { class: 'online', dataset: { testid: 'online' } })
  const state = h('span', { class: 'muted small', dataset: { testid: 'chat-state' } }, 'connecting…')
  const input = h('input', { type: 'text', placeholder: 'Message', disabled: true, dataset: { testid: 'chat-input' } })
  const messages = new Map() // id -> element
  const typers = new Map() // user id -> name
  const onlineUsers = new Set()
  let channel = null
  let socket = null
  let lastTyping = 0

  function renderTyping() {
    const names = [...typers.values()]
    typingLine.textContent = names.length ? `${names.join(', ')} ${names.length > 1 ? 'are' : 'is'} typing…` : ''
  }
  async function renderOnline() {
    const names = await Promise.all([...onlineUsers].map(async (id) => ({ id, name: id === me?.id ? `${me.name} (you)` : await nameOf(id) })))
    mount(
      online,
      names.map((u) => h('span', { class: 'presence', dataset: { user: u.id } }, h('i', { style: `background:${colorFor(u.id)}` }), u.name)),
    )
  }

  async function add(raw) {
    const m = normal(raw)
    const existing = messages.get(m.id)
    const name = m.author === me?.id ? me.name : await nameOf(m.author)
    const el = h(
      'li',
      { dataset: { seq: String(m.seq), testid: 'message' } },
      h('b', { style: `color:${colorFor(m.author)}` }, name),
      ' ',
      h('span', { class: 'body' }, m.deleted ? '(deleted)' : m.body),
    )
    if (existing) return existing.replaceWith(el), messages.set(m.id, el)
    messages.set(m.id, el)
    const after = [...log.children].find((li) => Number(li.dataset.seq) > m.seq)
    log.insertBefore(el, after ?? null)
    log.scrollTop = log.scrollHeight
  }

  function onFrame(f) {
    switch (f.type) {
      case 'message_created':
      case 'message_edited':
        add(f.message)
        if (typers.delete(f.message.author)) renderTyping()
        break
      case 'message_deleted': {
        messages.get(f.id)?.querySelector('.body')?.replaceChildren('(deleted)')
        break
      }
      case 'typing':
        if (f.user === me?.id) break
        if (f.active) nameOf(f.user).then((n) => (typers.set(f.user, n), renderTyping()))
        else typers.delete(f.user), renderTyping()
        break
      case 'subscribed':
        for (const id of f.online ?? []) onlineUsers.add(id)
        renderOnline()
        if (!f.recovered) loadHistory()
        break
      case 'presence':
        if (f.online) onlineUsers.add(f.user)
        else onlineUsers.delete(f.user)
        renderOnline()
        break
    }
  }

  async function loadHistory() {
    const page = await api('GET', `/projects/${projectId}/channels/${channel.id}/messages?limit=50`)
    for (const m of page.items) await add(m)
    const newest = page.items.at(-1)
    if (newest) socket.seen({ ...normal(newest) })
  }

  ;(async () => {
    try {
      channel = await generalChannel(projectId)
      socket = new ChatSocket({
        token: accessToken,
        onFrame,
        onState: (s) => {
          state.textContent = s
          input.disabled = s !== 'online'
        },
      })
      socket.subscribe(channel.id)
    } catch (e) {
      state.textContent = e.detail || e.message
    }
  })()

  input.addEventListener('input', () => {
    if (!channel || !input.value) return
    const now = Date.now()
    if (now - lastTyping > TYPING_EVERY_MS) {
      lastTyping = now
      socket.typing(channel.id)
    }
  })
  const form = h(
    'form',
    {
      class: 'row',
      onsubmit: (e) => {
        e.preventDefault()
        const body = input.value.trim()
        if (!body || !channel) return
        socket.send(channel.id, body)
        input.value = ''
        lastTyping = 0
      },
    },
    input,
    h('button', { type: 'submit', dataset: { testid: 'chat-send' } }, 'Send'),
  )

  return {
    el: h('aside', { class: 'chat' }, h('div', { class: 'row' }, h('h2', {}, '# general'), state), online, log, typingLine, form),
    close() {
      socket?.close()
    },
  }
}
