// A port of Django's django/utils/regex_helper.py `normalize()`: the forms of a
// URL regex that reversing can fill in. For each repeat the minimum count is
// kept (an optional group that holds a parameter gives both forms), a class or
// `.` becomes one representative character, lookarounds are dropped, and `|`
// gives a single empty form (not reversible). Reads JS and Python syntax:
// `(?<n>...)`, `(?P<n>...)`, `\k<n>`, `(?P=n)`.

/** A form: literal text and parameter slots, and the parameter names in order. */
export interface Form {
  template: Array<string | { param: string }>
  params: string[]
}

/** A regex construct normalize cannot reverse (Django's ValueError). */
export class NonReversible extends Error {}

class Group {
  constructor (readonly name: string, readonly param: string | null) {}
}
class NonCapture {
  constructor (readonly items: Item[]) {}
}
class Choice {
  constructor (readonly options: Array<Item | null>) {}
}
type Item = string | Group | NonCapture | Choice

// What an escape stands for in a reversed URL (null: it matches no character).
const ESCAPE_MAPPINGS: Record<string, string | null> = {
  A: null, b: null, B: null, d: '0', D: 'x', s: ' ', S: 'x', w: 'x', W: '!', Z: null
}

interface Token { ch: string, escaped: boolean }

/** Characters with escapes replaced by a representative (Django's `next_char`). */
function tokenize (pattern: string): Token[] {
  const tokens: Token[] = []
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]
    if (ch !== '\\') {
      tokens.push({ ch, escaped: false })
      continue
    }
    const next = pattern[++i]
    if (next === undefined) throw new NonReversible('trailing backslash')
    if (next === 'k' && pattern[i + 1] === '<') {
      // JS's named backreference: the same value as the group it names.
      const end = pattern.indexOf('>', i)
      tokens.push({ ch: '\\k', escaped: false }, ...[...pattern.slice(i + 2, end)].map((c) => ({ ch: c, escaped: false })), { ch: '>', escaped: false })
      i = end
      continue
    }
    const hex = next === 'x' ? /^[0-9a-fA-F]{2}/.exec(pattern.slice(i + 1)) : next === 'u' ? /^[0-9a-fA-F]{4}/.exec(pattern.slice(i + 1)) : null
    if (hex !== null) {
      tokens.push({ ch: String.fromCharCode(parseInt(hex[0], 16)), escaped: true })
      i += hex[0].length
      continue
    }
    const representative = next in ESCAPE_MAPPINGS ? ESCAPE_MAPPINGS[next] : next
    if (representative !== null) tokens.push({ ch: representative, escaped: true })
  }
  return tokens
}

