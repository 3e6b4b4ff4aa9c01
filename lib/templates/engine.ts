import type { FastifyInstance, FastifyPluginCallback } from 'fastify'
import { resolve } from 'node:path'
import { ImproperlyConfigured } from '../errors.js'
import type { HttpRequest } from '../http/request.js'
import { kTemplates } from '../symbols.js'
import { importPeer } from '../peers/index.js'
import type { TemplatesOptions } from './options.js'

/** Renders a template by name with a context: @fastify/view's `app.view()`. */
export type ViewFunction = (name: string, data: Record<string, unknown>) => Promise<string>

export interface TemplatesState {
  view: ViewFunction
}

// nunjucks' parts the csrf_token tag uses.
interface NunjucksModule {
  runtime: { SafeString: new (value: string) => unknown }
  lib: { escape: (value: string) => string }
}
interface Parser { nextToken: () => { value: string, lineno: number, colno: number }, advanceAfterBlockEnd: (name: string) => void }
interface Nodes { CallExtension: new (ext: object, method: string, args: unknown, content: unknown[]) => unknown, NodeList: new (lineno: number, colno: number) => unknown }
interface Environment {
  addExtension: (name: string, extension: object) => void
  addGlobal: (name: string, value: unknown) => void
  addFilter: (name: string, filter: (...args: any[]) => unknown) => void
}

/** The app's renderer, or undefined when the `templates` option is off. */
export function templatesOf (request: HttpRequest): TemplatesState | undefined {
  return (request.fastify.server as unknown as { [kTemplates]?: TemplatesState })[kTemplates]
}

/**
 * Sets up the `templates` option: @fastify/view with nunjucks (autoescaping,
 * `{% csrf_token %}`, the option's globals and filters), or the @fastify/view
 * the app registered first, adopted as it is.
 */
export async function installTemplates (app: FastifyInstance, options: TemplatesOptions, debug: boolean, fieldName: string): Promise<void> {
  if (app.hasPlugin('@fastify/view')) {
    for (const key of ['dirs', 'globals', 'filters', 'noCache'] as const) {
      if (options[key] !== undefined) throw new ImproperlyConfigured(`Option 'templates.${key}': @fastify/view was registered before fastify-async-views and renders with its own settings; give them there, or let the plugin register it`)
    }
  } else {
    if (options.dirs === undefined) throw new ImproperlyConfigured("Option 'templates.dirs' is required: the directories holding the templates")
    const [view, nunjucks] = await Promise.all([
      importPeer<FastifyPluginCallback<Record<string, unknown>>>('@fastify/view', 'templates'),
      importPeer<NunjucksModule>('nunjucks', 'templates')
    ])
    const dirs = [options.dirs].flat().map((dir) => resolve(dir))
    await app.register(view, {
      engine: { nunjucks },
      templates: dirs,
      options: {
        autoescape: true,
        noCache: options.noCache ?? debug,
        onConfigure (env: Environment) {
          env.addExtension('CsrfTokenExtension', csrfTokenTag(nunjucks, fieldName))
          for (const [name, value] of Object.entries(options.globals ?? {})) env.addGlobal(name, value)
          for (const [name, filter] of Object.entries(options.filters ?? {})) env.addFilter(name, filter)
        }
      }
    })
  }
  const render = (app as unknown as { view?: ViewFunction }).view
  if (typeof render !== 'function') throw new ImproperlyConfigured("Option 'templates': the @fastify/view registered before fastify-async-views has no app.view() (a custom propertyName?); register it with the default one, or let the plugin register it")
  app.decorate(kTemplates, { view: (name: string, data: Record<string, unknown>) => render(name, data) } satisfies TemplatesState)
}

/** Django's `{% csrf_token %}`: the hidden form field, from the context's `csrfToken` ('' without CSRF). */
function csrfTokenTag (nunjucks: NunjucksModule, fieldName: string): object {
  return {
    tags: ['csrf_token'],
    parse (parser: Parser, nodes: Nodes) {
      const token = parser.nextToken()
      parser.advanceAfterBlockEnd(token.value)
      return new nodes.CallExtension(this, 'run', new nodes.NodeList(token.lineno, token.colno), [])
    },
    run (context: { lookup: (name: string) => unknown }) {
      const token = context.lookup('csrfToken')
      if (token === undefined || token === null) return ''
      return new nunjucks.runtime.SafeString(`<input type="hidden" name="${fieldName}" value="${nunjucks.lib.escape(String(token))}">`)
    }
  }
}
