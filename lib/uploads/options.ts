// The `uploads` option: its type, its defaults and the check `register` runs.
import { statSync } from 'node:fs'
import { tmpdir as osTmpdir } from 'node:os'
import { describe } from '../describe.js'
import { ImproperlyConfigured } from '../errors.js'

/** `uploads`: multipart bodies parsed before the middleware into `request.POST` and `request.FILES`. */
export interface UploadsOptions {
  /** Largest file, in bytes. Default 10 MiB. */
  maxFileSize?: number
  /** Most files in one request. Default 100. */
  maxFiles?: number
  /** Most non-file fields in one request. Default 1000. */
  maxFields?: number
  /** Largest multipart body, in bytes (Fastify's `bodyLimit` does not bound multipart). Default 50 MiB. */
  maxBodySize?: number
  /** Where files are spooled until the response is sent. Default `os.tmpdir()`. */
  tmpdir?: string
}

/** The option with its defaults filled in. */
export type UploadLimits = Required<UploadsOptions>

const LIMITS = ['maxFileSize', 'maxFiles', 'maxFields', 'maxBodySize'] as const

/** Checks the option (ImproperlyConfigured naming the key) and fills in the defaults. */
export function uploadLimits (option: unknown): UploadLimits {
  if (option === null || typeof option !== 'object' || Array.isArray(option)) {
    throw new ImproperlyConfigured(`Option 'uploads' must be an object (got ${describe(option)})`)
  }
  const given = option as Record<string, unknown>
  for (const key of Object.keys(given)) {
    if (!(LIMITS as readonly string[]).includes(key) && key !== 'tmpdir') throw new ImproperlyConfigured(`Unknown option 'uploads.${key}'`)
  }
  for (const key of LIMITS) {
    const value = given[key]
    if (value !== undefined && (!Number.isSafeInteger(value) || (value as number) < 1)) {
      throw new ImproperlyConfigured(`Option 'uploads.${key}' must be a positive integer (got ${describe(value)})`)
    }
  }
  const tmpdir = given.tmpdir ?? osTmpdir()
  if (typeof tmpdir !== 'string' || tmpdir === '') throw new ImproperlyConfigured(`Option 'uploads.tmpdir' must be a directory path (got ${describe(tmpdir)})`)
  let isDirectory = false
  try {
    isDirectory = statSync(tmpdir).isDirectory()
  } catch {}
  if (!isDirectory) throw new ImproperlyConfigured(`Option 'uploads.tmpdir': ${tmpdir} is not a directory`)
  return {
    maxFileSize: (given.maxFileSize as number | undefined) ?? 10485760,
    maxFiles: (given.maxFiles as number | undefined) ?? 100,
    maxFields: (given.maxFields as number | undefined) ?? 1000,
    maxBodySize: (given.maxBodySize as number | undefined) ?? 52428800,
    tmpdir
  }
}
