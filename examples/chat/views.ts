// chat/views.py, in Node terms.
import { readFile } from 'node:fs/promises'
import { HttpResponse, JsonResponse, Http404, requirePOST, type HttpRequest } from 'fastify-async-views'
import { messageText, roomGroup, MAX_TEXT } from './consumers.ts'

/** GET /: the chat page (Django would `render(request, 'chat/index.html')`). */
export async function index (_request: HttpRequest): Promise<HttpResponse> {
  const html = await readFile(new URL('./index.html', import.meta.url))
  return new HttpResponse(html, { contentType: 'text/html; charset=utf-8' })
}

/**
 * POST /rooms/<room>/announce/ {"text": "..."}: posts to a room from plain
 * HTTP code, through the app's channel layer (POST /announce/: to every room).
 */
export const announce = requirePOST(async (request: HttpRequest, { room }: { room?: string }) => {
  const group = room === undefined ? 'lobby' : roomGroup(room)
  if (group === null) throw new Http404(`No room named ${JSON.stringify(room)}`)
  const text = messageText(request.json()) // A malformed body -> 400.
  if (text === null) return new JsonResponse({ error: `Send {"text": "..."} with 1 to ${MAX_TEXT} characters.` }, { status: 400 })
  await request.fastify.server.channelLayer.groupSend(group, { type: 'chat.announcement', text })
  return new JsonResponse({ delivered: true }, { status: 202 })
})
