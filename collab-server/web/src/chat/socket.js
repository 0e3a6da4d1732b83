// The chat socket (collab-server/docs/chat-protocol.md) in JSON: connects with a fresh access
// token, resubscribes after every reconnect with `since` = the newest message it has (so
// nothing is lost or doubled), and retries unacknowledged sends with their client ids.

export class ChatSocket {
  constructor({ token, onFrame, onState }) {
    this.token = token
    this.onFrame = onFrame
    this.onState = onState
    this.subscriptions = new Map() // channel id -> newest message id seen (or null)
    this.newestSeq = new Map() // channel id -> seq of that message
    this.unacked = new Map() // client_id -> send frame
    this.closed = false
    this.retry = 500
    this.connect()
  }

  async connect() {
    if (this.closed) return
    let token
    try {
      token = await this.token()
    } catch {
      return this.reconnectLater()
    }
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:'
    const ws = new WebSocket(`${scheme}//${location.host}/chat?encoding=json&token=${encodeURIComponent(token)}`)
    this.ws = ws
    ws.onmessage = (event) => {
      let frame
      try {
        frame = JSON.parse(event.data)
      } catch {
        return
      }
      if (frame.type === 'ready') {
        this.retry = 500
        this.onState?.('online')
        for (const [channel, since] of this.subscriptions) this.raw({ type: 'subscribe', channel, ...(since ? { since } : {}) })
        for (const frame of this.unacked.values()) this.raw(frame)
      }
      if (frame.type === 'message_created' && frame.message) this.seen(frame.message)
      if (frame.type === 'sent') {
        this.unacked.delete(frame.client_id)
      }
      this.onFrame(frame)
    }
    ws.onclose = () => {
      if (this.ws === ws) this.ws = null
      this.onState?.('offline')
      this.reconnectLater()
    }
  }

  reconnectLater() {
    if (this.closed) return
    setTimeout(() => this.connect(), this.retry)
    this.retry = Math.min(this.retry * 2, 10_000)
  }

  /** Remembers the newest message of its channel, for `since` on the next subscribe. */
  seen(message) {
    const channel = message.channel
    if (!this.subscriptions.has(channel)) return
    const newest = this.newestSeq.get(channel) ?? -1
    if (message.seq > newest) {
      this.newestSeq.set(channel, message.seq)
      this.subscriptions.set(channel, message.id)
    }
  }

  subscribe(channel, since = null) {
    this.subscriptions.set(channel, since)
    this.raw({ type: 'subscribe', channel, ...(since ? { since } : {}) })
  }

  send(channel, body) {
    const clientId = `w-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`
    const frame = { type: 'send', channel, client_id: clientId, body }
    this.unacked.set(clientId, frame)
    this.raw(frame)
    return clientId
  }

  typing(channel) {
    this.raw({ type: 'typing', channel })
  }

  raw(frame) {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(frame))
  }

  close() {
    this.closed = true
    this.ws?.close(1000)
  }
}