class Reader {
  #i = 0
  constructor (readonly tokens: Token[]) {}
  /** The next token; throws End past the last one (Python's StopIteration). */
  next (): Token {
    const token = this.tokens[this.#i++]
    if (token === undefined) throw END
    return token
  }

  peek (): Token | undefined { return this.tokens[this.#i] }
}

const END = Symbol('end of pattern')

/** Skips to the `)` closing the group the reader is inside (Django's `walk_to_end`). */
function walkToEnd (ch: string, reader: Reader): void {
  let nesting = ch === '(' ? 1 : 0
  while (true) {
    const token = reader.next()
    if (token.escaped) continue
    if (token.ch === '(') nesting++
    else if (token.ch === ')') {
      if (nesting === 0) return
      nesting--
    }
  }
}

/** The minimum count of a quantifier, and a token read past it that is not part of it. */
function getQuantifier (ch: string, reader: Reader): [number, Token | undefined] {
  if (ch === '*' || ch === '?' || ch === '+') {
    let next = reader.peek()
    if (next !== undefined) reader.next()
    if (next?.ch === '?' && !next.escaped) next = undefined
    return [ch === '+' ? 1 : 0, next]
  }
  let quant = ''
  let token = reader.next()
  while (token.ch !== '}') {
    quant += token.ch
    token = reader.next()
  }
  let next = reader.peek()
  if (next !== undefined) reader.next()
  if (next?.ch === '?' && !next.escaped) next = undefined
  const min = parseInt(quant.split(',')[0], 10)
  if (Number.isNaN(min)) throw new NonReversible(`bad quantifier {${quant}}`)
  return [min, next]
}

function readName (reader: Reader, terminal: string): string {
  let name = ''
  let token = reader.next()
  while (token.ch !== terminal) {
    name += token.ch
    token = reader.next()
  }
  return name
}

function contains (item: Item | null, cls: typeof Group): boolean {
  if (item instanceof cls) return true
  if (item instanceof NonCapture) return item.items.some((i) => contains(i, cls))
  return false
}

/** Django's `normalize(pattern)`; throws NonReversible for what it cannot reverse. */
export function normalize (pattern: string): Form[] {
  let result: Item[] = []
  const nonCapturing: number[] = []
  const reader = new Reader(tokenize(pattern))
  let numArgs = 0
  let pending: Token | undefined
  try {
    let token = reader.next()
    while (true) {
      const { ch, escaped } = token
      if (escaped) {
        result.push(ch)
      } else if (ch === '.') {
        result.push('.')
      } else if (ch === '|') {
        // Django does not reverse alternatives: one empty form.
        return [{ template: [], params: [] }]
      } else if (ch === '^') {
        // Anchors stand for no text.
      } else if (ch === '$') {
        break
      } else if (ch === ')') {
        const start = nonCapturing.pop()
        if (start === undefined) throw new NonReversible('unbalanced parenthesis')
        result = [...result.slice(0, start), new NonCapture(result.slice(start))]
      } else if (ch === '[') {
        // A class becomes its first character.
        result.push(reader.next().ch)
        let next = reader.next()
        while (next.escaped || next.ch !== ']') next = reader.next()
      } else if (ch === '\\k') {
        result.push(new Group(readName(reader, '>'), null))
      } else if (ch === '(') {
        const next = reader.next()
        if (next.ch !== '?' || next.escaped) {
          const name = `_${numArgs++}`
          result.push(new Group(name, name))
          walkToEnd(next.ch, reader)
        } else {
          const kind = reader.next().ch
          if (kind === '!' || kind === '=') {
            walkToEnd(kind, reader)
          } else if (kind === '<' && (reader.peek()?.ch === '=' || reader.peek()?.ch === '!')) {
            walkToEnd(kind, reader)
          } else if (kind === ':') {
            nonCapturing.push(result.length)
          } else if (kind === '<') {
            const name = readName(reader, '>')
            result.push(new Group(name, name))
            walkToEnd('>', reader)
          } else if (kind === 'P') {
            const form = reader.next().ch
            if (form === '<') {
              const name = readName(reader, '>')
              result.push(new Group(name, name))
              walkToEnd('>', reader)
            } else if (form === '=') {
              result.push(new Group(readName(reader, ')'), null))
            } else {
              throw new NonReversible(`Non-reversible reg-exp portion: '(?P${form}'`)
            }
          } else {
            throw new NonReversible(`Non-reversible reg-exp portion: '(?${kind}'`)
          }
        }
      } else if (ch === '*' || ch === '?' || ch === '+' || ch === '{') {
        const [count, next] = getQuantifier(ch, reader)
        pending = next
        const last = result[result.length - 1]
        if (last === undefined) throw new NonReversible('nothing to repeat')
        if (count === 0) {
          if (contains(last, Group)) result[result.length - 1] = new Choice([null, last])
          else result.pop()
        } else if (count > 1) {
          for (let i = 1; i < count; i++) result.push(last)
        }
      } else {
        result.push(ch)
      }
      if (pending !== undefined) {
        token = pending
        pending = undefined
      } else {
        token = reader.next()
      }
    }
  } catch (error) {
    if (error !== END) throw error
  }
  if (nonCapturing.length > 0) throw new NonReversible('unbalanced parenthesis')
  const [templates, params] = flattenResult(result)
  return templates.map((template, i) => ({ template, params: params[i] }))
}

type Template = Form['template']

/** Django's `flatten_result`: every combination of the choices, with their parameters. */
function flattenResult (source: Item | Item[] | null): [Template[], string[][]] {
  if (source === null) return [[[]], [[]]]
  if (source instanceof Group) return [[[{ param: source.name }]], [source.param === null ? [] : [source.param]]]
  const items = source instanceof NonCapture ? source.items : source instanceof Choice ? [source] : typeof source === 'string' ? [source] : source
  let results: Template[] = [[]]
  let args: string[][] = [[]]
  for (const item of items) {
    if (typeof item === 'string') {
      for (const r of results) append(r, item)
      continue
    }
    if (item instanceof Group) {
      for (let i = 0; i < results.length; i++) {
        results[i].push({ param: item.name })
        if (item.param !== null) args[i].push(item.param)
      }
      continue
    }
    const innerResults: Template[] = []
    const innerArgs: string[][] = []
    for (const option of item instanceof NonCapture ? [item] : item.options) {
      const [r, a] = option instanceof NonCapture ? flattenResult(option.items) : flattenResult(option)
      innerResults.push(...r)
      innerArgs.push(...a)
    }
    const nextResults: Template[] = []
    const nextArgs: string[][] = []
    for (let i = 0; i < results.length; i++) {
      for (let j = 0; j < innerResults.length; j++) {
        const combined = results[i].slice()
        for (const part of innerResults[j]) typeof part === 'string' ? append(combined, part) : combined.push(part)
        nextResults.push(combined)
        nextArgs.push([...args[i], ...innerArgs[j]])
      }
    }
    results = nextResults
    args = nextArgs
  }
  return [results, args]
}

function append (template: Template, text: string): void {
  const last = template.length - 1
  if (last >= 0 && typeof template[last] === 'string') template[last] = (template[last] as string) + text
  else template.push(text)
}
