import t from 'tap'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, normalize, relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'

// Every import in lib/ points down the layer order, so each layer can be read,
// tested and changed without the ones above it:
//   base (errors, symbols, describe, compat, waiting) -> urls -> http -> views
//   -> sync -> middleware -> channels -> testing -> plugin (plugin, options,
//   view-routes) -> entry points (index, cli).
// Folders of one rank do not import each other; a root file's rank is its own.

const lib = fileURLToPath(new URL('../lib/', import.meta.url))

const FOLDERS: Record<string, number> = { urls: 1, http: 2, views: 3, sync: 4, peers: 4.1, sessions: 4.2, auth: 4.3, csrf: 4.4, uploads: 4.5, templates: 4.6, middleware: 5, channels: 6, testing: 7 }
const ROOT: Record<string, number> = {
  'errors.ts': 0,
  'symbols.ts': 0,
  'describe.ts': 0,
  'compat.ts': 0,
  'waiting.ts': 0,
  'plugin.ts': 8,
  'options.ts': 8,
  'view-routes.ts': 8,
  'index.ts': 9,
  'cli.ts': 9
}

function layerOf (file: string): { rank: number, folder: string } {
  const parts = relative(lib, file).split(sep)
  if (parts.length === 1) {
    const rank = ROOT[parts[0]]
    if (rank === undefined) throw new Error(`lib/${parts[0]} has no place in the layer order: add it to test/layers.test.ts`)
    return { rank, folder: '' }
  }
  const rank = FOLDERS[parts[0]]
  if (rank === undefined) throw new Error(`lib/${parts[0]}/ has no place in the layer order: add it to test/layers.test.ts`)
  return { rank, folder: parts[0] }
}

function sources (dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return sources(path)
    return name.endsWith('.ts') ? [path] : []
  })
}

t.test('every import in lib/ points down the layer order', async (t) => {
  const upward: string[] = []
  let imports = 0
  for (const file of sources(lib)) {
    const from = layerOf(file)
    for (const m of readFileSync(file, 'utf8').matchAll(/(?:import|export)\s[^'"]*?from\s+'(\.[^']+)'|import\('(\.[^']+)'\)/g)) {
      const target = normalize(join(dirname(file), (m[1] ?? m[2]).replace(/\.js$/, '.ts')))
      const to = layerOf(target)
      imports++
      const sideways = to.rank === from.rank && to.folder !== from.folder && from.rank !== 0 && from.rank !== 8
      if (to.rank > from.rank || sideways) upward.push(`${relative(lib, file)} -> ${relative(lib, target)}`)
    }
  }
  t.ok(imports > 100, `${imports} imports read`)
  t.same(upward, [], 'no import points up or sideways')
})

t.test('the rule catches an upward import', async (t) => {
  // The check itself, on a made-up pair: http/ importing channels/ is refused.
  const from = layerOf(join(lib, 'http', 'request.ts'))
  const to = layerOf(join(lib, 'channels', 'layer.ts'))
  t.ok(to.rank > from.rank)
})
