// An imported design shown as a live tree: the `design` root map (see
// api-server/docs/design-import.md) rendered node by node, re-rendered on every change from
// anyone; double-click a name to rename a node, which every other viewer sees at once.
import * as Y from 'yjs'
import { h, mount } from './ui.js'

function describe(node) {
  const g = node.get('geometry')
  if (!(g instanceof Y.Map)) return ''
  const n = (k) => Math.round(Number(g.get(k) ?? 0))
  return `${n('x')},${n('y')} ${n('width')}×${n('height')}`
}

function renderNode(node, depth) {
  if (!(node instanceof Y.Map)) return null
  const type = String(node.get('type') ?? '?')
  const nameEl = h('span', { class: 'node-name', title: 'double-click to rename' }, String(node.get('name') ?? ''))
  nameEl.addEventListener('dblclick', () => {
    const input = h('input', { type: 'text', value: nameEl.textContent, class: 'rename' })
    const commit = () => {
      const value = input.value.trim()
      if (value && value !== node.get('name')) node.set('name', value)
      input.replaceWith(nameEl)
    }
    input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') commit()
      if (e.key === 'Escape') input.replaceWith(nameEl)
    })
    input.addEventListener('blur', commit)
    nameEl.replaceWith(input)
    input.focus()
  })
  const chars = node.get('characters')
  const children = node.get('children')
  return h(
    'li',
    { class: `node node-${type}`, dataset: { type, id: String(node.get('id') ?? ''), testid: 'design-node' } },
    h(
      'div',
      { class: 'node-row' },
      h('span', { class: 'node-type' }, type),
      nameEl,
      h('span', { class: 'muted small' }, describe(node)),
      chars instanceof Y.Text ? h('span', { class: 'node-text' }, `“${chars.toString()}”`) : null,
    ),
    children instanceof Y.Array && children.length
      ? h('ul', {}, children.toArray().map((c) => renderNode(c, depth + 1)))
      : null,
  )
}

export function mountDesignTree(container, design) {
  const tree = h('ul', { class: 'design-tree', dataset: { testid: 'design-tree' } })
  const count = h('p', { class: 'muted small' })
  container.append(h('p', { class: 'muted small' }, 'Imported design (live): double-click a name to rename it.'), tree, count)
  const render = () => {
    mount(tree, renderNode(design, 0))
    count.textContent = `${tree.querySelectorAll('li').length} nodes`
  }
  render()
  design.observeDeep(render)
  return {
    destroy() {
      design.unobserveDeep(render)
    },
  }
}
