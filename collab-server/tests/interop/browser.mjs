// End-to-end test of the browser demo in real headless Debian Chromium (playwright-core,
// never a downloaded browser): two users in two browser contexts sign up, share a project,
// type into one document and see each other's text and cursor, chat (the typing indicator
// arrives before the message), reload without losing content, upload and download a file, and
// import a design that both see as a live tree.
//
// usage: node browser.mjs <base url> <screenshot dir>
// Exits non-zero with the reason on the first failed check. Every wait is bounded.
import { chromium } from 'playwright-core'
import { mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

const [base, shots] = process.argv.slice(2)
if (!base || !shots) {
  console.error('usage: node browser.mjs <base url> <screenshot dir>')
  process.exit(2)
}
mkdirSync(shots, { recursive: true })
const TIMEOUT = 15_000
const stamp = Date.now().toString(36)
const ada = { name: 'Ada', email: `ada-${stamp}@example.com`, password: 'correct horse 1' }
const bob = { name: 'Bob', email: `bob-${stamp}@example.com`, password: 'battery staple 2' }

function check(cond, message) {
  if (!cond) throw new Error(`check failed: ${message}`)
}
async function shot(page, name) {
  const path = join(shots, name)
  await page.screenshot({ path, fullPage: true })
  console.log(`screenshot ${path}`)
}
const step = (s) => console.log(`-- ${s}`)

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-quic',
    '--no-first-run',
  ],
})

async function newUser(user) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, acceptDownloads: true })
  context.setDefaultTimeout(TIMEOUT)
  const page = await context.newPage()
  page.on('pageerror', (e) => console.error(`[${user.name} page error] ${e.message}`))
  page.on('console', (m) => m.type() === 'error' && console.error(`[${user.name} console] ${m.text()}`))
  await page.goto(base)
  await page.fill('input[name=email]', user.email)
  await page.fill('input[name=name]', user.name)
  await page.fill('input[name=password]', user.password)
  await page.click('[data-testid=signup]')
  await page.waitForSelector('[data-testid=projects]')
  return { context, page }
}

// The document's text, paragraph by paragraph, without the remote cursors' name labels.
const editorText = (page) =>
  page.evaluate(() => {
    const copy = document.querySelector('[data-testid=editor] .ProseMirror').cloneNode(true)
    copy.querySelectorAll('.ProseMirror-yjs-cursor').forEach((c) => c.remove())
    return [...copy.children].map((block) => block.textContent.replace(/\u2060/g, '')).join('\n')
  })

