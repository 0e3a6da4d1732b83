// Replays an editing trace from ../shared/traces into a Y.Doc (text root "content") and writes its state as
// one Yjs update, checking the result against the trace's endContent. The update is converted from the
// trace (CC BY 4.0; see shared/traces/README.md for credits).
// usage: node trace-to-yjs.cjs TRACE.json.gz OUT.bin   (run with NODE_PATH pointing at a node_modules with yjs)
const fs = require('fs')
const zlib = require('zlib')
const Y = require('yjs')

const [tracePath, outPath] = process.argv.slice(2)
const trace = JSON.parse(zlib.gunzipSync(fs.readFileSync(tracePath)))
const doc = new Y.Doc()
const text = doc.getText('content')
// Trace positions count code points; JS strings count UTF-16 units.
const units = (s, cp) => { let i = 0; for (let n = 0; n < cp; n++) i += s.codePointAt(i) > 0xffff ? 2 : 1; return i }
let current = trace.startContent
if (current) text.insert(0, current)
for (const txn of trace.txns) {
  doc.transact(() => {
    for (const [pos, del, ins] of txn.patches) {
      const at = units(current, pos)
      if (del > 0) {
        const end = units(current, pos + del)
        text.delete(at, end - at)
        current = current.slice(0, at) + current.slice(end)
      }
      if (ins) {
        text.insert(at, ins)
        current = current.slice(0, at) + ins + current.slice(at)
      }
    }
  })
}
if (text.toString() !== trace.endContent) {
  console.error('replay diverged from endContent')
  process.exit(1)
}
const update = Y.encodeStateAsUpdate(doc)
fs.writeFileSync(outPath, update)
console.error(`${trace.txns.length} transactions, ${text.length} chars, update ${update.length} bytes`)
