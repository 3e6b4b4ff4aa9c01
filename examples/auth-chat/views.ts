// chat/views.py: pages rendered from templates/, behind login.
import { Http404, HttpResponseRedirect, loginRequired, render, type HttpRequest } from 'fastify-async-views'
import { roomGroup } from './consumers.ts'

/** GET /: choose a room (?room=x goes there) and upload an avatar. */
export const index = loginRequired(async (request: HttpRequest) => {
  const room = request.GET.get('room')
  if (room !== undefined && roomGroup(room) !== null) return new HttpResponseRedirect(request.reverse('room', { kwargs: { room } }))
  return await render(request, 'chat/index.html', {})
})

/** GET /rooms/<room>/: the room's page; its socket is authenticated by the same session cookie. */
export const room = loginRequired(async (request: HttpRequest, { room }: { room: string }) => {
  if (roomGroup(room) === null) throw new Http404('No such room')
  return await render(request, 'chat/room.html', { room, socketPath: `/ws/chat/${encodeURIComponent(room)}/` })
})
