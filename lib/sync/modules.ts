import { createRequire } from 'node:module'
import { isAbsolute } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { types } from 'node:util'
import { describe } from '../describe.js'
import { ERR_FUNCTION_ACROSS_THREADS, ERR_INVALID_MODULE_REFERENCE, ERR_NO_SUCH_EXPORT, ERR_SYNC_TO_ASYNC_OF_ASYNC } from '../errors.js'

/** Normalises a module reference (URL, `file:` URL string or absolute path) to a file URL href. */
export function moduleHref (moduleUrl: unknown, caller: string): string {
  if (typeof moduleUrl === 'function') {
    // The classic first try, syncToAsync(fn): a function cannot be sent to another thread, its module can.
    const name = moduleUrl.name === '' ? 'yourFunction' : moduleUrl.name
    throw new ERR_FUNCTION_ACROSS_THREADS(`${caller} got ${describe(moduleUrl)}: a function cannot cross to a worker thread (threads share no code or memory). ` +
      `Export it from a module and pass the module and the export's name: ${caller.slice(0, -2)}(import.meta.url, '${name}') from the module that exports it, ` +
      `or ${caller.slice(0, -2)}(new URL('./module.js', import.meta.url), '${name}') from another`)
  }
  if (moduleUrl instanceof URL) {
    if (moduleUrl.protocol !== 'file:') throw new ERR_INVALID_MODULE_REFERENCE(`${caller}: moduleUrl must be a file: URL (got ${moduleUrl.href})`)
    return moduleUrl.href
  }
  if (typeof moduleUrl === 'string') {
    if (moduleUrl.startsWith('file:')) return new URL(moduleUrl).href
    if (isAbsolute(moduleUrl)) return pathToFileURL(moduleUrl).href
  }
  const got = typeof moduleUrl === 'string' ? JSON.stringify(moduleUrl) : describe(moduleUrl)
  throw new ERR_INVALID_MODULE_REFERENCE(`${caller}: moduleUrl must be a URL, an absolute file: URL or an absolute path, e.g. new URL('./db.js', import.meta.url) (got ${got})`)
}

type Fn = (...args: unknown[]) => unknown

const loaded = new Map<string, Record<string, unknown>>()

function pick (module: Record<string, unknown>, href: string, name: string): Fn {
  const fn = module[name]
  if (typeof fn !== 'function') throw new ERR_NO_SUCH_EXPORT(`${href} has no function export named '${name}'`)
  return fn as Fn
}

/** Refuses an async export where sync code is expected (asgiref's TypeError): the bridge would only block a thread on it. */
export function checkSync (fn: Fn, name: string, caller: string): void {
  if (types.isAsyncFunction(fn)) {
    throw new ERR_SYNC_TO_ASYNC_OF_ASYNC(`${caller} can only be applied to sync functions; ${name}() is async: await it directly on the event loop instead`)
  }
}

/** The same rule for a sync function that returned a promise (a transpiled async function, a thenable). */
export function checkNotThenable (value: unknown, name: string, caller: string): void {
  if (value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as { then?: unknown }).then === 'function') {
    throw new ERR_SYNC_TO_ASYNC_OF_ASYNC(`${caller}: ${name}() returned a promise; it must be a sync function (await async code directly on the event loop instead)`)
  }
}

// piscina require()s the worker script; under tsx that makes this copy of the
// package CommonJS. A user's module must then be required too: imported, it
// would get the ESM copy of the package (other classes, another bridge state).
const commonJS = typeof module !== 'undefined'

/** The export when its module is loaded on this thread already, without awaiting; undefined when it is not. */
export function loadedExport (href: string, name: string): Fn | undefined {
  const found = loaded.get(href)
  return found === undefined ? undefined : pick(found, href, name)
}

/** Loads an export (modules are imported once per thread). */
export async function loadExport (href: string, name: string): Promise<Fn> {
  let found = loaded.get(href)
  if (found === undefined) {
    found = commonJS ? await requireOrImport(href) : await importOrRequire(href)
    loaded.set(href, found)
  }
  return pick(found, href, name)
}

async function importOrRequire (href: string): Promise<Record<string, unknown>> {
  try {
    return await import(href) as Record<string, unknown>
  } catch (error) {
    // Under tsx on Node 20, import() of .ts is hooked on the main thread only; require() is hooked in workers too.
    if ((error as { code?: string })?.code !== 'ERR_UNKNOWN_FILE_EXTENSION') throw error
    return require(fileURLToPath(href)) as Record<string, unknown>
  }
}

async function requireOrImport (href: string): Promise<Record<string, unknown>> {
  try {
    return require(fileURLToPath(href)) as Record<string, unknown>
  } catch (error) {
    // A module with top-level await cannot be required: import it, as before.
    if ((error as { code?: string })?.code !== 'ERR_REQUIRE_ASYNC_MODULE') throw error
    return await import(href) as Record<string, unknown>
  }
}

const require = createRequire(import.meta.url)

/** Loads an export without awaiting, for a thread that is blocked (require(esm)). */
export function loadExportSync (href: string, name: string): Fn {
  let module = loaded.get(href)
  if (module === undefined) {
    module = require(fileURLToPath(href)) as Record<string, unknown>
    loaded.set(href, module)
  }
  return pick(module, href, name)
}
