import type { FastifyInstance } from 'fastify'
import { installCsrf, type CsrfMiddleware } from '../csrf/install.js'
import { csrfSettings } from '../csrf/options.js'
import { installTemplates } from './engine.js'
import { templatesSettings } from './options.js'
import { render } from './render.js'
import { kRender } from '../symbols.js'

/** The options this part reads (see AsyncViewsOptions). */
export interface CsrfTemplatesOptions {
  secretKey?: unknown
  csrf?: unknown
  templates?: unknown
}

/**
 * The `csrf` and `templates` options on the app: plugins registered and state
 * decorated; returns the CSRF middleware (innermost). Neither option: nothing
 * registered, no hook added.
 */
export async function setupCsrfAndTemplates (app: FastifyInstance, options: CsrfTemplatesOptions, debug: boolean): Promise<CsrfMiddleware | undefined> {
  const csrf = csrfSettings(options.csrf)
  const templates = templatesSettings(options.templates)
  const middleware = csrf === undefined ? undefined : await installCsrf(app, csrf, options.secretKey)
  if (templates !== undefined) {
    await installTemplates(app, templates, debug, csrf?.fieldName ?? 'csrfmiddlewaretoken')
    // LoginView/LogoutView (lib/auth, below this layer) render through this door.
    app.decorate(kRender, render)
  }
  return middleware
}
