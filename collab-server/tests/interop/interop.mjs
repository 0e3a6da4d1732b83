// Interop test client for the Weft collab-server.
//
// Why this file exists: the Rust collab-server claims to speak the standard
// y-websocket protocol. The only convincing proof is to drive it with the
// unmodified npm `y-websocket` v3 WebsocketProvider + `yjs` 13, exactly as a
// browser app would. The Rust integration test starts the server, then spawns
// `node interop.mjs` with:
//   WS_URL      e.g. ws://127.0.0.1:41234/ws   (provider appends /{DOC}?token=...)
//   DOC         document name
//   TOKENS      JSON array of 4 tokens: writers A, B, C and late joiner D
//   TIMEOUT_MS  optional overall timeout (default 20000)
// It prints exactly one JSON line on stdout ({"ok":true,...} or
// {"ok":false,"error":...}), details on stderr, and exits 0 / 1.
//
// Notes:
// - disableBc: true is essential. Node 20 has a global BroadcastChannel, and
//   providers in one process would otherwise sync with each other through it,
//   bypassing the server entirely.
// - provider.destroy() sends an explicit "awareness = null" update before it
//   closes, so step (f) alone does not prove the server's removal-on-close. The
//   extra check at the end kills D's TCP socket without any goodbye message,
//   so only the server can tell A and B that D is gone.

import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import WebSocket from 'ws'

const WS_URL = process.env.WS_URL
const DOC = process.env.DOC
const TIMEOUT_MS = Number(process.env.TIMEOUT_MS || 20000)
const ROUNDS = 50
const REMOVAL_MS = 5000 // "within a few seconds" (awareness's own timeout is 30 s)
const NAMES = ['A', 'B', 'C', 'D']

const startedAt = Date.now()
const deadline = startedAt + TIMEOUT_MS
const providers = []
let finished = false

const log = (...args) => console.error(`[interop +${Date.now() - startedAt}ms]`, ...args)

function finish (ok, payload) {
  if (finished) return
  finished = true
  for (const p of providers) {
    try { p.destroy() } catch (e) { log('destroy failed:', e) }
  }
  process.stdout.write(JSON.stringify({ ok, ...payload }) + '\n', () => process.exit(ok ? 0 : 1))
  // in case the stdout callback never fires
  setTimeout(() => process.exit(ok ? 0 : 1), 1000).unref()
}

function fail (err) {
  const message = err instanceof Error ? err.message : String(err)
  log('FAILED:', err instanceof Error ? err.stack : err)
  finish(false, { error: message })
}

process.on('uncaughtException', fail)
process.on('unhandledRejection', fail)
let stage = 'starting' // what we are waiting for, for the timeout message
setTimeout(() => fail(new Error(`overall timeout of ${TIMEOUT_MS} ms exceeded while ${stage}`)), TIMEOUT_MS)

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const rand = (n) => Math.floor(Math.random() * n)

// Poll `check` (returns true, or a string describing what is still wrong)
// until it passes, or throw after `ms` (bounded by the overall deadline).
async function waitFor (what, check, ms = deadline - Date.now()) {
  const until = Math.min(deadline, Date.now() + ms)
  let last = null
  for (;;) {
    const r = check()
    if (r === true) return
    last = r
    stage = `waiting for ${what} (${last})`
    if (Date.now() >= until) throw new Error(`timed out waiting for ${what}: ${last}`)
    await sleep(25)
  }
}

function parseTokens () {
  let tokens
  try { tokens = JSON.parse(process.env.TOKENS || '') } catch (e) {
    throw new Error('TOKENS is not valid JSON')
  }
  if (!Array.isArray(tokens) || tokens.length !== 4 || !tokens.every((t) => typeof t === 'string')) {
    throw new Error('TOKENS must be a JSON array of exactly 4 strings')
  }
  return tokens
}

