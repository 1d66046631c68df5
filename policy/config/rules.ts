/**
 * `rule "<name>"` blocks (POLICY.md "rule"): endpoint(s) of one family, a CEL condition compiled
 * here at load (errors mapped into the file, heredocs included), exactly one of verdict/approve.
 */
import { compileCondition } from '../rules/compile.js';
import { BodyReader, type Reference } from './body-reader.js';
import type { Diagnostics } from './diagnostics.js';
import type { HclBlock } from './hcl.js';
import type { Family, RuleDecl } from './model.js';
import { singleLabelName } from './names.js';
import { ENDPOINT_FAMILY, ENDPOINT_TYPES } from './endpoints.js';
import { CREDENTIAL_TYPES } from './credentials.js';
import { APPROVER_TYPES } from './approvers.js';

export interface PendingRule {
  decl: RuleDecl;
  endpointRefs: Reference[];
  credentialRef?: Reference;
  approverRefs: Reference[];
}

export function decodeRules(blocks: HclBlock[], diagnostics: Diagnostics): PendingRule[] {
  const out: PendingRule[] = [];
  const seen = new Map<string, HclBlock>();
  let order = 0;
  for (const block of blocks) {
    order++;
    const name = singleLabelName(block, diagnostics);
    if (name === undefined) continue;
    const label = block.labels[0]!;
    const first = seen.get(name);
    if (first) {
      diagnostics.error(label.pos, `rule "${name}" is declared twice (first at ${first.pos.file}:${first.pos.line}); names must be unique within a kind`);
      continue;
    }
    seen.set(name, block);
    const what = `rule "${name}"`;
    const r = new BodyReader(block.body, diagnostics, what, block.pos);
    const single = r.reference('endpoint', ENDPOINT_TYPES);
    const many = r.referenceList('endpoints', ENDPOINT_TYPES);
    if (r.has('endpoint') && r.has('endpoints')) diagnostics.error(block.pos, `${what}: set either "endpoint" or "endpoints", not both`);
    else if (!r.has('endpoint') && !r.has('endpoints')) diagnostics.error(block.pos, `${what}: missing "endpoint" (or "endpoints")`);
    const endpointRefs = single ? [single] : many ?? [];
    if (many && many.length === 0) diagnostics.error(r.attribute('endpoints')!.value.pos, `${what}: "endpoints" must not be empty`);

    const priority = r.integer('priority', { min: -1_000_000, max: 1_000_000 }) ?? 0;
    const credentialRef = r.reference('credential', CREDENTIAL_TYPES);
    const verdictText = r.string('verdict', { oneOf: ['allow', 'deny'] });
    const approverRefs = r.referenceList('approve', APPROVER_TYPES);
    const reason = r.string('reason');
    const disabled = r.bool('disabled') ?? false;
    const conditionAttr = r.stringValue('condition');
    r.finish();

    const hasVerdict = r.has('verdict');
    const hasApprove = r.has('approve');
    if (hasVerdict && hasApprove) diagnostics.error(block.pos, `${what}: set exactly one of "verdict" and "approve", not both`);
    if (!hasVerdict && !hasApprove) diagnostics.error(block.pos, `${what}: set exactly one of "verdict" (allow | deny) and "approve" ([approvers...])`);
    if (approverRefs && approverRefs.length === 0) diagnostics.error(r.attribute('approve')!.value.pos, `${what}: "approve" must name at least one approver`);

    // One family per rule: its condition is type-checked against that family's facts.
    const families = [...new Set(endpointRefs.map((e) => ENDPOINT_FAMILY[e.kind as keyof typeof ENDPOINT_FAMILY]))];
    if (families.length > 1) {
      diagnostics.error(
        (r.attribute('endpoints') ?? r.attribute('endpoint'))!.value.pos,
        `${what}: endpoints mix families (${families.join(', ')}); a rule's facts come from one family, so split it into one rule per family`,
      );
    }
    const family = families[0] as Family | undefined;

    let condition: RuleDecl['condition'];
    if (conditionAttr && family && families.length === 1) {
      const body = conditionAttr.attribute.value.kind === 'string' ? conditionAttr.attribute.value.body : undefined;
      const origin = body
        ? { file: body.start.file, line: body.start.line, column: body.start.column, raw: body.raw }
        : { file: conditionAttr.attribute.pos.file, line: conditionAttr.attribute.pos.line, column: conditionAttr.attribute.pos.column };
      const compiled = compileCondition(family, conditionAttr.value, origin);
      if (compiled.ok) condition = compiled.condition;
      else for (const d of compiled.diagnostics) diagnostics.error(d, d.message, d.code);
    }
    if (!family) continue;
    const decl: RuleDecl = {
      name,
      endpoints: endpointRefs.map((e) => `${e.kind}.${e.name}`),
      family,
      priority,
      order,
      disabled,
      pos: block.pos,
      ...(credentialRef ? { credential: `${credentialRef.kind}.${credentialRef.name}` } : {}),
      ...(condition ? { condition } : {}),
      ...(conditionAttr ? { conditionText: conditionAttr.value } : {}),
      ...(verdictText ? { verdict: verdictText as 'allow' | 'deny' } : {}),
      ...(approverRefs && !hasVerdict ? { approve: approverRefs.map((a) => `${a.kind}.${a.name}`) } : {}),
      ...(reason !== undefined ? { reason } : {}),
    };
    out.push({ decl, endpointRefs, ...(credentialRef ? { credentialRef } : {}), approverRefs: approverRefs ?? [] });
  }
  return out;
}
