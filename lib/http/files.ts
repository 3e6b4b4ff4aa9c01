// Django's UploadedFile and the FILES map. The file lives on disk (spooled by
// lib/uploads) until the response is sent: read it, stream it or move it in the view.
import { createReadStream, type ReadStream } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { MultiValueDict } from './multivalue.js'

/** A file of a multipart request, spooled to `uploads.tmpdir` and deleted after the response. */
export class UploadedFile {
  /** The client's file name, without any directory part (Django's sanitised `name`). */
  readonly name: string
  /** Size in bytes. */
  readonly size: number
  /** The part's Content-Type as the client sent it (never trust it). */
  readonly contentType: string
  /** Where the bytes are on disk until the response is sent. */
  readonly path: string

  constructor (name: string, size: number, contentType: string, path: string) {
    this.name = name
    this.size = size
    this.contentType = contentType
    this.path = path
  }

  /** The whole file. */
  read (): Promise<Buffer> {
    return readFile(this.path)
  }

  /** The file as a stream (for big files, or to pipe it somewhere). */
  stream (): ReadStream {
    return createReadStream(this.path)
  }

  toString (): string {
    return this.name
  }

  toJSON (): { name: string, size: number, contentType: string } {
    return { name: this.name, size: this.size, contentType: this.contentType }
  }
}

/** Django's `request.FILES`: field name to files; `get` gives the last, `getlist` every one. */
export class FileDict extends MultiValueDict<UploadedFile> {}

/** What lib/uploads leaves on a multipart request, under kUploads. */
export interface ParsedForm {
  fields: Array<[string, string]>
  files: FileDict
}
