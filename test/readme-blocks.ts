import { readFileSync } from 'node:fs'

/** A fenced code block of README.md. */
export interface Block {
  /** The fence's language (`ts`, `sh`, `json`...), '' when none. */
  lang: string
  code: string
  /** README line (1-based) of the block's first code line. */
  line: number
  /** The heading the block sits under. */
  section: string
  /** `name` of an `<!-- name -->` comment on the nearest non-blank line above the fence. */
  marker: string | undefined
}

export const README = new URL('../README.md', import.meta.url)

/** Every fenced code block of the README, in order. */
export function readmeBlocks (text = readFileSync(README, 'utf8')): Block[] {
  const lines = text.split('\n')
  const blocks: Block[] = []
  let section = '(top)'
  for (let i = 0; i < lines.length; i++) {
    const heading = /^#{1,6} (.+)$/.exec(lines[i])
    if (heading !== null) section = heading[1]
    const fence = /^(\s*)(`{3,})(\w*)\s*$/.exec(lines[i])
    if (fence === null) continue
    let j = i - 1
    while (j >= 0 && lines[j].trim() === '') j--
    const marker = j >= 0 ? /^<!--\s*(.+?)\s*-->$/.exec(lines[j].trim())?.[1] : undefined
    const close = lines.findIndex((line, k) => k > i && line.trim() === fence[2])
    if (close === -1) throw new Error(`README.md:${i + 1}: a code fence that never closes`)
    const indent = fence[1].length
    blocks.push({ lang: fence[3], code: lines.slice(i + 1, close).map((line) => line.slice(indent)).join('\n'), line: i + 2, section, marker })
    i = close
  }
  return blocks
}

/** The one block under `<!-- name -->`; throws naming the marker when there is none or more than one. */
export function markedBlock (name: string, blocks = readmeBlocks()): Block {
  const found = blocks.filter((block) => block.marker === name)
  if (found.length !== 1) throw new Error(`README.md must have exactly one code block under <!-- ${name} --> (found ${found.length})`)
  return found[0]
}
