// The project's files: upload (declare → presigned PUT straight to the blob store → complete)
// and download through a presigned URL.
import { api } from '../api.js'
import { h, mount, formatBytes } from '../ui.js'

export function filesPanel(projectId) {
  const list = h('ul', { class: 'files', dataset: { testid: 'files' } })
  const note = h('p', { class: 'muted small', dataset: { testid: 'upload-status' } })
  const input = h('input', { type: 'file', dataset: { testid: 'upload-input' } })

  async function refresh() {
    const page = await api('GET', `/projects/${projectId}/files?limit=100`)
    mount(
      list,
      page.items.map((f) =>
        h(
          'li',
          { dataset: { testid: 'file', status: f.status } },
          h('span', { class: 'file-name' }, f.name),
          h('span', { class: 'muted small' }, ` ${formatBytes(f.size)}`),
          f.status === 'ready'
            ? h('button', { class: 'link', dataset: { testid: 'download' }, onclick: () => download(f) }, 'Download')
            : h('span', { class: 'muted small' }, ` ${f.status}`),
        ),
      ),
    )
  }

  async function download(file) {
    const { url } = await api('GET', `/projects/${projectId}/files/${file.id}/download`)
    const a = h('a', { href: url, download: file.name })
    document.body.append(a)
    a.click()
    a.remove()
  }

  async function upload() {
    const file = input.files?.[0]
    if (!file) return
    note.textContent = `Uploading ${file.name}…`
    try {
      const created = await api('POST', `/projects/${projectId}/files`, {
        name: file.name,
        content_type: file.type || 'application/octet-stream',
        size: file.size,
      })
      const put = await fetch(created.upload.url, {
        method: created.upload.method,
        headers: created.upload.headers,
        body: file,
      })
      if (!put.ok) throw new Error(`the upload failed: HTTP ${put.status}`)
      await api('POST', `/projects/${projectId}/files/${created.file.id}/complete`)
      note.textContent = `Uploaded ${file.name}.`
      input.value = ''
      await refresh()
    } catch (e) {
      note.textContent = e.detail || e.message
    }
  }

  input.addEventListener('change', upload)
  refresh().catch((e) => (note.textContent = e.detail || e.message))
  return {
    el: h('section', {}, h('h2', {}, 'Files'), list, input, note),
    close() {},
  }
}
