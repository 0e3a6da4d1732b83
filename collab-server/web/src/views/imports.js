// Design import: a design as JSON (typed, pasted or read from a file) is posted to the REST
// tier, the job is polled until it succeeded, and the new document opens as a live tree.
import { api } from '../api.js'
import { h } from '../ui.js'

const SAMPLE = {
  id: '0:0',
  type: 'document',
  name: 'Landing page',
  children: [
    {
      id: '1:0',
      type: 'page',
      name: 'Home',
      children: [
        {
          id: '1:1',
          type: 'frame',
          name: 'Hero',
          geometry: { x: 0, y: 0, width: 1440, height: 720 },
          children: [
            { id: '1:2', type: 'text', name: 'Headline', characters: 'Design together', geometry: { x: 120, y: 200, width: 800, height: 96 } },
            { id: '1:3', type: 'rectangle', name: 'Button', geometry: { x: 120, y: 360, width: 200, height: 56 }, style: { cornerRadius: 8 } },
          ],
        },
      ],
    },
  ],
}

export function importPanel(projectId, opened) {
  const name = h('input', { type: 'text', value: 'Landing page', dataset: { testid: 'import-name' } })
  const json = h('textarea', { rows: 6, spellcheck: false, dataset: { testid: 'import-json' } })
  json.value = JSON.stringify(SAMPLE, null, 2)
  const file = h('input', { type: 'file', accept: 'application/json,.json' })
  const note = h('p', { class: 'muted small', dataset: { testid: 'import-status' } })
  let stopped = false

  file.addEventListener('change', async () => {
    const f = file.files?.[0]
    if (f) json.value = await f.text()
  })

  async function run(e) {
    e.preventDefault()
    let document
    try {
      document = JSON.parse(json.value)
    } catch (err) {
      note.textContent = `Not JSON: ${err.message}`
      return
    }
    try {
      let job = await api('POST', `/projects/${projectId}/imports`, { name: name.value.trim() || 'Import', document })
      note.textContent = 'Importing…'
      while (!stopped && (job.status === 'queued' || job.status === 'running')) {
        await new Promise((r) => setTimeout(r, 250))
        job = await api('GET', `/imports/${job.id}`)
      }
      if (job.status === 'succeeded') {
        note.textContent = `Imported ${job.node_count} nodes.`
        opened(job.document_id)
      } else if (job.error) {
        const errors = job.error.errors?.map((x) => `${x.pointer || '(root)'}: ${x.detail}`).join('; ')
        note.textContent = `${job.error.title}: ${errors || job.error.detail}`
      }
    } catch (err) {
      note.textContent = err.detail || err.message
    }
  }

  return {
    el: h(
      'section',
      {},
      h('h2', {}, 'Import a design'),
      h('form', { class: 'stack', onsubmit: run }, name, json, file, h('button', { type: 'submit', dataset: { testid: 'import' } }, 'Import')),
      note,
    ),
    close() {
      stopped = true
    },
  }
}
