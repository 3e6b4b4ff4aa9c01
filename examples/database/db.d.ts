// Types for db.js, which is JavaScript so that the bridge's workers can import it under tsx on Node 20.

export interface Post {
  id: number
  title: string
  body: string
}

/** Every post, oldest first. `delayMs` simulates a slow query by blocking the worker. */
export function allPosts (options?: { delayMs?: number }): Post[]
/** One post, or null. */
export function getPost (id: number): Post | null
/** Inserts a post and returns it with its id. */
export function createPost (data: { title: string, body: string }): Post
