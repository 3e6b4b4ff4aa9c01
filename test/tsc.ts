import { execFile } from 'node:child_process'
import { relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

/** A TypeScript compiler installed in node_modules. */
export interface Compiler {
  version: string
  tsc: string
}

const modules = fileURLToPath(new URL('../node_modules/', import.meta.url))

/** TypeScript 5.9 (`typescript`) and 7 (the `typescript-7` alias). */
export const COMPILERS: Compiler[] = [
  { version: '5.9', tsc: `${modules}typescript/bin/tsc` },
  // lib/tsc.js, not bin/tsc: tap's process hooks load an extensionless ESM file as CommonJS.
  { version: '7', tsc: `${modules}typescript-7/lib/tsc.js` }
]

/** Node's environment without tap's loaders (they break TypeScript 7's ESM launcher). */
export function plainEnv (): NodeJS.ProcessEnv {
  const env = { ...process.env }
  delete env.NODE_OPTIONS
  return env
}

/** Runs `tsc` with the current Node; resolves with its exit code and output. */
export function runTsc (compiler: Compiler, args: string[], cwd: string): Promise<{ code: number, output: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [compiler.tsc, ...args], { cwd, env: plainEnv(), maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1
      resolve({ code, output: stdout + stderr })
    })
  })
}

/**
 * tsc's `--pretty false` output grouped by `file:line` (file relative to
 * `base`, with `/`), each entry holding the error and its elaboration lines.
 */
export function errorsByLine (output: string, base: string): Map<string, string> {
  const errors = new Map<string, string>()
  let key: string | undefined
  for (const line of output.split('\n')) {
    const m = /^(.+?)\((\d+),\d+\): error (TS\d+: .*)$/.exec(line)
    if (m !== null) {
      key = `${relative(base, resolve(base, m[1])).split('\\').join('/')}:${m[2]}`
      errors.set(key, errors.has(key) ? `${errors.get(key)}\n${m[3]}` : m[3])
    } else if (key !== undefined && /^\s/.test(line)) {
      errors.set(key, `${errors.get(key)}\n${line.trim()}`)
    } else if (line.trim() !== '') {
      key = undefined
    }
  }
  return errors
}
