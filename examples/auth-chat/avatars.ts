// The chat's avatar upload: a logged-in user posts an image (form field
// `avatar`), kept as <id>.<ext> in the avatar directory and served back.
// The `uploads` option has already spooled the file to disk and refused one
// over its limit with a 413; this view only decides whether it is an image.
import { access, copyFile, mkdir, rename, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { path, requirePOST, FileResponse, Http404, JsonResponse, PermissionDenied, type HttpRequest, type URLEntry, type UploadedFile } from 'fastify-async-views'

/** The user the auth layer puts on `request.user` (only these fields are read here). */
interface ChatUser { id: string | number, username: string, isAuthenticated?: boolean }

// Recognised by their first bytes: the client's Content-Type is never trusted.
const SIGNATURES: Array<[string, number[]]> = [
  ['png', [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]],
  ['jpg', [0xff, 0xd8, 0xff]],
  ['gif', [0x47, 0x49, 0x46, 0x38]]
]

async function imageKind (file: UploadedFile): Promise<string | undefined> {
  const head = (await file.read()).subarray(0, 8)
  return SIGNATURES.find(([, bytes]) => bytes.every((b, i) => head[i] === b))?.[0]
}

/** Avatar views keeping their files in `dir`: POST `avatar/`, GET `avatars/<id>/`. */
export function avatarPatterns (dir: string): URLEntry[] {
  const ready = mkdir(dir, { recursive: true })

  const upload = requirePOST(async function uploadAvatar (request: HttpRequest): Promise<JsonResponse> {
    const user = request.user as unknown as ChatUser | undefined
    if (user?.isAuthenticated !== true) throw new PermissionDenied('Log in to change your avatar')
    const file = request.FILES.get('avatar')
    if (file === undefined) return new JsonResponse({ error: 'Choose an image to upload.' }, { status: 400 })
    const kind = await imageKind(file)
    if (kind === undefined) return new JsonResponse({ error: 'Upload a PNG, JPEG or GIF image.' }, { status: 400 })
    await ready
    const id = String(user.id)
    // One avatar per user: an older one of another kind goes.
    for (const [other] of SIGNATURES) if (other !== kind) await unlink(join(dir, `${id}.${other}`)).catch(() => {})
    await moveFile(file.path, join(dir, `${id}.${kind}`))
    return new JsonResponse({ url: request.reverse('avatar', { kwargs: { id } }), size: file.size })
  })

  async function showAvatar (_request: HttpRequest, { id }: { id: number }): Promise<FileResponse> {
    await ready
    for (const [kind] of SIGNATURES) {
      const file = join(dir, `${id}.${kind}`)
      if (await exists(file)) return new FileResponse(file)
    }
    throw new Http404('No avatar')
  }

  return [
    path('avatar/', upload, { name: 'avatar-upload' }),
    path('avatars/<int:id>/', showAvatar, { name: 'avatar' })
  ]
}

async function exists (file: string): Promise<boolean> {
  try {
    await access(file)
    return true
  } catch {
    return false
  }
}

// The spooled file is deleted after the response unless moved; tmpdir may be
// another filesystem, where rename fails with EXDEV.
async function moveFile (from: string, to: string): Promise<void> {
  try {
    await rename(from, to)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error
    await copyFile(from, to)
  }
}
