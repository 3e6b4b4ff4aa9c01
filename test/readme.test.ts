// Every TypeScript block of README.md compiles under --strict, on TypeScript
// 5.9 and 7, against the built package. The rule, kept simple:
// - a block is one module (`readme-L<line>.ts`) and must compile as it stands;
// - a block that leans on the app around it (an `app`, a `request`, your views
//   and data) says so with `<!-- ts: fragment -->` on the line above its fence.
//   It is then compiled with test/readme-prelude/ (globals.d.ts declares those
//   names; blog/urls.ts is a module a block includes), and, when it imports
//   nothing from the package itself, with every export of the package imported;
// - `<!-- ts: file=db.ts -->` (or `fragment file=db.ts`) names the block's file,
//   so that another block can import it.
// A failure names the README line, its section and the compiler's message.
import t from 'tap'
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { readmeBlocks, type Block } from './readme-blocks.ts'
import { COMPILERS, errorsByLine, runTsc } from './tsc.ts'

const root = fileURLToPath(new URL('..', import.meta.url))

interface Unit { block: Block, file: string, fragment: boolean, offset: number }

/** `import asyncViews, { path, ..., type HttpRequest } from 'fastify-async-views'`, minus names the code declares. */
async function packageImport (code: string): Promise<string> {
  const index = await readFile(new URL('../lib/index.ts', import.meta.url), 'utf8')
  const declared = new Set([...code.matchAll(/\b(?:class|function|const|let|var|interface|type|enum)\s+([A-Za-z_$][\w$]*)/g)].map((m) => m[1]))
  const names: string[] = []
  for (const [, type, list] of index.matchAll(/^export (type )?\{([^}]*)\} from/gm)) {
    for (const item of list.split(',')) {
      const name = item.trim().split(/\s+as\s+/).pop() as string
      // The plugin comes in as the default import, `asyncViews`.
      if (name !== '' && name !== 'default' && name !== 'asyncViews' && !declared.has(name)) names.push(type === undefined ? name : `type ${name}`)
    }
  }
  return `import ${declared.has('asyncViews') ? '' : 'asyncViews, '}{ ${names.join(', ')} } from 'fastify-async-views'`
}

async function units (dir: string): Promise<Unit[]> {
  const result: Unit[] = []
  for (const block of readmeBlocks()) {
    if (block.lang !== 'ts' && block.lang !== 'typescript') continue
    const words = /^ts:\s*(.*)$/.exec(block.marker ?? '')?.[1].split(/[\s,]+/) ?? []
    const fragment = words.includes('fragment')
    const file = words.find((word) => word.startsWith('file='))?.slice(5) ?? `readme-L${block.line}.ts`
    let code = block.code
    let offset = 0
    if (fragment && !/from\s+['"]fastify-async-views['"]/.test(code)) {
      code = `${await packageImport(code)}\n${code}`
      offset = 1
    }
    await writeFile(join(dir, file), code + '\n')
    result.push({ block, file, fragment, offset })
  }
  return result
}

const compilerOptions = {
  target: 'ES2022',
  lib: ['ES2023'],
  module: 'NodeNext',
  moduleDetection: 'force',
  strict: true,
  types: ['node'],
  skipLibCheck: true,
  noEmit: true
}

t.test('README TypeScript blocks compile under --strict', async (t) => {
  // Inside the repository, so `fastify-async-views` resolves to this package (dist/).
  await mkdir(join(root, '.scratch'), { recursive: true })
  const dir = await mkdtemp(join(root, '.scratch', 'readme-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  await cp(new URL('./readme-prelude/', import.meta.url), dir, { recursive: true })
  const all = await units(dir)
  t.ok(all.length > 0, `${all.length} TypeScript blocks found`)
  for (const [name, files] of [['complete', all.filter((u) => !u.fragment).map((u) => u.file)], ['fragments', [...all.filter((u) => u.fragment).map((u) => u.file), 'globals.d.ts']]] as const) {
    await writeFile(join(dir, `tsconfig.${name}.json`), JSON.stringify({ compilerOptions, files }, null, 2))
  }

  for (const compiler of COMPILERS) {
    t.test(`TypeScript ${compiler.version}`, async (t) => {
      const errors = new Map<string, string>()
      for (const project of ['complete', 'fragments']) {
        const result = await runTsc(compiler, ['--pretty', 'false', '-p', `tsconfig.${project}.json`], dir)
        for (const [where, text] of errorsByLine(result.output, dir)) errors.set(where, text)
        if (result.code !== 0 && errorsByLine(result.output, dir).size === 0) t.fail(`tsc (${project}) failed without an error line`, { output: result.output })
      }
      for (const { block, file, offset } of all) {
        const found: string[] = []
        for (const [where, text] of errors) {
          const [name, line] = [where.slice(0, where.lastIndexOf(':')), Number(where.slice(where.lastIndexOf(':') + 1))]
          if (name !== file) continue
          found.push(`README.md:${block.line + line - 1 - offset}: ${text}`)
          errors.delete(where)
        }
        t.same(found, [], `README.md:${block.line} (${block.section}) compiles`)
      }
      // Anything left is in the prelude (or a file no block wrote).
      t.same([...errors].map(([where, text]) => `${relative(root, join(dir, where))}: ${text}`), [], 'no other errors')
    })
  }
})
