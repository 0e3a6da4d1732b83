// The signed-in user's tokens, kept in localStorage so a reload stays signed in.

const KEY = 'weft.session'

export function load() {
  try {
    return JSON.parse(localStorage.getItem(KEY)) || null
  } catch {
    return null
  }
}

export function save(session) {
  localStorage.setItem(KEY, JSON.stringify(session))
}

export function clear() {
  localStorage.removeItem(KEY)
}
