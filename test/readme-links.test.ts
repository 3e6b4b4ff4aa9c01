// The README and docs/ point at things that exist: every relative link names
// a file of the repository (and a heading of it when it has an #anchor), and
// each example the "Coming from Django" table names uses the API its row names.
import t from 'tap'
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join, normalize } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const DOCUMENTS = ['README.md', 'docs/benchmarks.md', 'docs/scaling-out.md', 'docs/developing.md']

/** The text outside fenced code blocks (links in code are not links). */
function prose (text: string): string {
  return text.replace(/^\s*(`{3,})[^\n]*\n[\s\S]*?^\s*\1\s*$/gm, '')
}

/** GitHub's anchors for a document's headings. */
function anchors (file: string): Set<string> {
  const headings = prose(readFileSync(join(root, file), 'utf8')).matchAll(/^#{1,6} (.+)$/gm)
  return new Set([...headings].map(([, heading]) => heading.toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/ /g, '-')))
}

for (const document of DOCUMENTS) {
  t.test(`${document}: relative links resolve`, async (t) => {
    const links = [...prose(readFileSync(join(root, document), 'utf8')).matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]).filter((link) => !/^[a-z]+:/.test(link))
    t.ok(links.length > 0 || document !== 'README.md', `${links.length} relative links`)
    for (const link of links) {
      const [path, anchor] = link.split('#')
      const target = path === '' ? document : normalize(join(dirname(document), path))
      if (!existsSync(join(root, target))) {
        t.fail(`${link}: no file ${target}`)
        continue
      }
      if (anchor !== undefined) t.ok(anchors(target).has(anchor), `${link}: ${target} has a heading #${anchor}`)
    }
  })
}

t.test('Coming from Django: each example uses what its row names', async (t) => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8')
  const section = readme.slice(readme.indexOf('## Coming from Django'), readme.indexOf('\n## ', readme.indexOf('## Coming from Django') + 1))
  const rows = section.split('\n').filter((line) => line.startsWith('| ') && line.includes('](examples/'))
  t.ok(rows.length >= 10, `${rows.length} rows point at an example`)
  // Placeholders in the rows' code, not API: the example may call them anything.
  const placeholders = new Set(['async', 'await', 'new', 'throw', 'true', 'import', 'meta', 'request', 'kwargs', 'url', 'URL', 'view', 'factory', 'asyncIterable', 'Consumer'])
  for (const row of rows) {
    const [, ours, examples] = row.split(' | ')
    const files = [...examples.matchAll(/\]\((examples\/[^)]+)\)/g)].map((m) => m[1])
    const source = files.map((file) => readFileSync(join(root, file), 'utf8')).join('\n')
    // The API a row names: the identifiers in its middle column's code, quoted strings left out.
    const code = [...ours.matchAll(/`([^`]+)`/g)].map((m) => m[1].replace(/'[^']*'/g, "''")).join(' ')
    const names = new Set([...code.matchAll(/[A-Za-z_]\w*/g)].map((m) => m[0]).filter((name) => !placeholders.has(name)))
    for (const name of names) t.ok(new RegExp(`\\b${name}\\b`).test(source), `${files.join(', ')} uses ${name} (the row: ${ours})`)
  }
})

t.test('Options: the table lists every option of the types', async (t) => {
  const { default: ts } = await import('typescript')
  const readme = readFileSync(join(root, 'README.md'), 'utf8')
  const start = readme.indexOf('\n## Options')
  const section = readme.slice(start, readme.indexOf('\n## ', start + 1))
  // Each options interface, and the prefix its keys take in the table.
  const sources: Array<[file: string, name: string, prefix: string]> = [
    ['lib/options.ts', 'AsyncViewsOptions', ''],
    ['lib/channels/routing.ts', 'WebsocketOptions', 'websocket.'],
    ['lib/sync/bridge.ts', 'SyncOptions', 'sync.'],
    ['lib/channels/layer.ts', 'LayerOptions', 'channelLayer.'],
    ['lib/channels/redis-options.ts', 'RedisLayerOptions', 'channelLayer.']
  ]
  for (const [file, name, prefix] of sources) {
    const source = ts.createSourceFile(file, readFileSync(join(root, file), 'utf8'), ts.ScriptTarget.Latest)
    const declaration = source.statements.find((s): s is import('typescript').InterfaceDeclaration => ts.isInterfaceDeclaration(s) && s.name.text === name)
    if (declaration === undefined) {
      t.fail(`${file} declares ${name}`)
      continue
    }
    const keys = declaration.members.flatMap((member) => member.name !== undefined && ts.isIdentifier(member.name) ? [member.name.text] : [])
    t.ok(keys.length > 0, `${name} has options`)
    for (const key of keys) t.ok(section.includes(`\`${prefix}${key}\``), `the Options table lists \`${prefix}${key}\` (${name} in ${file})`)
  }
})
