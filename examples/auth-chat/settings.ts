// settings.py: SECRET_KEY from the environment in production; this default is for the demo only.
export const SECRET_KEY = process.env.SECRET_KEY ?? 'demo-only-secret-key-change-me-0123456789abcdef'
// MEDIA_ROOT: where avatars are kept.
export const MEDIA_ROOT = process.env.MEDIA_ROOT ?? new URL('./media/', import.meta.url).pathname
// An avatar is at most this big; a larger upload is a 413 before any view runs.
export const MAX_AVATAR = 1024 * 1024
