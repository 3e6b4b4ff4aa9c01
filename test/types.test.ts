import t from 'tap'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { COMPILERS, runTsc, errorsByLine } from './tsc.js'

const root = fileURLToPath(new URL('..', import.meta.url))

// Each TypeScript the project supports: 5.9 (what tap's loader needs) and 7
// (what `npm i -D typescript` installs today, a native compiler).
for (const compiler of COMPILERS) {
  t.test(`TypeScript ${compiler.version}`, async (t) => {
    // An expect-error directive fails the build if the error it expects
    // disappears, so the type tests in test/types/ check both directions.
    t.test('type tests compile', async (t) => {
      const result = await runTsc(compiler, ['--noEmit', '-p', 'test/types/tsconfig.json'], root)
      t.equal(result.code, 0, result.output)
    })

    // The wording matters too: test/types/errors/ holds deliberate errors, each
    // under a `// expect: <text>` comment that the error on the next line must contain.
    t.test('errors say what is wrong', async (t) => {
      const result = await runTsc(compiler, ['--noEmit', '--pretty', 'false', '-p', 'test/types/errors/tsconfig.json'], root)
      const errors = errorsByLine(result.output, root)
      const file = 'test/types/errors/view-result.ts'
      const lines = (await readFile(new URL(`../${file}`, import.meta.url), 'utf8')).split('\n')
      const expected = new Map<number, string>()
      lines.forEach((line, i) => {
        const m = /^\s*\/\/ expect: (.+)$/.exec(line)
        if (m !== null) expected.set(i + 2, m[1])
      })
      t.ok(expected.size > 0, `${file} has expect: comments`)
      for (const [line, text] of expected) {
        const got = errors.get(`${file}:${line}`) ?? '(no error)'
        t.ok(got.includes(text), `${file}:${line}: the error contains ${JSON.stringify(text)}`, { got })
      }
      for (const [where, text] of errors) {
        const line = Number(where.slice(where.lastIndexOf(':') + 1))
        t.ok(where.startsWith(`${file}:`) && expected.has(line), `no unexpected error at ${where}`, { got: text })
      }
    })
  })
}