function startClient (name, token) {
  const doc = new Y.Doc()
  const provider = new WebsocketProvider(WS_URL, DOC, doc, {
    params: { token },
    WebSocketPolyfill: WebSocket,
    connect: true,
    disableBc: true
  })
  providers.push(provider)
  provider.awareness.setLocalState({ user: { name } })
  provider.on('connection-error', (ev) => log(`${name}: connection-error`, ev && ev.message ? ev.message : ''))
  provider.on('connection-close', (ev) => ev && log(`${name}: connection-close code=${ev.code} reason=${ev.reason || ''}`))
  // y-websocket v3 stops reconnecting on close codes 4400-4499 and emits 'closed':
  // fail fast instead of waiting for the overall timeout
  provider.on('closed', (ev) => fail(new Error(`${name}: server closed the connection permanently (code ${ev.code}, reason "${ev.reason}")`)))
  return { name, doc, provider, text: doc.getText('content'), list: doc.getArray('list') }
}

const awarenessNames = (c) =>
  [...c.provider.awareness.getStates().values()].map((s) => s && s.user && s.user.name).filter(Boolean).sort()

// Text is made only of markers "<...>" and C's deletable '~' filler. Inserting
// only at marker boundaries keeps every marker intact under concurrency
// (Yjs never interleaves the characters of two concurrent insertions).
function boundaries (s) {
  const out = []
  let inside = false
  for (let i = 0; i <= s.length; i++) {
    if (!inside) out.push(i)
    if (s[i] === '<') inside = true
    else if (s[i] === '>') inside = false
  }
  return out
}

async function writer (c, runId, stats) {
  for (let i = 0; i < ROUNDS; i++) {
    await sleep(rand(8))
    const b = boundaries(c.text.toString())
    const marker = `<${c.name}${i}-${runId}>`
    c.text.insert(b[rand(b.length)], marker)
    stats.markers.push(marker)
    await sleep(rand(5))
    const item = { by: c.name, i, run: runId }
    if (rand(2) === 0) c.list.push([item])
    else c.list.insert(rand(c.list.length + 1), [item])
    stats.items++
    if (c.name === 'C') {
      // C also inserts '~' filler (only C uses '~') and later deletes some of it
      const b2 = boundaries(c.text.toString())
      const n = 1 + rand(4)
      c.text.insert(b2[rand(b2.length)], '~'.repeat(n))
      stats.tildesInserted += n
      if (i % 3 === 2) {
        const s = c.text.toString()
        const positions = []
        for (let k = 0; k < s.length; k++) if (s[k] === '~') positions.push(k)
        if (positions.length > 0) {
          const start = positions[rand(positions.length)]
          let len = 0
          while (s[start + len] === '~' && len < 3) len++
          c.text.delete(start, len)
          stats.tildesDeleted += len
          stats.deletes++
        }
      }
    }
  }
}

const countTildes = (s) => s.split('~').length - 1

// JSON with object keys sorted. A late joiner's state comes from the server's yrs document,
// and yrs does not keep the insertion order of object keys, so compare values, not key order.
function canonical (value) {
  return JSON.stringify(value, (_k, v) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, v[k]]))
      : v)
}

