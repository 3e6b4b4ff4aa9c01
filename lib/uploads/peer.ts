// Loading an optional peer dependency (to be unified with lib/peers at merge).
import { ImproperlyConfigured } from '../errors.js'
import { messageOf, read } from '../http/problems.js'

/**
 * Imports an optional peer package for an option; a missing one is an
 * ImproperlyConfigured naming the package and the option that needs it.
 * The specifier is a variable so its types never reach ours.
 */
export async function importPeer (name: string, option: string): Promise<unknown> {
  let module: { default?: unknown }
  try {
    module = await import(name) as { default?: unknown }
  } catch (error) {
    const code = read(error, 'code')
    // Some loaders (tap's) rethrow without the code: the message says it too.
    const notFound = code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND' || /^Cannot find (package|module)/.test(messageOf(error))
    if (notFound && messageOf(error).includes(`'${name}'`)) {
      throw new ImproperlyConfigured(`Option '${option}' needs the package ${name}: npm install ${name}`, { cause: error })
    }
    throw new ImproperlyConfigured(`Option '${option}': ${name} could not be loaded: ${messageOf(error)}`, { cause: error })
  }
  return module.default ?? module
}