try {
  step('sign up two users')
  const a = await newUser(ada)
  const b = await newUser(bob)

  step('Ada creates a project and a document, and invites Bob')
  await a.page.fill('[data-testid=project-name]', 'Launch')
  await a.page.click('[data-testid=create-project]')
  await a.page.waitForSelector('[data-testid=new-doc-name]')
  await a.page.fill('[data-testid=new-doc-name]', 'Plan')
  await a.page.click('[data-testid=create-doc]')
  await a.page.waitForSelector('[data-testid=editor] .ProseMirror')
  await a.page.waitForSelector('[data-testid=doc-status][data-synced="1"]')
  const docUrl = a.page.url()
  await a.page.fill('[data-testid=invite-email]', bob.email)
  await a.page.click('[data-testid=invite]')
  await a.page.waitForFunction(() => document.querySelector('.sidebar')?.textContent.includes('Invited'))

  step('Bob accepts and opens the same document')
  await b.page.reload()
  await b.page.click('[data-testid=accept-invitation]')
  await b.page.click('[data-testid=projects] a:has-text("Launch")')
  await b.page.click('[data-testid=doc-link]:has-text("Plan")')
  await b.page.waitForSelector('[data-testid=editor] .ProseMirror')
  check(b.page.url() === docUrl, `Bob is on ${b.page.url()}, Ada on ${docUrl}`)

  step('both type; each sees the other text and cursor')
  await a.page.click('[data-testid=editor] .ProseMirror')
  await a.page.keyboard.type('Ada writes the plan. ', { delay: 15 })
  await b.page.waitForFunction(() => document.querySelector('.ProseMirror')?.innerText.includes('Ada writes the plan.'))
  await b.page.click('[data-testid=editor] .ProseMirror')
  await b.page.keyboard.press('End')
  await b.page.keyboard.type('Bob reviews it.', { delay: 15 })
  await a.page.waitForFunction(() => document.querySelector('.ProseMirror')?.innerText.includes('Bob reviews it.'))
  // Each sees the other's named cursor (y-prosemirror renders remote carets with the name).
  await a.page.waitForSelector('.ProseMirror-yjs-cursor:has-text("Bob")')
  await b.page.waitForSelector('.ProseMirror-yjs-cursor:has-text("Ada")')
  const textA = await editorText(a.page)
  const textB = await editorText(b.page)
  check(textA === textB, `the two editors differ: ${JSON.stringify(textA)} vs ${JSON.stringify(textB)}`)
  check(textA.includes('Ada writes the plan.') && textA.includes('Bob reviews it.'), `unexpected text ${JSON.stringify(textA)}`)
  await shot(a.page, '01-editor-ada-sees-bob.png')
  await shot(b.page, '02-editor-bob-sees-ada.png')

  step('chat: Bob types, Ada sees the indicator, then the message')
  await a.page.waitForSelector('[data-testid=chat-input]:not([disabled])')
  await b.page.waitForSelector('[data-testid=chat-input]:not([disabled])')
  // Ada's page records, in order, when the indicator and the message appear.
  await a.page.evaluate(() => {
    window.chatEvents = []
    const typing = document.querySelector('[data-testid=typing]')
    const log = document.querySelector('[data-testid=messages]')
    new MutationObserver(() => {
      if (typing.textContent.includes('Bob is typing')) window.chatEvents.push('typing')
      else if (typing.textContent === '') window.chatEvents.push('idle')
    }).observe(typing, { childList: true, characterData: true, subtree: true })
    new MutationObserver(() => {
      if (log.textContent.includes('Lunch at noon?')) window.chatEvents.push('message')
    }).observe(log, { childList: true, subtree: true })
  })
  await b.page.click('[data-testid=chat-input]')
  await b.page.keyboard.type('Lunch at noon?', { delay: 40 })
  await a.page.waitForFunction(() => window.chatEvents.includes('typing'))
  await shot(a.page, '03-chat-ada-sees-bob-typing.png')
  await b.page.keyboard.press('Enter')
  await a.page.waitForSelector('[data-testid=message]:has-text("Lunch at noon?")')
  await a.page.waitForFunction(() => document.querySelector('[data-testid=typing]').textContent === '')
  const events = await a.page.evaluate(() => window.chatEvents)
  check(events.indexOf('typing') >= 0 && events.indexOf('typing') < events.indexOf('message'), `events in order: ${events}`)
  const online = await a.page.locator('[data-testid=online]').innerText()
  check(online.includes('Bob') && online.includes('Ada'), `online shows both: ${online}`)
  await b.page.waitForSelector('[data-testid=message]:has-text("Lunch at noon?")')
  await shot(a.page, '04-chat-ada-sees-bob-message.png')

  step('a reload keeps the content')
  await a.page.reload()
  await a.page.waitForSelector('[data-testid=doc-status][data-synced="1"]')
  const reloaded = await editorText(a.page)
  check(reloaded === textA, `after reload ${JSON.stringify(reloaded)}, before ${JSON.stringify(textA)}`)
  await a.page.waitForSelector('[data-testid=message]:has-text("Lunch at noon?")')
  await shot(a.page, '05-after-reload.png')

  step('upload a file and download it')
  const content = `Weft e2e upload ${stamp}\n`.repeat(50)
  await a.page.setInputFiles('[data-testid=upload-input]', { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from(content) })
  await a.page.waitForSelector('[data-testid=file][data-status=ready]:has-text("notes.txt") [data-testid=download]')
  const [download] = await Promise.all([
    a.page.waitForEvent('download'),
    a.page.click('[data-testid=file]:has-text("notes.txt") [data-testid=download]'),
  ])
  const downloaded = readFileSync(await download.path(), 'utf8')
  check(downloaded === content, `downloaded ${downloaded.length} bytes, uploaded ${content.length}`)
  await shot(a.page, '06-file-uploaded.png')

  step('import a design; both see it as a live tree')
  await a.page.fill('[data-testid=import-name]', 'Landing')
  await a.page.click('[data-testid=import]')
  await a.page.waitForSelector('[data-testid=design-tree] [data-id="1:2"]')
  const designUrl = a.page.url()
  check(designUrl !== docUrl, 'the import opened its new document')
  await b.page.goto(designUrl)
  await b.page.waitForSelector('[data-testid=design-tree] [data-id="1:2"]')
  // Ada renames the headline node; Bob's tree follows live.
  await a.page.dblclick('[data-id="1:2"] > .node-row .node-name')
  await a.page.fill('input.rename', 'Hero headline')
  await a.page.keyboard.press('Enter')
  await b.page.waitForSelector('[data-id="1:2"] > .node-row .node-name:text-is("Hero headline")')
  const nodes = await b.page.locator('[data-testid=design-node]').count()
  check(nodes === 5, `the tree shows ${nodes} nodes, the design has 5`)
  await shot(b.page, '07-design-tree-bob-sees-rename.png')

  console.log('browser e2e: all checks passed')
  await browser.close()
} catch (e) {
  console.error(e)
  for (const [i, ctx] of browser.contexts().entries()) {
    for (const page of ctx.pages()) await page.screenshot({ path: join(shots, `failure-${i}.png`), fullPage: true }).catch(() => {})
  }
  await browser.close()
  process.exit(1)
}
