// The rich-text editor: ProseMirror bound to the document's `prosemirror` XML fragment by
// y-prosemirror, with remote cursors and selections (named, coloured from awareness) and an
// undo stack that only undoes the local user's own edits.
import { EditorState } from 'prosemirror-state'
import { EditorView } from 'prosemirror-view'
import { Schema } from 'prosemirror-model'
import { schema as basic } from 'prosemirror-schema-basic'
import { addListNodes } from 'prosemirror-schema-list'
import { exampleSetup } from 'prosemirror-example-setup'
import { keymap } from 'prosemirror-keymap'
import { ySyncPlugin, yCursorPlugin, yUndoPlugin, undo, redo } from 'y-prosemirror'
import 'prosemirror-view/style/prosemirror.css'
import 'prosemirror-menu/style/menu.css'
import 'prosemirror-example-setup/style/style.css'

const schema = new Schema({
  nodes: addListNodes(basic.spec.nodes, 'paragraph block*', 'block'),
  marks: basic.spec.marks,
})

/** The Yjs root the editor edits (shared with anything else that opens the document). */
export const FRAGMENT = 'prosemirror'

export function mountEditor(container, ydoc, provider) {
  const host = document.createElement('div')
  host.className = 'editor'
  host.dataset.testid = 'editor'
  container.append(host)
  const view = new EditorView(host, {
    state: EditorState.create({
      schema,
      plugins: [
        ySyncPlugin(ydoc.getXmlFragment(FRAGMENT)),
        yCursorPlugin(provider.awareness),
        yUndoPlugin(),
        keymap({ 'Mod-z': undo, 'Mod-y': redo, 'Mod-Shift-z': redo }),
        ...exampleSetup({ schema, history: false, floatingMenu: false }),
      ],
    }),
  })
  return {
    destroy() {
      view.destroy()
      host.remove()
    },
  }
}
