/**
 * Reading a judge's answer. Structured output (JSON schema) is requested from every provider,
 * and anything that is not exactly `{"decision": "allow"|"deny", "reason": string}` denies:
 * no searching free text for the word "allow" (Claw Patrol did, REFERENCE §4.1), because text
 * that the agent wrote can come back in the answer.
 */
export interface JudgeVerdict {
  decision: 'allow' | 'deny';
  reason: string;
}

export const MAX_REASON_CHARS = 500;

export type ParsedAnswer = { ok: true; verdict: JudgeVerdict } | { ok: false; problem: string };

export function parseJudgeAnswer(content: unknown): ParsedAnswer {
  let value: unknown = content;
  if (typeof content === 'string') {
    const text = content.trim();
    if (!text.startsWith('{')) return { ok: false, problem: 'the answer is not a JSON object' };
    try {
      value = JSON.parse(text);
    } catch {
      return { ok: false, problem: 'the answer is not valid JSON' };
    }
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return { ok: false, problem: 'the answer is not a JSON object' };
  const { decision, reason } = value as { decision?: unknown; reason?: unknown };
  if (decision !== 'allow' && decision !== 'deny') return { ok: false, problem: 'the answer has no decision "allow" or "deny"' };
  if (typeof reason !== 'string') return { ok: false, problem: 'the answer has no reason' };
  const clean = reason.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  return { ok: true, verdict: { decision, reason: clean.length > MAX_REASON_CHARS ? `${clean.slice(0, MAX_REASON_CHARS)}…` : clean } };
}
