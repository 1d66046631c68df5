/** Block labels: `kind "name"` and `kind "type" "name"`, with the naming rule shared by all kinds. */
import type { Diagnostics, Position } from './diagnostics.js';
import type { HclBlock } from './hcl.js';

export const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

export function checkName(value: string, pos: Position, kind: string, diagnostics: Diagnostics): boolean {
  if (NAME.test(value)) return true;
  diagnostics.error(pos, `${kind} name "${value}" must be 1-63 letters, digits, "-", "_" or "." (starting with a letter or digit)`);
  return false;
}

/** For `peer "name" { }`, `profile`, `rule`: the one label, or undefined after a diagnostic. */
export function singleLabelName(block: HclBlock, diagnostics: Diagnostics): string | undefined {
  if (block.labels.length !== 1) {
    diagnostics.error(block.pos, `"${block.type}" block needs exactly one label: ${block.type} "<name>" { }`);
    return undefined;
  }
  const { value, pos } = block.labels[0]!;
  return checkName(value, pos, block.type, diagnostics) ? value : undefined;
}

/** For `endpoint "postgres" "prod-db" { }`: the type and the name, or undefined after a diagnostic. */
export function typedBlockLabels(
  block: HclBlock,
  diagnostics: Diagnostics,
  supported: readonly string[],
  known: Readonly<Record<string, string>> = {},
): { type: string; name: string } | undefined {
  if (block.labels.length !== 2) {
    diagnostics.error(block.pos, `"${block.type}" block needs two labels: ${block.type} "<type>" "<name>" { }`);
    return undefined;
  }
  const [type, name] = block.labels as [{ value: string; pos: Position }, { value: string; pos: Position }];
  if (!supported.includes(type.value)) {
    const why = known[type.value];
    diagnostics.error(
      type.pos,
      why
        ? `${block.type} type "${type.value}" is not supported by Bailiff: ${why}`
        : `unknown ${block.type} type "${type.value}" (supported: ${supported.join(', ')})`,
    );
    return undefined;
  }
  if (!checkName(name.value, name.pos, block.type, diagnostics)) return undefined;
  return { type: type.value, name: name.value };
}

/** Host names and addresses as written in endpoint fields (no scheme, no path). */
const HOST = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,62}))*\.?)$/;

export function isHostPort(text: string, options: { portRequired: boolean; wildcard?: boolean }): boolean {
  let host = text;
  const portMatch = /^(.*):(\d{1,5})$/.exec(text);
  if (portMatch && !(text.split(':').length > 2 && !text.startsWith('['))) {
    if (Number(portMatch[2]) < 1 || Number(portMatch[2]) > 65535) return false;
    host = portMatch[1]!;
  } else if (options.portRequired) {
    return false;
  }
  if (options.wildcard && host.startsWith('*.')) host = host.slice(2);
  return HOST.test(host);
}

/** Record a declaration of `ref`; a second one with the same name is an error pointing at the first. */
export function claimName(
  seen: Map<string, HclBlock>,
  declared: Set<string>,
  ref: string,
  block: HclBlock,
  kind: string,
  diagnostics: Diagnostics,
): boolean {
  const first = seen.get(ref);
  if (first) {
    const at = block.labels[block.labels.length - 1]?.pos ?? block.pos;
    diagnostics.error(at, `${kind} ${ref} is declared twice (first at ${first.pos.file}:${first.pos.line}); names must be unique within a kind`);
    return false;
  }
  seen.set(ref, block);
  declared.add(ref);
  return true;
}
