/**
 * HCL native syntax -> a small positioned syntax tree (blocks, attributes, values).
 *
 * tree-sitter gives a concrete syntax tree that keeps source order and positions (rules are
 * ordered; every diagnostic must say file:line:col). This module turns it into plain values and
 * reports every syntax problem at once. It knows nothing of Bailiff's blocks: schema.ts does.
 *
 * Supported expressions: string/number/bool/null literals, heredocs, lists, objects, traversals
 * (`postgres.prod-db`) and function calls (`env("X")`). Template interpolation (`"${x}"`) and
 * operators are refused: a policy file has no variables, and a secret must come from env()/file().
 */
import { createRequire } from 'node:module';
import { Language, Parser, type Node } from 'web-tree-sitter';
import { Diagnostics, type Position } from './diagnostics.js';

export type HclValue =
  | { kind: 'string'; value: string; pos: Position; body?: StringBody }
  | { kind: 'number'; value: number; pos: Position }
  | { kind: 'bool'; value: boolean; pos: Position }
  | { kind: 'null'; pos: Position }
  | { kind: 'list'; items: HclValue[]; pos: Position }
  | { kind: 'object'; entries: HclObjectEntry[]; pos: Position }
  | { kind: 'traversal'; parts: string[]; pos: Position }
  | { kind: 'call'; name: string; args: HclValue[]; pos: Position };

/** Where a string's text sits in the file, so an error inside it (CEL) maps to a file position. */
export interface StringBody {
  /** The raw text as written between the delimiters (heredoc: the lines, indentation kept). */
  raw: string;
  /** Position of raw[0]. */
  start: Position;
}

export interface HclObjectEntry {
  key: string;
  keyPos: Position;
  value: HclValue;
}

export interface HclAttribute {
  name: string;
  pos: Position;
  value: HclValue;
}

export interface HclBlock {
  type: string;
  labels: { value: string; pos: Position }[];
  pos: Position;
  body: HclBody;
}

export interface HclBody {
  attributes: HclAttribute[];
  blocks: HclBlock[];
}

let parserPromise: Promise<Parser> | undefined;

async function loadParser(): Promise<Parser> {
  const require = createRequire(import.meta.url);
  await Parser.init();
  const grammar = require.resolve('@tree-sitter-grammars/tree-sitter-hcl/tree-sitter-hcl.wasm');
  const language = await Language.load(grammar);
  const parser = new Parser();
  parser.setLanguage(language);
  return parser;
}

/** Load the grammar once per process (~15 ms); parsing after that is synchronous. */
export function hclParser(): Promise<Parser> {
  parserPromise ??= loadParser();
  return parserPromise;
}

export async function parseHcl(file: string, text: string, diagnostics: Diagnostics): Promise<HclBody> {
  const parser = await hclParser();
  return parseHclWith(parser, file, text, diagnostics);
}

export function parseHclWith(parser: Parser, file: string, text: string, diagnostics: Diagnostics): HclBody {
  const tree = parser.parse(text);
  if (!tree) {
    diagnostics.error({ file, line: 1, column: 1 }, 'could not parse file');
    return { attributes: [], blocks: [] };
  }
  try {
    const reader = new Reader(file, text, diagnostics);
    const root = tree.rootNode;
    reader.reportSyntaxErrors(root);
    const body = root.namedChildren.find((n) => n?.type === 'body');
    return body ? reader.body(body) : { attributes: [], blocks: [] };
  } finally {
    tree.delete();
  }
}

class Reader {
  readonly #lineStarts: number[] = [0];

