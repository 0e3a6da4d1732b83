// Tiny DOM helpers: the demo has no framework, so views build their elements with `h`.

/** Creates an element: h('button', { class: 'x', onclick }, 'text', child, ...). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag)
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue
    if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2), value)
    } else if (key === 'dataset') {
      Object.assign(el.dataset, value)
    } else if (key in el && key !== 'list' && key !== 'form') {
      el[key] = value
    } else {
      el.setAttribute(key, value === true ? '' : value)
    }
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue
    el.append(child instanceof Node ? child : document.createTextNode(String(child)))
  }
  return el
}

/** Replaces everything inside `el`. */
export function mount(el, ...children) {
  el.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined))
}

/** A colour derived from a user id, stable across sessions (for cursors and avatars). */
export function colorFor(id) {
  let hash = 0
  for (const ch of String(id)) hash = (hash * 31 + ch.charCodeAt(0)) | 0
  const hue = Math.abs(hash) % 360
  return `hsl(${hue} 70% 45%)`
}

/** Shows an error from an API call (or anything thrown) in `el`. */
export function showError(el, err) {
  el.textContent = err?.detail || err?.title || err?.message || String(err)
  el.hidden = false
}

export function formatBytes(n) {
  if (n < 1024) return `${n} B`
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`
  return `${(n / 1024 / 1024).toFixed(1)} MB`
}
