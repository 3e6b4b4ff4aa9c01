import { ImproperlyConfigured } from '../errors.js'
import { messageOf } from '../http/problems.js'

// Minimal loader of an optional peer dependency, for the csrf and templates
// options (the sessions work has its own in lib/peers: to be unified).

/** Imports an optional peer; missing, an ImproperlyConfigured naming the option and the package to install. */
export async function loadPeer<T> (name: string, option: string): Promise<T> {
  let module: { default?: unknown }
  try {
    module = await import(name)
  } catch (error) {
    // The package itself is missing (not one of its own dependencies): say what to install.
    if (/Cannot find (package|module) '/.test(messageOf(error)) && messageOf(error).includes(`'${name}'`)) {
      throw new ImproperlyConfigured(`Option '${option}' needs the package ${name}: npm install ${name}`, { cause: error })
    }
    throw new ImproperlyConfigured(`Option '${option}': ${name} could not be loaded: ${messageOf(error)}`, { cause: error })
  }
  return (module.default ?? module) as T
}
