/**
 * Slack mrkdwn text from untrusted strings (Slack: "Formatting text for app surfaces").
 * `&`, `<` and `>` are the only characters Slack needs escaped; without it an agent's statement
 * could render `<!channel>` (a page to everyone) or a disguised `<https://evil|link>`.
 * Triple backticks are broken up so a statement cannot close its code block early.
 */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

const ZWSP = '\u200b';

/** Escaped text cut to at most `maxChars` after escaping, never inside an entity or a surrogate pair. */
export function escapeTruncated(text: string, maxChars: number): { text: string; truncated: boolean } {
  let out = '';
  let i = 0;
  for (const ch of text) {
    const piece = ch === '&' ? '&amp;' : ch === '<' ? '&lt;' : ch === '>' ? '&gt;' : ch;
    if (out.length + piece.length > maxChars) return { text: out, truncated: true };
    out += piece;
    i += ch.length;
  }
  return { text: out, truncated: i < text.length };
}

/** A fenced code block holding untrusted text, within `maxChars` (Slack's section limit is 3000). */
export function codeBlock(text: string, maxChars: number): string {
  const unfenced = text.replace(/`{3,}/g, (run) => run.split('').join(ZWSP));
  const note = '\n… (truncated)';
  const { text: body, truncated } = escapeTruncated(unfenced, maxChars - 8 - note.length);
  return `\`\`\`${body || ' '}${truncated ? note : ''}\`\`\``;
}

/** Plain text for header blocks (no mrkdwn there, but a length limit of 150). */
export function plainTruncated(text: string, maxChars: number): string {
  const chars = [...text.replace(/\s+/g, ' ')];
  return chars.length <= maxChars ? chars.join('') : `${chars.slice(0, maxChars - 1).join('')}…`;
}

/** `<@U123>` only for ids that look like Slack ids, so a mention can never carry markup. */
export function mention(userId: string): string {
  return /^[A-Z0-9]{2,32}$/.test(userId) ? `<@${userId}>` : `\`${escapeMrkdwn(userId)}\``;
}

/** "A", "A and B", "A, B and C". */
export function joinNames(names: readonly string[]): string {
  if (names.length <= 1) return names.join('');
  return `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
}