  constructor(
    readonly file: string,
    readonly text: string,
    readonly diagnostics: Diagnostics,
  ) {
    for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) this.#lineStarts.push(i + 1);
  }

  /** Position of a UTF-16 offset; columns count characters, 1-based, like editors show them. */
  posAt(index: number): Position {
    let lo = 0;
    let hi = this.#lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.#lineStarts[mid]! <= index) lo = mid;
      else hi = mid - 1;
    }
    return { file: this.file, line: lo + 1, column: index - this.#lineStarts[lo]! + 1 };
  }

  pos(node: Node): Position {
    return this.posAt(node.startIndex);
  }

  reportSyntaxErrors(node: Node): void {
    if (!node.hasError && !node.isMissing) return;
    if (node.isMissing) {
      this.diagnostics.error(this.pos(node), `syntax error: missing ${describeToken(node.type)}`);
      return;
    }
    if (node.type === 'ERROR') {
      const snippet = node.text.split('\n')[0]!.slice(0, 40);
      this.diagnostics.error(this.pos(node), snippet ? `syntax error near ${JSON.stringify(snippet)}` : 'syntax error');
      return;
    }
    for (const child of node.children) if (child) this.reportSyntaxErrors(child);
  }

  body(node: Node): HclBody {
    const out: HclBody = { attributes: [], blocks: [] };
    for (const child of node.namedChildren) {
      if (!child) continue;
      if (child.type === 'attribute') {
        const attribute = this.attribute(child);
        if (attribute) out.attributes.push(attribute);
      } else if (child.type === 'block') {
        const block = this.block(child);
        if (block) out.blocks.push(block);
      }
    }
    return out;
  }

  attribute(node: Node): HclAttribute | undefined {
    const name = node.namedChildren.find((n) => n?.type === 'identifier');
    const expression = node.namedChildren.find((n) => n?.type === 'expression');
    if (!name || !expression || node.hasError) return undefined;
    const value = this.expression(expression);
    return value && { name: name.text, pos: this.pos(name), value };
  }

  block(node: Node): HclBlock | undefined {
    const children = node.namedChildren.filter((n): n is Node => n !== null);
    const type = children.find((n) => n.type === 'identifier');
    if (!type) return undefined;
    const labels: HclBlock['labels'] = [];
    for (const child of children) {
      if (child.type === 'string_lit') {
        const literal = child.namedChildren.find((n) => n?.type === 'template_literal');
        labels.push({ value: literal ? this.unescape(literal.text, this.pos(literal)) : '', pos: this.pos(child) });
      } else if (child.type === 'identifier' && child !== type) {
        labels.push({ value: child.text, pos: this.pos(child) });
      }
    }
    const body = children.find((n) => n.type === 'body');
    return {
      type: type.text,
      labels,
      pos: this.pos(type),
      body: body ? this.body(body) : { attributes: [], blocks: [] },
    };
  }

  expression(node: Node): HclValue | undefined {
    const parts = node.namedChildren.filter((n): n is Node => n !== null);
    const head = parts[0];
    if (!head) return undefined;
    const pos = this.pos(node);
    if (head.type === 'variable_expr') {
      const names = [head.text];
      for (const part of parts.slice(1)) {
        if (part.type !== 'get_attr') {
          this.diagnostics.error(this.pos(part), 'only plain references like `kind.name` are allowed here');
          return undefined;
        }
        const id = part.namedChildren.find((n) => n?.type === 'identifier');
        names.push(id?.text ?? '');
      }
      if (names.length === 1) {
        if (names[0] === 'true' || names[0] === 'false') return { kind: 'bool', value: names[0] === 'true', pos };
        if (names[0] === 'null') return { kind: 'null', pos };
      }
      return { kind: 'traversal', parts: names, pos };
    }
    if (parts.length > 1) {
      this.diagnostics.error(this.pos(parts[1]!), 'unsupported expression: indexes and splats are not allowed');
      return undefined;
    }
    switch (head.type) {
      case 'literal_value':
        return this.literal(head);
      case 'template_expr':
        return this.template(head);
      case 'collection_value':
        return this.collection(head);
      case 'function_call':
        return this.call(head);
      case 'operation': {
        // Only a negative number literal is an operation we accept.
        const unary = head.namedChildren[0];
        const operand = unary?.namedChildren.find((n) => n?.type === 'literal_value');
        if (unary?.type === 'unary_operation' && unary.text.trimStart().startsWith('-') && operand) {
          const inner = this.literal(operand);
          if (inner?.kind === 'number') return { kind: 'number', value: -inner.value, pos };
        }
        this.diagnostics.error(pos, 'operators are not supported in configuration values');
        return undefined;
      }
      default:
        this.diagnostics.error(pos, `unsupported expression (${head.type.replace(/_/g, ' ')})`);
        return undefined;
    }
  }

  literal(node: Node): HclValue | undefined {
    const inner = node.namedChildren[0];
    const pos = this.pos(node);
    if (!inner) return undefined;
    switch (inner.type) {
      case 'numeric_lit': {
        const value = Number(inner.text);
        if (!Number.isFinite(value)) {
          this.diagnostics.error(pos, `invalid number ${JSON.stringify(inner.text)}`);
          return undefined;
        }
        return { kind: 'number', value, pos };
      }
      case 'bool_lit':
        return { kind: 'bool', value: inner.text === 'true', pos };
      case 'null_lit':
        return { kind: 'null', pos };
      case 'string_lit': {
        const literal = inner.namedChildren.find((n) => n?.type === 'template_literal');
        if (!literal) return { kind: 'string', value: '', pos, body: { raw: '', start: this.posAt(inner.startIndex + 1) } };
        const start = this.pos(literal);
        if (literal.text.includes('\n')) return this.unterminated(pos);
        return { kind: 'string', value: this.unescape(literal.text, start), pos, body: { raw: literal.text, start } };
      }
      default:
        this.diagnostics.error(pos, `unsupported literal (${inner.type})`);
        return undefined;
    }
  }

  template(node: Node): HclValue | undefined {
    const inner = node.namedChildren[0];
    const pos = this.pos(node);
    if (!inner) return undefined;
    const interpolation = inner.namedChildren.find((n) => n?.type === 'template_interpolation' || n?.type === 'template_directive');
    if (interpolation) {
      this.diagnostics.error(
        this.pos(interpolation),
        'template interpolation is not supported (a policy has no variables; give secrets with env("NAME") or file("path"))',
      );
      return undefined;
    }
    if (inner.type === 'quoted_template') {
      const literal = inner.namedChildren.find((n) => n?.type === 'template_literal');
      const start = literal ? this.pos(literal) : this.posAt(inner.startIndex + 1);
      const raw = literal?.text ?? '';
      if (raw.includes('\n')) return this.unterminated(pos);
      return { kind: 'string', value: this.unescape(raw, start), pos, body: { raw, start } };
    }
    if (inner.type === 'heredoc_template') return this.heredoc(inner, pos);
    this.diagnostics.error(pos, `unsupported template (${inner.type})`);
    return undefined;
  }

  /** A quoted string cannot span lines in HCL; the grammar ran on to the next quote instead. */
  unterminated(pos: Position): undefined {
    this.diagnostics.error(pos, 'unterminated string: a quoted string must end on its line (use a heredoc like <<-EOT for several lines)');
    return undefined;
  }

  heredoc(node: Node, pos: Position): HclValue {
    const opener = node.namedChildren.find((n) => n?.type === 'heredoc_start');
    const strip = opener?.text.startsWith('<<-') ?? false;
    const identifiers = node.namedChildren.filter((n) => n?.type === 'heredoc_identifier');
    const closing = identifiers[identifiers.length - 1];
    // The body is every full line after the opener's line, up to the closing identifier's line.
    const openerLine = this.pos(opener ?? node).line;
    const closingLine = closing ? this.pos(closing).line : openerLine + 1;
    const bodyStart = this.#lineStarts[openerLine] ?? this.text.length;
    const bodyEnd = this.#lineStarts[closingLine - 1] ?? this.text.length;
    const raw = this.text.slice(bodyStart, bodyEnd);
    let lines = raw.split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    if (strip) {
      const indents = lines.filter((l) => l.trim() !== '').map((l) => l.length - l.trimStart().length);
      const common = indents.length ? Math.min(...indents) : 0;
      lines = lines.map((l) => l.slice(Math.min(common, l.length - l.trimStart().length)));
    }
    const value = lines.length ? `${lines.join('\n')}\n` : '';
    return { kind: 'string', value, pos, body: { raw, start: this.posAt(bodyStart) } };
  }

  collection(node: Node): HclValue | undefined {
    const inner = node.namedChildren[0];
    const pos = this.pos(node);
    if (!inner) return undefined;
    if (inner.type === 'tuple') {
      const items: HclValue[] = [];
      for (const child of inner.namedChildren) {
        if (child?.type !== 'expression') continue;
        const value = this.expression(child);
        if (value) items.push(value);
      }
      return { kind: 'list', items, pos };
    }
    if (inner.type === 'object') {
      const entries: HclObjectEntry[] = [];
      for (const elem of inner.namedChildren) {
        if (elem?.type !== 'object_elem') continue;
        const keyNode = elem.childForFieldName('key');
        const valNode = elem.childForFieldName('val');
        if (!keyNode || !valNode) continue;
        const key = this.expression(keyNode);
        const value = this.expression(valNode);
        if (!key || !value) continue;
        let keyText: string | undefined;
        if (key.kind === 'string') keyText = key.value;
        else if (key.kind === 'traversal' && key.parts.length === 1) keyText = key.parts[0];
        if (keyText === undefined) {
          this.diagnostics.error(key.pos, 'object keys must be names or strings');
          continue;
        }
        entries.push({ key: keyText, keyPos: key.pos, value });
      }
      return { kind: 'object', entries, pos };
    }
    this.diagnostics.error(pos, `unsupported collection (${inner.type})`);
    return undefined;
  }

  call(node: Node): HclValue | undefined {
    const name = node.namedChildren.find((n) => n?.type === 'identifier');
    const argsNode = node.namedChildren.find((n) => n?.type === 'function_arguments');
    const args: HclValue[] = [];
    for (const child of argsNode?.namedChildren ?? []) {
      if (child?.type === 'expression') {
        const value = this.expression(child);
        if (value) args.push(value);
      } else if (child?.type === 'ellipsis') {
        this.diagnostics.error(this.pos(child), 'argument expansion (...) is not supported');
      }
    }
    return { kind: 'call', name: name?.text ?? '', args, pos: this.pos(node) };
  }

  /** HCL string escapes: \n \r \t \" \\ \uNNNN \UNNNNNNNN, and $${ / %%{ for literal ${ / %{. */
  unescape(raw: string, start: Position): string {
    let out = '';
    for (let i = 0; i < raw.length; i++) {
      const c = raw[i]!;
      if (c === '$' || c === '%') {
        if (raw[i + 1] === c && raw[i + 2] === '{') {
          out += `${c}{`;
          i += 2;
          continue;
        }
        out += c;
        continue;
      }
      if (c !== '\\') {
        out += c;
        continue;
      }
      const next = raw[i + 1];
      const at = { ...start, column: start.column + i };
      switch (next) {
        case 'n': out += '\n'; i++; break;
        case 'r': out += '\r'; i++; break;
        case 't': out += '\t'; i++; break;
        case '"': out += '"'; i++; break;
        case '\\': out += '\\'; i++; break;
        case 'u':
        case 'U': {
          const width = next === 'u' ? 4 : 8;
          const hex = raw.slice(i + 2, i + 2 + width);
          const code = /^[0-9a-fA-F]+$/.test(hex) && hex.length === width ? parseInt(hex, 16) : NaN;
          if (Number.isNaN(code) || code > 0x10ffff) {
            this.diagnostics.error(at, `invalid escape \\${next}${hex}`);
          } else {
            out += String.fromCodePoint(code);
          }
          i += 1 + width;
          break;
        }
        default:
          this.diagnostics.error(at, `invalid escape \\${next ?? ''}`);
          i++;
      }
    }
    return out;
  }
}

function describeToken(type: string): string {
  const names: Record<string, string> = {
    quoted_template_end: 'closing quote',
    block_end: '}',
    '}': '}',
    ']': ']',
    ')': ')',
    identifier: 'a name or value',
    tuple_end: ']',
    object_end: '}',
  };
  return names[type] ?? JSON.stringify(type);
}