async function main () {
  if (!WS_URL || !DOC) throw new Error('WS_URL and DOC must be set')
  if (!(TIMEOUT_MS > 0)) throw new Error('TIMEOUT_MS must be a positive number')
  const tokens = parseTokens()
  const runId = Math.random().toString(36).slice(2, 8)

  // a. three writers
  const writers = ['A', 'B', 'C'].map((n, i) => startClient(n, tokens[i]))
  const [A, B, C] = writers

  // b. all synced
  await waitFor('A, B, C to sync', () => {
    const pending = writers.filter((c) => !c.provider.synced).map((c) => c.name)
    return pending.length === 0 || `not synced: ${pending.join(',')}`
  })
  log('A, B, C synced')
  const initialTildes = countTildes(A.text.toString())

  // c. concurrent interleaved edits
  stage = 'editing concurrently'
  const stats = { markers: [], items: 0, tildesInserted: 0, tildesDeleted: 0, deletes: 0 }
  await Promise.all(writers.map((c) => writer(c, runId, stats)))
  log(`edits done: ${stats.markers.length} markers, ${stats.items} list items, ${stats.deletes} deletes`)

  // d. convergence + awareness
  await waitFor('A, B, C to converge', () => {
    const t = A.text.toString()
    const l = canonical(A.list.toJSON())
    for (const c of [B, C]) {
      if (c.text.toString() !== t) return `${c.name}.content differs from A (${c.text.length} vs ${t.length} chars)`
      if (canonical(c.list.toJSON()) !== l) return `${c.name}.list differs from A (${c.list.length} vs ${A.list.length} items)`
    }
    const missing = stats.markers.filter((m) => !t.includes(m))
    if (missing.length > 0) return `${missing.length} markers missing, e.g. ${missing[0]}`
    const ours = A.list.toJSON().filter((it) => it && it.run === runId).length
    if (ours !== stats.items) return `list has ${ours} of ${stats.items} items from this run`
    const tildes = countTildes(t)
    const want = initialTildes + stats.tildesInserted - stats.tildesDeleted
    if (tildes !== want) return `'~' count ${tildes}, expected ${want} (deletions not applied?)`
    return true
  })
  log('A, B, C converged')
  await waitFor('every writer to see awareness of A, B, C', () => {
    for (const c of writers) {
      const names = awarenessNames(c)
      if (!['A', 'B', 'C'].every((n) => names.includes(n))) return `${c.name} sees [${names}]`
    }
    return true
  })
  const awarenessSeen = awarenessNames(A)
  log('awareness ok:', awarenessSeen)

  // e. late joiner
  const D = startClient('D', tokens[3])
  await waitFor('D to sync', () => D.provider.synced || 'D not synced')
  await waitFor('D to match A', () => {
    if (D.text.toString() !== A.text.toString()) return `D.content differs (${D.text.length} vs ${A.text.length} chars)`
    if (canonical(D.list.toJSON()) !== canonical(A.list.toJSON())) return `D.list differs (${D.list.length} vs ${A.list.length})`
    return true
  })
  await waitFor('D to see awareness of A, B, C', () => {
    const names = awarenessNames(D)
    return ['A', 'B', 'C'].every((n) => names.includes(n)) || `D sees [${names}]`
  })
  log('late joiner D synced and matches A')

  // f. destroy C: A and B must drop C's awareness state quickly
  const cId = C.doc.clientID
  C.provider.destroy()
  await waitFor(`A and B to drop C's awareness within ${REMOVAL_MS} ms`, () => {
    for (const c of [A, B]) if (c.provider.awareness.getStates().has(cId)) return `${c.name} still sees C`
    return true
  }, REMOVAL_MS)
  log("C's awareness removed after destroy")

  // Extra: D's socket dies without a goodbye; only the server can announce it.
  await waitFor('A and B to see D', () =>
    [A, B].every((c) => awarenessNames(c).includes('D')) || 'D awareness not yet seen by A and B')
  const dId = D.doc.clientID
  D.provider.shouldConnect = false // no reconnect after the kill
  D.provider.ws.terminate()
  await waitFor(`A and B to drop D's awareness within ${REMOVAL_MS} ms after its socket died`, () => {
    for (const c of [A, B]) if (c.provider.awareness.getStates().has(dId)) return `${c.name} still sees D`
    return true
  }, REMOVAL_MS)
  log("D's awareness removed by the server after socket loss")

  finish(true, {
    textLength: A.text.length,
    listLength: A.list.length,
    awarenessSeen,
    lateJoinerSynced: true,
    removalSeen: true,
    serverRemovalOnSocketLoss: true,
    deletes: stats.deletes,
    elapsedMs: Date.now() - startedAt
  })
}

main().catch(fail)
