// The REST client: JSON in and out, the access token on every call, one refresh (rotating
// refresh token) when it has expired, and RFC 9457 problems thrown as `ApiError`s.
import * as session from './session.js'

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`)
    this.status = status
    this.title = problem?.title
    this.detail = problem?.detail
    this.problem = problem
  }
}

let refreshing = null

async function refresh() {
  const current = session.load()
  if (!current?.refresh_token) throw new ApiError(401, { title: 'signed out' })
  refreshing ??= (async () => {
    const res = await fetch('/api/auth/refresh', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ refresh_token: current.refresh_token }),
    })
    if (!res.ok) {
      session.clear()
      throw new ApiError(res.status, await res.json().catch(() => null))
    }
    const next = await res.json()
    remember(next)
    return session.load()
  })().finally(() => {
    refreshing = null
  })
  return refreshing
}

/** A fresh access token (refreshed when it is about to expire), for the chat socket. */
export async function accessToken() {
  const current = session.load()
  if (!current) throw new ApiError(401, { title: 'signed out' })
  if (current.expires_at && current.expires_at - Date.now() < 30_000) {
    return (await refresh()).access_token
  }
  return current.access_token
}

/** Calls the REST API; `body` is sent as JSON. */
export async function api(method, path, body, { retry = true } = {}) {
  const current = session.load()
  const headers = {}
  if (current?.access_token) headers.authorization = `Bearer ${current.access_token}`
  if (body !== undefined) headers['content-type'] = 'application/json'
  const res = await fetch(`/api${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  if (res.status === 401 && retry && current?.refresh_token) {
    await refresh()
    return api(method, path, body, { retry: false })
  }
  if (res.status === 204) return null
  const data = await res.json().catch(() => null)
  if (!res.ok) throw new ApiError(res.status, data)
  return data
}

/** Stores a session returned by register, login or refresh. */
export function remember(s) {
  session.save({ ...s, expires_at: Date.now() + s.expires_in * 1000 })
}
