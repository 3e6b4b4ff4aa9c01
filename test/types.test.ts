import t from 'tap'
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'

// The type tests in test/types/ must compile: @ts-expect-error lines fail the
// build if the error they expect disappears, so both directions are checked.
t.test('type tests compile', async (t) => {
  const root = fileURLToPath(new URL('..', import.meta.url))
  const tsc = fileURLToPath(new URL('../node_modules/typescript/bin/tsc', import.meta.url))
  const result = await new Promise<{ code: number | null, output: string }>((resolve) => {
    execFile(process.execPath, [tsc, '--noEmit', '-p', 'test/types/tsconfig.json'], { cwd: root }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : (error as { code?: number }).code ?? 1, output: stdout + stderr })
    })
  })
  t.equal(result.code, 0, result.output)
})
