// Interop test: the unmodified npm `@hocuspocus/provider` 4 against Weft's /hocuspocus endpoint.
//
// Why this file exists: apps built on Hocuspocus (Tiptap's collaboration extension among them)
// should move to Weft by changing a URL. The Rust test (tests/it/hocuspocus.rs) starts the server
// and runs `node hocuspocus.mjs` with:
//   HP_URL      ws://127.0.0.1:PORT/hocuspocus
//   YWS_URL     ws://127.0.0.1:PORT/ws            (the y-websocket endpoint of the same server)
//   TOKENS      JSON object: { a1, a2, b1, aYws, bRead, wrong } collab tokens (a* for DOC_A, b*
//               for DOC_B; bRead read-only; wrong is signed for DOC_B but used for DOC_A)
//   DOC_A, DOC_B document names
//   TIMEOUT_MS  overall timeout (default 30000)
// It prints one JSON line on stdout ({"ok":true,...} or {"ok":false,"error":...}), details on
// stderr, and exits 0 / 1.
//
// What it checks, in order:
//  1. Two providers share one socket (one HocuspocusProviderWebsocket) for two documents, a
//     third provider of DOC_A has a socket of its own, and a y-websocket provider joins DOC_A
//     on /ws: all four sync.
//  2. Edits from every provider of DOC_A (both protocols) reach every other; DOC_B's edit
//     stays in DOC_B.
//  3. Every Hocuspocus provider ends with no unsynced changes (the server acknowledged each
//     update with a sync-status message).
//  4. Presence crosses protocols: the y-websocket client sees a Hocuspocus user and back.
//  5. A read-only provider of DOC_B, on the shared socket under a session address, syncs; its
//     local edit reaches nobody and stays unacknowledged.
//  6. A provider with a token for another document gets authenticationFailed, while the
//     socket it shares keeps serving the other documents.

import * as Y from 'yjs'
import { HocuspocusProvider, HocuspocusProviderWebsocket } from '@hocuspocus/provider'
import { WebsocketProvider } from 'y-websocket'
import WebSocket from 'ws'

const HP_URL = process.env.HP_URL
const YWS_URL = process.env.YWS_URL
const TOKENS = JSON.parse(process.env.TOKENS)
const DOC_A = process.env.DOC_A
const DOC_B = process.env.DOC_B
const TIMEOUT_MS = Number(process.env.TIMEOUT_MS || 30000)

const startedAt = Date.now()
const cleanups = []
let finished = false
const log = (...args) => console.error(`[hocuspocus +${Date.now() - startedAt}ms]`, ...args)

function finish (ok, payload) {
  if (finished) return
  finished = true
  for (const c of cleanups.reverse()) {
    try { c() } catch (e) { log('cleanup failed:', e) }
  }
  process.stdout.write(JSON.stringify({ ok, ...payload }) + '\n', () => process.exit(ok ? 0 : 1))
  setTimeout(() => process.exit(ok ? 0 : 1), 1000).unref()
}
function fail (err) {
  log('FAILED:', err instanceof Error ? err.stack : err)
  finish(false, { error: err instanceof Error ? err.message : String(err) })
}
process.on('uncaughtException', fail)
process.on('unhandledRejection', fail)
setTimeout(() => fail(new Error(`timed out after ${TIMEOUT_MS} ms`)), TIMEOUT_MS).unref()

