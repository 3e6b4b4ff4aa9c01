// Optional peer plugins (@fastify/cookie, secure-session, session, csrf-protection,
// view, multipart): imported only when the option that needs them is set, a
// missing one named with the command that installs it, one the app registered
// first adopted, a conflicting one refused. Every part of issue 17 loads its
// plugins through here.
import type { FastifyInstance, FastifyPluginCallback } from 'fastify'
import { ImproperlyConfigured } from '../errors.js'
import { messageOf } from '../http/problems.js'

/** One optional peer plugin an option needs. */
export interface PeerPlugin {
  /** The npm package (`@fastify/secure-session`). */
  package: string
  /** The option that needs it (`sessions`), named in errors. */
  option: string
  /** Its fastify-plugin name, when it differs from the package name. */
  pluginName?: string
  /** Plugins that cannot live beside it in one context (both decorate `request.session`...). */
  conflicts?: readonly string[]
  /** Checks an adopted registration (one the app made); a returned string is why it does not fit. */
  checkAdopted?: (app: FastifyInstance) => string | undefined
}

/** Whether the peer was registered by us, or adopted from the app. */
export type PeerOutcome = 'registered' | 'adopted'

/**
 * Imports an optional peer; its absence is an ImproperlyConfigured naming the
 * option and the install command. `module.default` is what it exports.
 */
export async function importPeer<M = unknown> (pkg: string, option: string): Promise<M> {
  let module: { default?: unknown }
  try {
    module = await import(pkg) as { default?: unknown }
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code
    // Loaders (tsx, tap's) may rethrow without the code: the message names the package too.
    const missing = code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND' || /^Cannot find (package|module)/.test(messageOf(error))
    if (missing && messageOf(error).includes(`'${pkg}'`)) {
      throw new ImproperlyConfigured(`Option '${option}' needs the package ${pkg}: npm install ${pkg}`, { cause: error })
    }
    throw new ImproperlyConfigured(`Option '${option}': could not import ${pkg}: ${messageOf(error)}`, { cause: error })
  }
  return (module.default ?? module) as M
}

/**
 * Registers `peer` with `options` in `app`, unless the app registered it
 * already (then it is adopted, after `checkAdopted`). A conflicting plugin
 * already there fails, naming both.
 */
export async function registerPeer (app: FastifyInstance, peer: PeerPlugin, options: object | (() => object)): Promise<PeerOutcome> {
  for (const other of peer.conflicts ?? []) {
    if (app.hasPlugin(other)) throw new ImproperlyConfigured(`Option '${peer.option}' uses ${peer.package}, but the app registered ${other}, which conflicts with it; remove one`)
  }
  if (app.hasPlugin(peer.pluginName ?? peer.package)) {
    const problem = peer.checkAdopted?.(app)
    if (problem !== undefined) throw new ImproperlyConfigured(`Option '${peer.option}': the ${peer.package} the app registered does not fit: ${problem}`)
    return 'adopted'
  }
  const plugin = await importPeer<FastifyPluginCallback>(peer.package, peer.option)
  try {
    await app.register(plugin, typeof options === 'function' ? options() : options)
  } catch (error) {
    throw new ImproperlyConfigured(`Option '${peer.option}': registering ${peer.package} failed: ${messageOf(error)}`, { cause: error })
  }
  return 'registered'
}
