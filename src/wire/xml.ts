/**
 * A small, strict XML reader for provisioning files. It uses saxes (a well-formedness-checking
 * SAX parser) and builds a tree, refusing what a phone must never act on: a DOCTYPE (so no DTD
 * and no entity is ever defined, let alone expanded — only the five predefined entities and
 * character references exist), processing instructions other than the XML declaration, and
 * documents beyond size, depth or element-count limits. Errors name the element path.
 */
import { SaxesParser } from 'saxes';
import { type Result, WireError, err, ok } from './result.ts';

export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  /** Text directly inside this element (child element text excluded), untrimmed. */
  text: string;
  /** Slash-separated path from the root, e.g. `device/sipProfile/sipLines/line[0]`. */
  path: string;
}

export interface XmlLimits {
  maxBytes: number;
  maxDepth: number;
  maxElements: number;
}

export const DEFAULT_XML_LIMITS: XmlLimits = { maxBytes: 2 * 1024 * 1024, maxDepth: 32, maxElements: 20000 };

export function parseXml(input: Uint8Array | string, format: string, limits: XmlLimits = DEFAULT_XML_LIMITS): Result<XmlElement> {
  const size = typeof input === 'string' ? Buffer.byteLength(input) : input.length;
  if (size > limits.maxBytes) return err(new WireError(format, 'oversized', `${size} bytes exceeds ${limits.maxBytes}`));
  let source: string;
  if (typeof input === 'string') source = input;
  else {
    try {
      source = new TextDecoder('utf-8', { fatal: true }).decode(input);
    } catch {
      return err(new WireError(format, 'bad-encoding', 'not valid UTF-8'));
    }
  }
  const parser = new SaxesParser({ position: true });
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  let count = 0;
  let failure: WireError | undefined;
  const here = () => (stack.length ? stack[stack.length - 1]!.path : '/');
  const fail = (code: string, message: string) => {
    failure ??= new WireError(format, code, message, here());
  };

  parser.on('error', (e) => fail('malformed', e.message.replace(/^undefined:/, '').trim()));
  parser.on('doctype', () => fail('doctype', 'DOCTYPE is not allowed (no DTDs, no entity definitions)'));
  parser.on('processinginstruction', (pi) => fail('pi', `processing instruction <?${pi.target}?> is not allowed`));
  parser.on('opentag', (tag) => {
    if (failure) return;
    if (++count > limits.maxElements) return fail('oversized', `more than ${limits.maxElements} elements`);
    if (stack.length >= limits.maxDepth) return fail('oversized', `nesting deeper than ${limits.maxDepth}`);
    const parent = stack[stack.length - 1];
    const index = parent ? parent.children.filter((c) => c.name === tag.name).length : 0;
    const path = parent ? `${parent.path}/${tag.name}${index ? `[${index}]` : ''}` : tag.name;
    const attrs: Record<string, string> = Object.create(null);
    for (const [k, v] of Object.entries(tag.attributes)) attrs[k] = typeof v === 'string' ? v : v.value;
    const el: XmlElement = { name: tag.name, attrs, children: [], text: '', path };
    if (parent) parent.children.push(el);
    else root = el;
    stack.push(el);
  });
  parser.on('closetag', () => {
    stack.pop();
  });
  parser.on('text', (t) => {
    const top = stack[stack.length - 1];
    if (top) top.text += t;
  });
  parser.on('cdata', (t) => {
    const top = stack[stack.length - 1];
    if (top) top.text += t;
  });

  try {
    parser.write(source).close();
  } catch (e) {
    fail('malformed', (e as Error).message);
  }
  if (failure) return err(failure);
  if (!root) return err(new WireError(format, 'empty', 'no root element'));
  return ok(root);
}

// ---- helpers for typed readers -------------------------------------------------------------

export const child = (el: XmlElement, name: string): XmlElement | undefined => el.children.find((c) => c.name === name);
export const children = (el: XmlElement, name: string): XmlElement[] => el.children.filter((c) => c.name === name);
export const textOf = (el: XmlElement | undefined): string | undefined => (el ? el.text.trim() : undefined);

/** Follows a path of child names; undefined as soon as one is missing. */
export function at(el: XmlElement, ...names: string[]): XmlElement | undefined {
  let cur: XmlElement | undefined = el;
  for (const n of names) cur = cur && child(cur, n);
  return cur;
}

// ---- writing -------------------------------------------------------------------------------

export const escapeXml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);

/** A node to write: an element with text or element children. */
export type XmlNode = { name: string; attrs?: Record<string, string | number>; content?: string | number | boolean | XmlNode[] };

export const el = (name: string, content?: XmlNode['content'], attrs?: XmlNode['attrs']): XmlNode => ({ name, content, attrs });

export function writeXml(node: XmlNode, indent = ''): string {
  const attrs = Object.entries(node.attrs ?? {})
    .map(([k, v]) => ` ${k}="${escapeXml(String(v))}"`)
    .join('');
  const c = node.content;
  if (c === undefined || c === '') return `${indent}<${node.name}${attrs}></${node.name}>`;
  if (Array.isArray(c)) {
    const inner = c.map((n) => writeXml(n, indent + '  ')).join('\n');
    return `${indent}<${node.name}${attrs}>\n${inner}\n${indent}</${node.name}>`;
  }
  return `${indent}<${node.name}${attrs}>${escapeXml(String(c))}</${node.name}>`;
}

export const xmlDocument = (root: XmlNode): string => `<?xml version="1.0" encoding="UTF-8"?>\n${writeXml(root)}\n`;