async function until (what, check, ms = 10000) {
  const end = Date.now() + ms
  while (!check()) {
    if (Date.now() > end) throw new Error(`waited too long for: ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

function socket () {
  const ws = new HocuspocusProviderWebsocket({ url: HP_URL, WebSocketPolyfill: WebSocket })
  cleanups.push(() => ws.destroy())
  return ws
}

function hocus (websocketProvider, name, token, events = {}) {
  const doc = new Y.Doc()
  const provider = new HocuspocusProvider({ websocketProvider, name, document: doc, token, ...events })
  provider.attach()
  cleanups.push(() => provider.destroy())
  return { doc, provider, text: () => doc.getText('content').toString() }
}

const shared = socket()
const own = socket()
const a1 = hocus(shared, DOC_A, TOKENS.a1)
const b1 = hocus(shared, DOC_B, TOKENS.b1)
const a2 = hocus(own, DOC_A, TOKENS.a2)

const ydoc = new Y.Doc()
const yws = new WebsocketProvider(YWS_URL, DOC_A, ydoc, {
  WebSocketPolyfill: WebSocket, params: { token: TOKENS.aYws }, disableBc: true
})
cleanups.push(() => yws.destroy())
const ywsText = () => ydoc.getText('content').toString()

// 1. everyone syncs
await until('hocuspocus providers synced', () => a1.provider.synced && b1.provider.synced && a2.provider.synced)
await until('y-websocket provider synced', () => yws.synced)
log('all synced; scopes', a1.provider.authorizedScope, b1.provider.authorizedScope)

// 2. edits cross providers and protocols
a1.doc.getText('content').insert(0, '[a1]')
a2.doc.getText('content').insert(0, '[a2]')
ydoc.getText('content').insert(0, '[yws]')
b1.doc.getText('content').insert(0, '[b1]')
const marks = ['[a1]', '[a2]', '[yws]']
const hasAll = (t) => marks.every((m) => t.includes(m))
await until('DOC_A converged', () => hasAll(a1.text()) && hasAll(a2.text()) && hasAll(ywsText()) &&
  a1.text() === a2.text() && a2.text() === ywsText())
if (a1.text().includes('[b1]') || b1.text() !== '[b1]') throw new Error(`documents mixed: A=${a1.text()} B=${b1.text()}`)

// 3. every update was acknowledged
await until('no unsynced changes', () => !a1.provider.hasUnsyncedChanges && !a2.provider.hasUnsyncedChanges &&
  !b1.provider.hasUnsyncedChanges)

// 4. presence across protocols
a1.provider.setAwarenessField('user', { name: 'Hoc' })
yws.awareness.setLocalStateField('user', { name: 'Yws' })
const names = (awareness) => [...awareness.getStates().values()].map((s) => s.user?.name).filter(Boolean)
await until('y-websocket sees the hocuspocus user', () => names(yws.awareness).includes('Hoc'))
await until('hocuspocus sees the y-websocket user', () => names(a1.provider.awareness).includes('Yws'))

// 5. a read-only provider of DOC_B on the shared socket: a second provider of one document on
// one socket needs session addresses (`name\0session`), which the server answers in kind
const reader = hocus(shared, DOC_B, TOKENS.bRead, { sessionAwareness: true })
await until('reader synced', () => reader.provider.synced && reader.text() === '[b1]')
const readerScope = reader.provider.authorizedScope
reader.doc.getText('content').insert(0, '[reader]')
await new Promise((resolve) => setTimeout(resolve, 500))
if (b1.text().includes('[reader]')) throw new Error('a read-only edit reached another client')
const readerUnacknowledged = reader.provider.hasUnsyncedChanges

// 6. a wrong token fails for its document only
let failedReason = null
const wrongDoc = new Y.Doc()
const wrong = new HocuspocusProvider({
  websocketProvider: shared,
  name: `${DOC_A}-x`,
  document: wrongDoc,
  token: TOKENS.wrong,
  onAuthenticationFailed: ({ reason }) => { failedReason = reason }
})
wrong.attach()
cleanups.push(() => wrong.destroy())
await until('authenticationFailed', () => failedReason !== null)
a1.doc.getText('content').insert(0, '[after]')
await until('the shared socket still serves DOC_A', () => ywsText().includes('[after]'))

finish(true, {
  text: ywsText(),
  scopes: [a1.provider.authorizedScope, readerScope],
  readerUnacknowledged,
  failedReason
})
